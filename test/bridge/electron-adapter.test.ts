/**
 * The Electron side of the bridge without Electron: a fake MessageChannelMain
 * (Node MessageChannel underneath, re-emitted in MessagePortMain's shape),
 * fake ipcMain / WebContents / WebFrameMain, the real serveWindow, the real
 * page client, and the real preload logic with an injected `electron`.
 */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { createContext, runInContext } from "node:vm";
import { MessageChannel, type MessagePort } from "node:worker_threads";
import type { IpcMainEvent, WebContents } from "electron";
import {
  type ElectronMain,
  type ServedWindow,
  serveWindow,
} from "../../src/main/bridge/electron.ts";
import type { Grants } from "../../src/main/bridge/grants.ts";
import type { BridgeSession } from "../../src/main/bridge/session.ts";
import {
  installHonkerPreload,
  CONNECT_PORT as P_CONNECT_PORT,
  CONNECT_REQUEST as P_CONNECT_REQUEST,
  IPC_CONNECT as P_IPC_CONNECT,
  IPC_PORT as P_IPC_PORT,
  type PreloadElectron,
  type PreloadWindow,
} from "../../src/preload/index.ts";
import { CONNECT_PORT, CONNECT_REQUEST, IPC_CONNECT, IPC_PORT } from "../../src/protocol/index.ts";
import { connect, type PortLike } from "../../src/renderer-api/index.ts";
import { freshHost, type Host } from "../helpers/host.ts";

// ---------------------------------------------------------------- fakes

/** What travels through the Node port: message data and ports kept apart. */
interface Envelope {
  data: unknown;
  ports: MessagePort[];
}

/** Throws if a port hides inside message data (MessagePortMain cannot clone that). */
function assertNoPortsInData(value: unknown, depth = 0): void {
  if (value === null || typeof value !== "object" || depth > 8) return;
  if (value instanceof FakePortMain || value instanceof DomPort) {
    throw new Error("a port was put inside message data; ports travel in the transfer list only");
  }
  for (const v of Object.values(value)) assertNoPortsInData(v, depth + 1);
}

/**
 * Electron's MessagePortMain as documented: an EventEmitter with
 * 'message' events `{ data, ports }`, queued until start(), and 'close'
 * when the other end goes away.
 */
class FakePortMain extends EventEmitter {
  readonly inner: MessagePort;
  private started = false;
  closed = false;

  constructor(inner: MessagePort) {
    super();
    this.inner = inner;
    inner.on("close", () => {
      this.closed = true;
      this.emit("close");
    });
  }

  postMessage(message: unknown, transfer: FakePortMain[] = []): void {
    assertNoPortsInData(message);
    for (const p of transfer) {
      if (!(p instanceof FakePortMain)) throw new TypeError("transfer must hold MessagePortMain");
    }
    const ports = transfer.map((p) => p.inner);
    this.inner.postMessage({ data: message, ports } satisfies Envelope, ports);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    this.inner.on("message", (env: Envelope) => {
      this.emit("message", { data: env.data, ports: env.ports.map((p) => new FakePortMain(p)) });
    });
  }

  close(): void {
    this.inner.close();
  }
}

class FakeMessageChannelMain {
  readonly port1: FakePortMain;
  readonly port2: FakePortMain;
  constructor() {
    const { port1, port2 } = new MessageChannel();
    this.port1 = new FakePortMain(port1);
    this.port2 = new FakePortMain(port2);
  }
}

/** The same Node port as a renderer sees a DOM MessagePort (EventTarget-like, ev.ports). */
class DomPort implements PortLike {
  readonly inner: MessagePort;
  private readonly wrapped = new Map<unknown, (env: Envelope) => void>();
  constructor(inner: MessagePort) {
    this.inner = inner;
  }
  postMessage(message: unknown, transfer: Transferable[] = []): void {
    assertNoPortsInData(message);
    const ports = (transfer as unknown as DomPort[]).map((p) => p.inner);
    this.inner.postMessage({ data: message, ports } satisfies Envelope, ports);
  }
  addEventListener(
    _type: "message",
    listener: (ev: { data: unknown; ports?: readonly unknown[] }) => void,
  ): void {
    const fn = (env: Envelope) =>
      listener({ data: env.data, ports: env.ports.map((p) => new DomPort(p)) });
    this.wrapped.set(listener, fn);
    this.inner.on("message", fn);
  }
  removeEventListener(_type: "message", listener: unknown): void {
    const fn = this.wrapped.get(listener);
    if (fn) this.inner.off("message", fn);
    this.wrapped.delete(listener);
  }
  start(): void {
    this.inner.start();
  }
  close(): void {
    this.inner.close();
  }
}

/** A port main posted to a frame arrives in the renderer as a DOM MessagePort. */
const toRenderer = (p: unknown): DomPort => new DomPort((p as FakePortMain).inner);

interface Posted {
  channel: string;
  message: unknown;
  transfer: unknown[];
}

class FakeFrame {
  url: string;
  readonly posted: Posted[] = [];
  onPost: ((p: Posted) => void) | null = null;
  constructor(url: string) {
    this.url = url;
  }
  postMessage(channel: string, message: unknown, transfer: unknown[] = []): void {
    const p = { channel, message, transfer };
    this.posted.push(p);
    this.onPost?.(p);
  }
}

class FakeWebContents extends EventEmitter {
  readonly mainFrame: FakeFrame;
  constructor(url: string) {
    super();
    this.mainFrame = new FakeFrame(url);
  }
}

function fakeElectron(): ElectronMain & { ipcMain: EventEmitter } {
  return {
    ipcMain: new EventEmitter(),
    MessageChannelMain: FakeMessageChannelMain as unknown as ElectronMain["MessageChannelMain"],
  };
}

/** What ipcMain delivers when a renderer frame calls ipcRenderer.send(IPC_CONNECT). */
function ipcFrom(
  electron: { ipcMain: EventEmitter },
  contents: FakeWebContents,
  frame: FakeFrame,
): void {
  const event = { sender: contents, senderFrame: frame, ports: [] } as unknown as IpcMainEvent;
  electron.ipcMain.emit(IPC_CONNECT, event);
}

const asContents = (c: FakeWebContents) => c as unknown as WebContents;

async function waitFor(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

// ---------------------------------------------------------------- setup

type Schema = {
  queues: { jobs: { n: number } };
  streams: { activity: { id: number; doubled: number } };
  channels: Record<string, never>;
};

const grants: Grants = {
  queues: { jobs: { enqueue: true, read: true } },
  streams: { activity: { subscribe: true } },
};

let h: Host<import("../../src/main/schema.ts").AnySchema>;
let served: ServedWindow[] = [];
beforeEach(() => {
  h = freshHost();
  served = [];
});
afterEach(async () => {
  for (const s of served) s.close();
  await h.close();
});

function serve(
  contents: FakeWebContents,
  electron: ReturnType<typeof fakeElectron>,
  origins?: string[],
): ServedWindow {
  const s = serveWindow(h.db, asContents(contents), grants, {
    electron,
    ...(origins ? { origins } : {}),
  });
  served.push(s);
  return s;
}

/**
 * Runs the handshake from main's side and returns the page's port, or null.
 * ipcMain delivers synchronously and main answers (or refuses) within that
 * call, so what was posted is final when it returns: no settling wait.
 */
async function handshake(
  electron: ReturnType<typeof fakeElectron>,
  contents: FakeWebContents,
  frame: FakeFrame = contents.mainFrame,
): Promise<DomPort | null> {
  const before = frame.posted.length;
  ipcFrom(electron, contents, frame);
  assert.ok(frame.posted.length <= before + 1, "at most one port per request");
  const p = frame.posted[before];
  if (!p) return null;
  assert.equal(p.channel, IPC_PORT);
  assert.equal(p.message, null);
  assert.equal(p.transfer.length, 1);
  assert.ok(p.transfer[0] instanceof FakePortMain, "the port travels in the transfer list");
  return toRenderer(p.transfer[0]);
}

function only<T>(set: ReadonlySet<T>): T {
  assert.equal(set.size, 1);
  return [...set][0] as T;
}

// ---------------------------------------------------------------- main side

describe("serveWindow over a (fake) MessageChannelMain", () => {
  it("hands the main frame a port; enqueue, result and a live stream work end to end", async () => {
    const electron = fakeElectron();
    const contents = new FakeWebContents("app://main/index.html");
    const win = serve(contents, electron);
    h.db.queue("jobs").work(async (job) => {
      const doubled = (job.payload as { n: number }).n * 2;
      h.db.stream("activity").publish({ id: job.id, doubled });
      return doubled;
    });

    const port = await handshake(electron, contents);
    assert.ok(port, "the main frame got a port");
    const session = only(win.sessions);
    const honker = await connect<Schema>({ port });
    try {
      assert.deepEqual(Object.keys(honker.capabilities.queues), ["jobs"]);
      const sub = honker.stream("activity").subscribe();
      await sub.ready; // the subscription port crossed in a transfer list
      assert.equal(session.subscriptionCount, 1);

      const id = await honker.queue("jobs").enqueue({ n: 21 });
      assert.equal(await honker.queue("jobs").job(id).waitResult(10_000), 42);

      const it = sub[Symbol.asyncIterator]();
      const first = await it.next();
      assert.equal(first.done, false);
      assert.deepEqual(first.value?.payload, { id, doubled: 42 });
      assert.equal(first.value?.topic, "activity");
      await sub.close();
      await waitFor(() => session.subscriptionCount === 0, "the subscription to end in main");
    } finally {
      await honker.close();
    }
    await waitFor(() => session.isClosed, "the session to end when the page port closes");
  });

  it("gives an iframe of the window no port", async () => {
    const electron = fakeElectron();
    const contents = new FakeWebContents("app://main/index.html");
    const win = serve(contents, electron);
    const iframe = new FakeFrame("app://main/index.html");
    assert.equal(await handshake(electron, contents, iframe), null);
    assert.equal(contents.mainFrame.posted.length, 0);
    assert.equal(win.sessions.size, 0);
  });

  it("gives another window's webContents no port", async () => {
    const electron = fakeElectron();
    const served1 = new FakeWebContents("app://main/index.html");
    const other = new FakeWebContents("app://main/index.html");
    const win = serve(served1, electron);
    assert.equal(await handshake(electron, other), null);
    assert.equal(served1.mainFrame.posted.length, 0);
    // Even a frame of the served window, reported as sent by another webContents.
    assert.equal(await handshake(electron, other, served1.mainFrame), null);
    assert.equal(win.sessions.size, 0);
  });

  it("gives a frame at a disallowed origin no port", async () => {
    const electron = fakeElectron();
    const contents = new FakeWebContents("https://evil.example/page.html");
    const win = serve(contents, electron, ["app://main"]);
    assert.equal(await handshake(electron, contents), null);
    assert.equal(win.sessions.size, 0);
    // The same window once it shows the allowed origin is served.
    contents.mainFrame.url = "app://main/index.html";
    const port = await handshake(electron, contents);
    assert.ok(port);
    assert.equal(win.sessions.size, 1);
    port.close();
  });

  it("ends every session of the window when its webContents is destroyed", async () => {
    const electron = fakeElectron();
    const contents = new FakeWebContents("app://main/index.html");
    const win = serve(contents, electron);
    const a = await handshake(electron, contents);
    const b = await handshake(electron, contents);
    assert.ok(a && b);
    const sessions = [...win.sessions];
    assert.equal(sessions.length, 2);
    const honker = await connect<Schema>({ port: a });
    const sub = honker.stream("activity").subscribe();
    await sub.ready;

    contents.emit("destroyed");
    assert.ok(sessions.every((s: BridgeSession) => s.isClosed));
    assert.equal(win.sessions.size, 0);
    assert.equal(electron.ipcMain.listenerCount(IPC_CONNECT), 0, "no listener left behind");
    for (const s of sessions) assert.equal(s.subscriptionCount, 0);
    assert.equal(await handshake(electron, contents), null, "a destroyed window gets no port");
    await sub.close();
    await honker.close();
    b.close();
  });

  it("ends the old session on reload (old port closes) and gives the new page a fresh one", async () => {
    const electron = fakeElectron();
    const contents = new FakeWebContents("app://main/index.html");
    const win = serve(contents, electron);
    const oldPort = await handshake(electron, contents);
    assert.ok(oldPort);
    const oldSession = only(win.sessions);
    const oldPage = await connect<Schema>({ port: oldPort });
    const oldSub = oldPage.stream("activity").subscribe();
    await oldSub.ready;
    assert.equal(oldSession.subscriptionCount, 1);

    // The renderer navigates away: its end of the port goes, nothing else is said.
    oldPort.close();
    await waitFor(() => oldSession.isClosed, "the old session to end");
    assert.equal(oldSession.subscriptionCount, 0);
    assert.equal(win.sessions.size, 0);

    const newPort = await handshake(electron, contents);
    assert.ok(newPort);
    const newSession = only(win.sessions);
    assert.notEqual(newSession, oldSession);
    const page = await connect<Schema>({ port: newPort });
    const id = await page.queue("jobs").enqueue({ n: 1 });
    assert.equal(typeof id, "number");
    await page.close();
    await waitFor(() => newSession.isClosed, "the new session to end when its port closes");
  });
  it("bounds a window that keeps asking for ports: at most 4 sessions, sharing one budget", async () => {
    const electron = fakeElectron();
    const contents = new FakeWebContents("app://main/index.html");
    const win = serveWindow(h.db, asContents(contents), grants, { electron, maxSubscriptions: 2 });
    served.push(win);
    const ports: DomPort[] = [];
    const all: BridgeSession[] = [];
    for (let i = 0; i < 6; i++) {
      const port = await handshake(electron, contents);
      assert.ok(port);
      ports.push(port);
      all.push(...[...win.sessions].filter((s) => !all.includes(s)));
    }
    assert.equal(win.sessions.size, 4, "the two oldest sessions were ended");
    assert.deepEqual(
      all.map((s) => s.isClosed),
      [true, true, false, false, false, false],
    );
    const [first, ...rest] = [...win.sessions];
    assert.ok(first && rest.every((s) => s.budget === first.budget), "one budget per window");
    const a = await connect<Schema>({ port: ports[5] as DomPort });
    const b = await connect<Schema>({ port: ports[4] as DomPort });
    try {
      const subs = [a.stream("activity").subscribe(), a.stream("activity").subscribe()];
      await Promise.all(subs.map((s) => s.ready));
      // Another session of the same window counts against the same maxSubscriptions.
      const third = b.stream("activity").subscribe();
      await assert.rejects(
        third.ready,
        (err: { code?: string }) => err.code === "HONKER_RATE_LIMITED",
      );
    } finally {
      await a.close();
      await b.close();
      for (const p of ports.slice(0, 4)) p.close();
    }
  });
});

// ---------------------------------------------------------------- preload

describe("the preload", () => {
  it("carries the same handshake constants as the protocol", () => {
    assert.equal(P_CONNECT_REQUEST, CONNECT_REQUEST);
    assert.equal(P_CONNECT_PORT, CONNECT_PORT);
    assert.equal(P_IPC_CONNECT, IPC_CONNECT);
    assert.equal(P_IPC_PORT, IPC_PORT);
  });

  interface Delivered {
    message: unknown;
    targetOrigin: string;
    transfer: unknown[];
  }

  function fakeRenderer(origin = "app://main") {
    const sent: string[] = [];
    let onPort: ((event: { ports: readonly unknown[] }) => void) | null = null;
    let portListeners = 0;
    const electron: PreloadElectron = {
      ipcRenderer: {
        send: (channel: string) => {
          sent.push(channel);
        },
        on: (channel: string, fn: (event: { ports: readonly unknown[] }) => void) => {
          assert.equal(channel, IPC_PORT);
          portListeners++;
          onPort = fn;
        },
      },
    };
    const listeners: ((ev: MessageEvent) => void)[] = [];
    const delivered: Delivered[] = [];
    const win: PreloadWindow = {
      location: { origin },
      addEventListener: (_t: "message", fn: (ev: MessageEvent) => void) => {
        listeners.push(fn);
      },
      postMessage: (message: unknown, targetOrigin: string, transfer: Transferable[] = []) => {
        delivered.push({ message, targetOrigin, transfer });
      },
    };
    const page = (data: unknown, source: unknown = win) => {
      for (const l of listeners) l({ data, source, ports: [] } as unknown as MessageEvent);
    };
    const main = (port: unknown) => onPort?.({ ports: port ? [port] : [] });
    return {
      electron,
      win,
      sent,
      delivered,
      page,
      main,
      counts: () => ({ windowListeners: listeners.length, portListeners }),
    };
  }

  it("asks main for a port on the page's request and forwards it with the nonce", () => {
    const r = fakeRenderer();
    const keysBefore = Object.keys(r.win).sort();
    installHonkerPreload(r.electron, r.win);
    r.page({ type: CONNECT_REQUEST, nonce: "n1" });
    assert.deepEqual(r.sent, [IPC_CONNECT]);
    const port = { close() {} };
    r.main(port);
    assert.deepEqual(r.delivered, [
      {
        message: { type: CONNECT_PORT, nonce: "n1" },
        targetOrigin: "app://main",
        transfer: [port],
      },
    ]);
    assert.deepEqual(Object.keys(r.win).sort(), keysBefore, "nothing is exposed on the window");
  });

  it("ignores messages from other sources and of other shapes", () => {
    const r = fakeRenderer();
    installHonkerPreload(r.electron, r.win);
    r.page({ type: CONNECT_REQUEST, nonce: "x" }, {}); // e.g. an iframe or opener
    r.page({ type: CONNECT_REQUEST, nonce: "x" }, null);
    r.page({ type: CONNECT_REQUEST });
    r.page({ type: CONNECT_REQUEST, nonce: 7 });
    r.page({ type: CONNECT_REQUEST, nonce: "" });
    r.page({ type: CONNECT_REQUEST, nonce: "z".repeat(500) });
    r.page({ type: "something-else", nonce: "x" });
    r.page({ type: CONNECT_PORT, nonce: "x" }); // its own answer echoing back
    r.page("honker:connect");
    r.page(null);
    assert.deepEqual(r.sent, []);
  });

  it("matches ports to requests in order, and closes a port nobody asked for", () => {
    const r = fakeRenderer();
    installHonkerPreload(r.electron, r.win);
    let closed = 0;
    const stray = {
      close() {
        closed++;
      },
    };
    r.main(stray);
    assert.equal(closed, 1);
    assert.equal(r.delivered.length, 0);
    r.page({ type: CONNECT_REQUEST, nonce: "a" });
    r.page({ type: CONNECT_REQUEST, nonce: "b" });
    r.main(undefined); // an event without a port is ignored
    const pa = { close() {} };
    const pb = { close() {} };
    r.main(pa);
    r.main(pb);
    assert.deepEqual(
      r.delivered.map((d) => [(d.message as { nonce: string }).nonce, d.transfer[0]]),
      [
        ["a", pa],
        ["b", pb],
      ],
    );
  });

  it("targets '*' when the page's origin is opaque (file: URLs)", () => {
    const r = fakeRenderer("null");
    installHonkerPreload(r.electron, r.win);
    r.page({ type: CONNECT_REQUEST, nonce: "f" });
    r.main({ close() {} });
    assert.equal(r.delivered[0]?.targetOrigin, "*");
  });

  it("installs once per window however often it is called", () => {
    const r = fakeRenderer();
    installHonkerPreload(r.electron, r.win);
    installHonkerPreload(r.electron, r.win);
    assert.deepEqual(r.counts(), { windowListeners: 1, portListeners: 1 });
    r.page({ type: CONNECT_REQUEST, nonce: "once" });
    assert.deepEqual(r.sent, [IPC_CONNECT]);
  });

  it("connects a page through preload and main with no port passed in (full handshake)", async () => {
    // The page's globals: a window whose postMessage dispatches asynchronously.
    const g = globalThis as unknown as Record<string, unknown>;
    const saved = ["postMessage", "addEventListener", "removeEventListener", "location"].map(
      (k) => [k, Object.getOwnPropertyDescriptor(g, k)] as const,
    );
    const listeners = new Set<(ev: unknown) => void>();
    const origins: string[] = [];
    g.location = { origin: "app://main" };
    g.addEventListener = (_t: string, fn: (ev: unknown) => void) => listeners.add(fn);
    g.removeEventListener = (_t: string, fn: (ev: unknown) => void) => listeners.delete(fn);
    g.postMessage = (data: unknown, targetOrigin: string, transfer: unknown[] = []) => {
      origins.push(targetOrigin);
      setTimeout(() => {
        for (const l of [...listeners]) l({ data, source: globalThis, ports: transfer });
      }, 0);
    };

    const electron = fakeElectron();
    const contents = new FakeWebContents("app://main/index.html");
    const win = serve(contents, electron);
    let ipcPort: ((event: { ports: readonly unknown[] }) => void) | null = null;
    const rendererElectron: PreloadElectron = {
      ipcRenderer: {
        // ipcRenderer.send from the main frame arrives at ipcMain with that frame.
        send: (channel: string) => {
          assert.equal(channel, IPC_CONNECT);
          ipcFrom(electron, contents, contents.mainFrame);
        },
        on: (_channel: string, fn: (event: { ports: readonly unknown[] }) => void) => {
          ipcPort = fn;
        },
      },
    };
    // WebFrameMain.postMessage(IPC_PORT, null, [port]) -> ipcRenderer.on(IPC_PORT) with event.ports.
    contents.mainFrame.onPost = (p) => {
      if (p.channel === IPC_PORT) ipcPort?.({ ports: p.transfer.map(toRenderer) });
    };
    try {
      installHonkerPreload(rendererElectron, globalThis as unknown as PreloadWindow);
      const honker = await connect<Schema>({ timeoutMs: 3000 });
      assert.equal(win.sessions.size, 1);
      const id = await honker.queue("jobs").enqueue({ n: 5 });
      assert.equal(typeof id, "number");
      assert.deepEqual(origins, ["app://main", "app://main"], "request and answer target the page");
      await honker.close();
    } finally {
      for (const [k, d] of saved) {
        if (d) Object.defineProperty(g, k, d);
        else delete g[k];
      }
    }
  });

  const built = join(dirname(fileURLToPath(import.meta.url)), "../../dist/preload/index.cjs");
  it("the built CommonJS file runs in Electron's sandboxed-preload wrapper", {
    skip: existsSync(built) ? false : "dist/preload/index.cjs not built (npm run build:preload)",
  }, () => {
    const src = readFileSync(built, "utf8");
    const r = fakeRenderer();
    const required: string[] = [];
    const sandboxRequire = (id: string) => {
      required.push(id);
      if (id !== "electron") throw new Error(`module not found: ${id}`);
      return r.electron;
    };
    // The page's window is the global of the preload's (isolated) world.
    const context = {
      window: undefined as unknown,
      location: r.win.location,
      addEventListener: r.win.addEventListener,
      postMessage: r.win.postMessage,
    };
    context.window = context;
    const wrapper = `(function(require, process, Buffer, global, setImmediate, clearImmediate, exports, module) {\n${src}\n})`;
    createContext(context);
    // Inside the context, globalThis is the context's own global (what the page's ev.source is).
    const preloadGlobal = runInContext("globalThis", context) as unknown;
    const fn = runInContext(wrapper, context) as (...a: unknown[]) => void;
    const exports = {};
    fn(sandboxRequire, {}, undefined, preloadGlobal, setImmediate, clearImmediate, exports, {
      exports,
    });
    assert.deepEqual(required, ["electron"], "requires only electron");
    assert.equal(typeof (exports as { exposeHonker?: unknown }).exposeHonker, "function");
    (exports as { exposeHonker: () => void }).exposeHonker(); // idempotent
    assert.deepEqual(r.counts(), { windowListeners: 1, portListeners: 1 });
    // A request from the page (whose window is the preload's global) gets a port.
    r.page({ type: CONNECT_REQUEST, nonce: "cjs" }, r.win);
    assert.deepEqual(r.sent, [], "ev.source must be the preload's own window");
    r.page({ type: CONNECT_REQUEST, nonce: "cjs" }, preloadGlobal);
    assert.deepEqual(r.sent, [IPC_CONNECT]);
    const port = { close() {} };
    r.main(port);
    // (Objects made in the vm's realm: compare their JSON, not their prototypes.)
    assert.equal(r.delivered.length, 1);
    assert.equal(JSON.stringify(r.delivered[0]?.message), '{"type":"honker:port","nonce":"cjs"}');
    assert.equal(r.delivered[0]?.targetOrigin, "app://main");
    assert.equal(r.delivered[0]?.transfer.length, 1);
    assert.equal(r.delivered[0]?.transfer[0], port);
  });
});
