/**
 * The inspector's HTTP server: loopback only, a random token in the URL
 * exchanged for an HttpOnly cookie, mutations behind a custom header and an
 * Origin check, a strict Content-Security-Policy, and server-sent events
 * that fire when the watcher sees a commit (subscribed only while a page is
 * open). The page asks for names and ids; it never sends a path or SQL.
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ActionRequest } from "./actions.ts";
import { parseAction } from "./actions.ts";
import { OUTBOX_LIST_STATES, type OutboxListState } from "./outbox-queries.ts";
import { type InspectorQueries, LIST_STATES, type ListState } from "./queries.ts";

/** What the server needs: reads, a way to hear commits, and (unless read-only) writes. */
export interface InspectorSource {
  queries: InspectorQueries;
  /** Runs `fn` in one read transaction (one consistent snapshot). */
  snapshot<T>(fn: () => T): T;
  /** Calls `fn` after every commit to the file; returns an unsubscribe function. */
  subscribe(fn: () => void): () => void;
  /** null in read-only mode. */
  act: ((a: ActionRequest) => { message: string; id?: number }) | null;
  /** A short label for the page (the file's name, never its path). */
  label: string;
}

export interface ServeOptions {
  /** Port on 127.0.0.1 (default 0: a free one). */
  port?: number;
  /** The token; default 32 random bytes. */
  token?: string;
}

export interface InspectorServer {
  /** The URL to open, with the token. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const PAGE_FILES: Record<string, string> = {
  "/": "index.html",
  "/index.html": "index.html",
  "/app.js": "app.js",
  "/style.css": "style.css",
  "/outbox.js": "outbox.js",
};

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
};

export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
  "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; " +
  "form-action 'none'; frame-ancestors 'none'";

/** The page bundle: beside this module (source tree) or in the package's src/inspector/page. */
function pageDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [join(here, "page"), resolve(here, "..", "..", "src", "inspector", "page")];
  const found = candidates.find((d) => existsSync(join(d, "index.html")));
  if (!found)
    throw new Error(`honker inspector: page bundle not found in ${candidates.join(", ")}`);
  return found;
}

function loadPage(): Map<string, Buffer> {
  const dir = pageDir();
  const files = new Map<string, Buffer>();
  for (const name of new Set(Object.values(PAGE_FILES))) {
    files.set(name, readFileSync(join(dir, name)));
  }
  return files;
}

function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookies(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

function headers(res: ServerResponse, type: string): void {
  res.setHeader("Content-Type", type);
  res.setHeader("Content-Security-Policy", CSP);
  res.setHeader("X-Content-Type-Options", "nosniff");
  res.setHeader("X-Frame-Options", "DENY");
  res.setHeader("Referrer-Policy", "no-referrer");
  res.setHeader("Cross-Origin-Resource-Policy", "same-origin");
  res.setHeader("Cache-Control", "no-store");
}

function send(res: ServerResponse, status: number, body: unknown): void {
  headers(res, "application/json; charset=utf-8");
  res.statusCode = status;
  res.end(JSON.stringify(body));
}

function fail(res: ServerResponse, status: number, error: string): void {
  send(res, status, { error });
}

async function readBody(req: IncomingMessage, max = 1024 * 1024): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw Object.assign(new Error("body too large"), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function intParam(v: string | null, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (v === null || v === "") return fallback;
  const n = Number(v);
  return Number.isSafeInteger(n) && n >= 0 && n <= max ? n : Number.NaN;
}

/** Starts the server for `source` on 127.0.0.1. */
export async function serveInspector(
  source: InspectorSource,
  options: ServeOptions = {},
): Promise<InspectorServer> {
  const token = options.token ?? randomBytes(32).toString("base64url");
  const page = loadPage();
  const sse = new Set<ServerResponse>();
  let unsubscribe: (() => void) | null = null;
  let pushTimer: NodeJS.Timeout | null = null;
  let version = 0;
  let port = 0;
  let cookieName = "honker_inspector";

  const push = () => {
    pushTimer = null;
    version++;
    for (const res of sse) res.write(`event: change\ndata: ${version}\n\n`);
  };
  const onCommit = () => {
    // Coalesce bursts of commits: at most one push per 200 ms.
    if (!pushTimer) pushTimer = setTimeout(push, 200);
  };
  const dropClient = (res: ServerResponse) => {
    sse.delete(res);
    if (sse.size === 0 && unsubscribe) {
      unsubscribe();
      unsubscribe = null;
      if (pushTimer) clearTimeout(pushTimer);
      pushTimer = null;
    }
  };

  const allowedHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`]);
  const allowedOrigins = () => new Set([`http://127.0.0.1:${port}`, `http://localhost:${port}`]);

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // DNS rebinding: a page of another site resolving its name to 127.0.0.1
    // sends its own Host header.
    if (!allowedHosts().has(req.headers.host ?? "")) return fail(res, 421, "wrong host");
    const url = new URL(req.url ?? "/", `http://127.0.0.1:${port}`);
    const given = url.searchParams.get("token");
    if (given !== null && req.method === "GET" && url.pathname === "/") {
      if (!sameToken(given, token)) return fail(res, 401, "wrong token");
      res.statusCode = 303;
      res.setHeader(
        "Set-Cookie",
        `${cookieName}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=86400`,
      );
      res.setHeader("Location", "/");
      res.setHeader("Cache-Control", "no-store");
      res.setHeader("Referrer-Policy", "no-referrer");
      res.end();
      return;
    }
    const bearer = req.headers.authorization?.replace(/^Bearer /, "");
    const presented = cookies(req).get(cookieName) ?? bearer;
    if (presented === undefined || !sameToken(presented, token)) {
      return fail(
        res,
        401,
        "no token: open the URL that `honker-electron inspect` printed (it carries the token)",
      );
    }

    const file = PAGE_FILES[url.pathname];
    if (file && req.method === "GET") {
      headers(res, TYPES[file.split(".").pop() ?? ""] ?? "application/octet-stream");
      res.end(page.get(file));
      return;
    }

    if (req.method === "POST") {
      if (url.pathname !== "/api/action") return fail(res, 404, "not found");
      const origin = req.headers.origin;
      if (origin !== undefined && !allowedOrigins().has(origin)) {
        return fail(res, 403, "cross-origin request refused");
      }
      if (req.headers["x-honker-inspector"] !== "1") {
        return fail(res, 403, "missing the X-Honker-Inspector header");
      }
      if (!(req.headers["content-type"] ?? "").startsWith("application/json")) {
        return fail(res, 415, "the body must be application/json");
      }
      if (source.act === null) {
        return fail(
          res,
          403,
          "read-only: this inspector opened the database read-only, so actions are disabled",
        );
      }
      let body: unknown;
      try {
        body = JSON.parse(await readBody(req));
      } catch {
        return fail(res, 400, "the body is not JSON");
      }
      try {
        const action = parseAction(body);
        return send(res, 200, source.act(action));
      } catch (err) {
        const e = err as { code?: string; message?: string };
        const status =
          e.code === "HONKER_INVALID_ARGUMENT" ? 400 : e.code === "HONKER_NOT_FOUND" ? 404 : 500;
        return fail(res, status, e.message ?? String(err));
      }
    }
    if (req.method !== "GET") return fail(res, 405, "method not allowed");

    const q = url.searchParams;
    switch (url.pathname) {
      case "/api/info":
        return send(res, 200, { label: source.label, readOnly: source.act === null });
      case "/api/overview":
        return send(
          res,
          200,
          source.snapshot(() => source.queries.overview()),
        );
      case "/api/queue": {
        const name = q.get("name") ?? "";
        const state = (q.get("state") ?? "pending") as ListState;
        const pageNo = intParam(q.get("page"), 0, 1_000_000);
        const text = q.get("q") || null;
        if (!name || name.length > 256) return fail(res, 400, "name is required");
        if (!LIST_STATES.includes(state)) return fail(res, 400, "unknown state");
        if (Number.isNaN(pageNo)) return fail(res, 400, "bad page");
        if (text !== null && text.length > 1000) return fail(res, 400, "filter too long");
        return send(
          res,
          200,
          source.snapshot(() => ({
            overview: source.queries.queue(name),
            finished: source.queries.historyCounts(name),
            list: source.queries.jobs(name, state, pageNo, text),
          })),
        );
      }
      case "/api/job": {
        const id = intParam(q.get("id"), Number.NaN);
        if (!(id >= 1)) return fail(res, 400, "id must be a positive integer");
        const job = source.snapshot(() => source.queries.job(id));
        return job === null
          ? fail(res, 404, `nothing is known about job ${id}`)
          : send(res, 200, job);
      }
      case "/api/stream": {
        const name = q.get("name") ?? "";
        const fromText = q.get("from");
        const from = fromText === null || fromText === "" ? null : intParam(fromText, 0);
        const limit = intParam(q.get("limit"), 100, 1000);
        if (!name || name.length > 256) return fail(res, 400, "name is required");
        if (Number.isNaN(from) || Number.isNaN(limit)) return fail(res, 400, "bad offset or limit");
        return send(
          res,
          200,
          source.snapshot(() => ({
            stream: source.queries.stream(name),
            events: source.queries.streamEvents(name, from, limit),
          })),
        );
      }
      case "/api/outbox": {
        const name = q.get("name") ?? "";
        const state = (q.get("state") ?? "waiting") as OutboxListState;
        const pageNo = intParam(q.get("page"), 0, 1_000_000);
        if (!name || name.length > 256) return fail(res, 400, "name is required");
        if (!OUTBOX_LIST_STATES.includes(state)) return fail(res, 400, "unknown state");
        if (Number.isNaN(pageNo)) return fail(res, 400, "bad page");
        return send(
          res,
          200,
          source.snapshot(() => {
            const outboxes = source.queries.outboxes;
            const now = source.queries.now();
            return {
              now,
              overview: outboxes.available() ? outboxes.outbox(name, now) : null,
              list: outboxes.messages(name, state, pageNo),
            };
          }),
        );
      }
      case "/api/events": {
        res.writeHead(200, {
          "Content-Type": "text/event-stream",
          "Cache-Control": "no-store",
          "X-Content-Type-Options": "nosniff",
          Connection: "keep-alive",
        });
        res.write(": hello\n\n");
        sse.add(res);
        if (!unsubscribe) unsubscribe = source.subscribe(onCommit);
        req.on("close", () => dropClient(res));
        return;
      }
      default:
        return fail(res, 404, "not found");
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const e = err as { status?: number; message?: string };
      if (!res.headersSent) fail(res, e.status ?? 500, e.message ?? String(err));
      else res.end();
    });
  });
  await new Promise<void>((resolvePromise, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolvePromise();
    });
  });
  port = (server.address() as AddressInfo).port;
  // Cookies are not scoped by port: one name per port keeps two inspectors apart.
  cookieName = `honker_inspector_${port}`;
  const url = `http://127.0.0.1:${port}/?token=${token}`;
  let closing: Promise<void> | null = null;
  return {
    url,
    port,
    close() {
      if (!closing) {
        closing = new Promise<void>((done) => {
          for (const res of [...sse]) {
            res.end();
            dropClient(res);
          }
          server.close(() => done());
          server.closeAllConnections();
        });
      }
      return closing;
    },
  };
}
