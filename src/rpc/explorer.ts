/**
 * The explorer (docs/explorer.md): a page every node serves at `GET /explorer`, which watches the log live in the
 * visitor's browser and verifies what it shows with the SDK. Two static files: the page (src/explorer/index.html,
 * markup and style) and its script, `GET /explorer.js`, bundled from src/explorer/main.ts for browsers (the SDK
 * with the pure-JavaScript crypto) by esbuild inside the node, once, on the first request, and then kept in memory:
 * so what a node serves is always built from the code it runs, and no build step or committed bundle can go stale.
 * That is why esbuild is a runtime dependency. `GET /` sends a browser (one that asks for HTML) to the page;
 * anything else at `/` keeps the JSON-RPC answers of server.ts.
 */
import { readFileSync } from 'node:fs';
import type http from 'node:http';
import { fileURLToPath } from 'node:url';
import { errorResponse } from './dispatcher.ts';

type GetRoute = (req: http.IncomingMessage, res: http.ServerResponse) => void;

const PAGE_FILE = fileURLToPath(new URL('../explorer/index.html', import.meta.url));
const SCRIPT_ENTRY = fileURLToPath(new URL('../explorer/main.ts', import.meta.url));

/** The bundle, built once per process (every node in a process shares it), or the build's failure. */
let script: Promise<string> | undefined;

function buildScript(): Promise<string> {
  // The one browser bundler of the project (it refuses any Node-only import); loaded only when a page is asked for.
  script ??= import('../../scripts/browser-bundle.ts').then(({ bundleForBrowser }) => bundleForBrowser(SCRIPT_ENTRY)).then((b) => b.code);
  return script;
}

function send(res: http.ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-cache' });
  res.end(body);
}

/** The GET routes of the explorer: the page, its script, and the redirect of `/` for browsers. */
export function explorerRoutes(): Record<'/' | '/explorer' | '/explorer.js', GetRoute> {
  let page: string | undefined;
  return {
    '/': (req, res) => {
      if ((req.headers.accept ?? '').includes('text/html')) return res.writeHead(302, { location: '/explorer', 'content-length': 0 }).end();
      const body = errorResponse(null, { code: -32600, message: 'use HTTP POST for JSON-RPC; the explorer is GET /explorer' });
      res.writeHead(405, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), allow: 'POST' }).end(body);
    },
    '/explorer': (_req, res) => send(res, 200, 'text/html; charset=utf-8', (page ??= readFileSync(PAGE_FILE, 'utf8'))),
    '/explorer.js': (_req, res) => {
      buildScript().then(
        (code) => send(res, 200, 'text/javascript; charset=utf-8', code),
        (e: unknown) => send(res, 500, 'application/json', errorResponse(null, { code: -32603, message: `the explorer's script could not be built: ${(e as Error)?.message ?? String(e)}` })),
      );
    },
  };
}
