/**
 * The explorer's few DOM helpers (plain DOM, no framework): building elements, formatting hashes and ages, and the
 * red banner that says what did not verify.
 */

import { InvalidArgumentError } from '../core/errors.ts';

/**
 * The part of the DOM the explorer uses, typed here: the project type-checks for Node (tsconfig has no "dom" lib,
 * whose fetch types clash with Node's), and only these files run in a page.
 */
export interface Elem {
  id: string;
  className: string;
  textContent: string | null;
  value: string;
  readonly classList: { add(name: string): void; contains(name: string): boolean };
  readonly children: { readonly length: number };
  readonly lastElementChild: Elem | null;
  setAttribute(name: string, value: string): void;
  append(...nodes: (Elem | string)[]): void;
  prepend(...nodes: (Elem | string)[]): void;
  replaceChildren(...nodes: (Elem | string)[]): void;
  remove(): void;
  querySelector(selectors: string): Elem | null;
  addEventListener(type: string, listener: (event: { preventDefault(): void }) => void): void;
}
declare const document: { createElement(tag: string): Elem; getElementById(id: string): Elem | null };

type Child = Elem | string | number | null | undefined;

/** `<tag class=… data-…>children</tag>`. */
export function el(tag: string, attrs: Record<string, string> = {}, ...children: Child[]): Elem {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) if (c !== null && c !== undefined) node.append(typeof c === 'number' ? String(c) : c);
  return node;
}

export function byId(id: string): Elem {
  const node = document.getElementById(id);
  // The ids are the page's own (index.html): a missing one is a bug of the page, not of the log.
  if (!node) throw new InvalidArgumentError(`the page has no #${id}`);
  return node;
}

export function setText(id: string, text: string): void {
  const node = byId(id);
  if (node.textContent !== text) node.textContent = text;
}

/** 0x1234…abcd */
export function shortHex(hex: string, keep = 6): string {
  return hex.length <= 2 + 2 * keep ? hex : `${hex.slice(0, 2 + keep)}…${hex.slice(-keep)}`;
}

/** "850 ms", "12 s", "3 min", "2 h" */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min`;
  return `${Math.floor(ms / 3_600_000)} h`;
}

/** Adds `what` to the red banner of things that did not verify, with the error's name and message; it stays until the page reloads. */
export function showNotVerified(what: string, error: unknown): void {
  const banner = byId('banner');
  const e = error as { name?: string; message?: string };
  if (!banner.classList.contains('shown')) banner.append('Not verified (a node served something that does not check):');
  banner.append(el('span', { class: 'detail' }, `${what}: ${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`));
  banner.classList.add('shown');
}
