/**
 * Summarises V8 .cpuprofile files (node --cpu-prof): where each process spent its CPU, by function and by
 * category (hashing, signature recovery, JSON/hex, LevelDB, libp2p/noise, GC, ...).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

interface CallFrame { functionName: string; url: string; lineNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

/** `category`: the category most of this function's self time was attributed to (callers differ: e.g. writev from HTTP or libp2p). */
export interface HotFunction { fn: string; selfMs: number; percent: number; category: string }
export interface CategoryTime { category: string; selfMs: number; percent: number }
export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  /** Self time by function (top N), % of busy time. */
  functions: HotFunction[];
  /** Self time by category, % of busy time; a sample is attributed to the category of its innermost categorised frame. */
  categories: CategoryTime[];
}

/**
 * Categories, tried in order on a frame (function name + url). A sample's category is that of its own frame if
 * it matches one, else of the nearest caller that does (so a native call or a `Uint8Array` copy made by the
 * Noise code counts as libp2p/noise). Unmatched samples are `other JS` / `node internals` / `(program)`.
 */
const CATEGORIES: readonly [string, (fn: string, url: string) => boolean][] = [
  ['GC', (fn) => fn === '(garbage collector)'],
  ['signature recovery', (fn, url) => /secp256k1|@noble\/curves|\/signature\.ts|recoverAddress|ecdsaRecover|recover$/i.test(url + ' ' + fn)],
  ['hashing', (fn, url) => /@noble\/hashes|\/keccak\/|hashtree|\/core\/hash\.ts|\/core\/merkle\.ts|\/core\/entry\.ts|\/crypto\/(native|noble)\.ts|\beip712\.ts|sha256|keccak/i.test(url + ' ' + fn)],
  ['LevelDB', (_fn, url) => /classic-level|abstract-level|level-transcoder|module-error|\/store\//.test(url)],
  ['libp2p/noise/gossipsub', (_fn, url) => /@libp2p|@chainsafe\/libp2p|libp2p\/|gossipsub|yamux|noise|it-[a-z-]+\/|uint8arraylist|protons|@multiformats|multiformats|\/p2p\//.test(url)],
  ['JSON/hex (RPC, wire)', (fn, url) => /\/rpc\/|\/wire\/|\/core\/bytes\.ts/.test(url) || /^(parse|stringify)$|JSON/.test(fn) && !url],
  ['HTTP server (node:http)', (_fn, url) => /^node:(_http|http|internal\/http)/.test(url)],
];

/** Socket and stream internals not under a categorised caller (callbacks run from the event loop): HTTP or libp2p TCP. */
const SOCKETS = 'sockets/streams (node:net; HTTP or libp2p)';
const isSocket = (cf: CallFrame) => /^node:(net|stream|internal\/streams|internal\/stream_base_commons)/.test(cf.url) || /^(writev|writeBuffer|writeUtf8String|writeLatin1String|onStreamRead)$/.test(cf.functionName);

function categoryOf(cf: CallFrame): string | undefined {
  for (const [name, test] of CATEGORIES) if (test(cf.functionName, cf.url)) return name;
  return undefined;
}

/** Top functions by self time and self time by category; `(idle)` is left out of the percentages, which are of the busy time. */
export function summariseProfile(file: string, top = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Category per node: own frame, else nearest categorised caller (memoised).
  const catMemo = new Map<number, string>();
  const catFor = (id: number): string => {
    const hit = catMemo.get(id);
    if (hit) return hit;
    const n = byId.get(id)!;
    const cf = n.callFrame;
    let c = categoryOf(cf);
    if (!c) {
      const up = parent.get(id);
      const inherited = up !== undefined && byId.get(up)!.callFrame.functionName !== '(root)' ? catFor(up) : undefined;
      c = inherited && !inherited.startsWith('(') && inherited !== 'other JS' && inherited !== 'node internals' ? inherited
        : isSocket(cf) ? SOCKETS
        : cf.functionName === '(program)' ? '(program)'
          : cf.url.startsWith('node:') || (!cf.url && cf.functionName) ? 'node internals' : 'other JS';
    }
    catMemo.set(id, c);
    return c;
  };
  const self = new Map<string, { ms: number; cats: Map<string, number> }>();
  const cats = new Map<string, number>();
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
    const cat = catFor(n.id);
    let e = self.get(key);
    if (!e) self.set(key, e = { ms: 0, cats: new Map() });
    e.ms += dt;
    e.cats.set(cat, (e.cats.get(cat) ?? 0) + dt);
    cats.set(cat, (cats.get(cat) ?? 0) + dt);
  }
  const pct = (ms: number) => (busy > 0 ? Math.round((ms / busy) * 1000) / 10 : 0);
  const functions = [...self.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)
    .map(([fn, { ms, cats: c }]) => ({ fn, selfMs: Math.round(ms), percent: pct(ms), category: [...c.entries()].sort((a, b) => b[1] - a[1])[0][0] }));
  const categories = [...cats.entries()].sort((a, b) => b[1] - a[1]).map(([category, ms]) => ({ category, selfMs: Math.round(ms), percent: pct(ms) }));
  return { busyMs: Math.round(busy), idleMs: Math.round(idle), functions, categories };
}

function shortUrl(url: string): string {
  const i = url.indexOf('/node_modules/');
  if (i >= 0) return url.slice(i + 1);
  const s = url.indexOf('/src/');
  if (s >= 0) return url.slice(s + 1);
  return url.startsWith('node:') ? url : basename(url);
}

/** Every .cpuprofile in `dir`, summarised. */
export function summariseProfiles(dir: string, top = 15): Record<string, ProfileSummary> {
  const out: Record<string, ProfileSummary> = {};
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) out[f] = summariseProfile(join(dir, f), top);
  return out;
}

/** Text report: per node, the categories then the top functions. */
export function formatProfiles(profiles: Record<string, ProfileSummary>, topFunctions = 10): string {
  const out: string[] = [];
  for (const [file, p] of Object.entries(profiles)) {
    out.push('', `${file.replace(/\.cpuprofile$/, '')}: busy ${Math.round(p.busyMs).toLocaleString('en-US')} ms, idle ${Math.round(p.idleMs).toLocaleString('en-US')} ms`);
    out.push('  by category (self time, % of busy):');
    for (const c of p.categories) out.push(`    ${c.percent.toFixed(1).padStart(5)}%  ${c.category}`);
    out.push('  top functions (self time):');
    for (const f of p.functions.slice(0, topFunctions)) out.push(`    ${f.percent.toFixed(1).padStart(5)}%  ${f.fn}  [${f.category}]`);
  }
  return out.join('\n') + '\n';
}

// Standalone: node benchmarks/lib/profile.ts DIR [TOP] -- summarise the .cpuprofile files of an earlier run.
if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const dir = process.argv[2];
  if (!dir) { process.stderr.write('usage: node benchmarks/lib/profile.ts PROFILE_DIR [TOP_FUNCTIONS]\n'); process.exit(2); }
  process.stdout.write(formatProfiles(summariseProfiles(dir, 25), Number(process.argv[3] ?? 12)));
}
