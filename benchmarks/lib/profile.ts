/** Summarises V8 .cpuprofile files (node --cpu-prof): where each process spent its CPU, by function. */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export interface HotFunction { fn: string; selfMs: number; percent: number }

/** Top functions by self time; `(idle)` is left out of the percentages, which are of the busy time. */
export function summariseProfile(file: string, top = 15): { busyMs: number; idleMs: number; functions: HotFunction[] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let idle = 0, busy = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]);
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    if (!n) continue;
    const cf = n.callFrame;
    if (cf.functionName === '(idle)') { idle += dt; continue; }
    busy += dt;
    const where = cf.url ? ` ${shortUrl(cf.url)}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'}${where}`;
    self.set(key, (self.get(key) ?? 0) + dt);
  }
  const functions = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([fn, ms]) => ({ fn, selfMs: Math.round(ms), percent: Math.round((ms / busy) * 1000) / 10 }));
  return { busyMs: Math.round(busy), idleMs: Math.round(idle), functions };
}

function shortUrl(url: string): string {
  const i = url.indexOf('/node_modules/');
  if (i >= 0) return url.slice(i + 1);
  const s = url.indexOf('/src/');
  if (s >= 0) return url.slice(s + 1);
  return url.startsWith('node:') ? url : basename(url);
}

/** Every .cpuprofile in `dir`, summarised. */
export function summariseProfiles(dir: string, top = 15): Record<string, ReturnType<typeof summariseProfile>> {
  const out: Record<string, ReturnType<typeof summariseProfile>> = {};
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) out[f] = summariseProfile(join(dir, f), top);
  return out;
}
