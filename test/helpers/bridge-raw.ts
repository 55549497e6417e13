/**
 * A hostile "page" that speaks raw Comlink wire messages on a real
 * MessageChannel, without the client library: what a compromised renderer
 * could send. Also small probes the bridge tests share (honker table
 * counts, Object.prototype snapshots, the watcher's listener count).
 */
import { MessageChannel, type MessagePort } from "node:worker_threads";
import type { Grants, ServeOptions } from "../../src/main/bridge/grants.ts";
import { serveNodePort } from "../../src/main/bridge/node.ts";
import type { BridgeSession } from "../../src/main/bridge/session.ts";
import type { HonkerDatabase } from "../../src/main/database.ts";
import type { Reply } from "../../src/protocol/index.ts";
import { sleep, waitFor } from "./wait.ts";

// biome-ignore lint/suspicious/noExplicitAny: any schema
type AnyDb = HonkerDatabase<any>;

export interface RawReply {
  id: string;
  type: string;
  value: unknown;
}

export interface Handoff {
  subId: number;
  port: MessagePort;
}

export interface RawPage {
  session: BridgeSession;
  /** The page's end of the window port. */
  port: MessagePort;
  /** Posts anything at all on the window port. */
  post(message: unknown, transfer?: readonly MessagePort[]): void;
  /** Posts a message carrying `id` and resolves with the reply of that id. */
  request(message: Record<string, unknown>, timeoutMs?: number): Promise<RawReply>;
  /** A well-formed APPLY of `method` with RAW arguments; resolves with the Reply. */
  call<T = unknown>(method: string, ...args: unknown[]): Promise<Reply<T>>;
  /** Subscription ports main handed over, by subId. */
  handoffs: Map<number, MessagePort>;
  /** Waits for the handoff of `subId`. */
  handoff(subId: number, timeoutMs?: number): Promise<MessagePort>;
  /** Every message that was not a reply we asked for nor a handoff. */
  stray: unknown[];
  close(): void;
}

let counter = 0;
export const nextId = (): string => `raw-${++counter}`;

export function rawPage(db: AnyDb, grants: Grants, options: ServeOptions = {}): RawPage {
  const { port1, port2 } = new MessageChannel();
  const session = serveNodePort(db, port1, grants, options);
  const waiting = new Map<string, (r: RawReply) => void>();
  const handoffs = new Map<number, MessagePort>();
  const handoffWaiters = new Map<number, (p: MessagePort) => void>();
  const stray: unknown[] = [];
  port2.addEventListener("message", (ev) => {
    const e = ev as MessageEvent;
    const d = e.data as Record<string, unknown> | null;
    if (d && typeof d === "object" && d.honker === "subscription-port") {
      const p = e.ports[0] as unknown as MessagePort | undefined;
      const subId = d.subId as number;
      if (!p) {
        stray.push(d);
        return;
      }
      const w = handoffWaiters.get(subId);
      if (w) {
        handoffWaiters.delete(subId);
        w(p);
      } else handoffs.set(subId, p);
      return;
    }
    const id = d && typeof d === "object" ? d.id : undefined;
    const w = typeof id === "string" ? waiting.get(id) : undefined;
    if (w && typeof id === "string") {
      waiting.delete(id);
      w(d as unknown as RawReply);
    } else stray.push(d);
  });
  port2.start();
  const request = (message: Record<string, unknown>, timeoutMs = 10_000): Promise<RawReply> =>
    new Promise<RawReply>((resolve, reject) => {
      const id = message.id as string;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`no reply to ${JSON.stringify(message).slice(0, 200)}`));
      }, timeoutMs);
      waiting.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      try {
        port2.postMessage(message);
      } catch (err) {
        clearTimeout(timer);
        waiting.delete(id);
        reject(err);
      }
    });
  return {
    session,
    port: port2,
    post: (message, transfer) => port2.postMessage(message, transfer as MessagePort[]),
    request,
    async call<T>(method: string, ...args: unknown[]): Promise<Reply<T>> {
      const r = await request({
        id: nextId(),
        type: "APPLY",
        path: [method],
        argumentList: args.map((value) => ({ type: "RAW", value })),
      });
      return r.value as Reply<T>;
    },
    handoffs,
    handoff(subId: number, timeoutMs = 5000): Promise<MessagePort> {
      const p = handoffs.get(subId);
      if (p) {
        handoffs.delete(subId);
        return Promise.resolve(p);
      }
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no port for sub ${subId}`)), timeoutMs);
        handoffWaiters.set(subId, (port) => {
          clearTimeout(timer);
          resolve(port);
        });
      });
    },
    stray,
    close() {
      for (const p of handoffs.values()) p.close();
      handoffs.clear();
      port2.close();
      session.close();
    },
  };
}

/** The error code of a reply, or "ok". */
export function codeOf(reply: Reply<unknown> | undefined): string {
  if (!reply || typeof reply !== "object")
    return reply === undefined ? "no-reply" : `malformed:${String(reply)}`;
  return reply.ok ? "ok" : reply.error.code;
}

/** Row counts of every honker table (and the app's tables, if any). */
export function tableCounts(db: AnyDb): Record<string, number> {
  const names = db.raw
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .pluck()
    .all() as string[];
  const out: Record<string, number> = {};
  for (const n of names) {
    out[n] = db.raw
      .prepare(`SELECT count(*) FROM "${n.replaceAll('"', '""')}"`)
      .pluck()
      .get() as number;
  }
  return out;
}

/** Rows changed through the writer connection so far. */
export function totalChanges(db: AnyDb): number {
  return db.raw.prepare("SELECT total_changes()").pluck().get() as number;
}

/** What Object.prototype (and friends) look like, to prove nothing polluted them. */
export function prototypeSnapshot(): string {
  const protos = [Object.prototype, Array.prototype, Function.prototype, String.prototype];
  return JSON.stringify(protos.map((p) => Reflect.ownKeys(p).map(String).sort()));
}

/** The watcher's live wake-listener count (a private field, read for leak checks). */
export function watcherListeners(db: AnyDb): number {
  return (db.watcher as unknown as { listeners: Set<unknown> }).listeners.size;
}

/** Active resources by type, as process.getActiveResourcesInfo() reports them. */
export function resourceCounts(): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) out[r] = (out[r] ?? 0) + 1;
  return out;
}

/** Polls `predicate` on timers until it holds or `ms` pass (waitFor of ./wait.ts). */
export function eventually(predicate: () => boolean, ms = 5000, what = "condition") {
  return waitFor(predicate, { timeoutMs: ms, what, intervalMs: 5 });
}

export { sleep };
