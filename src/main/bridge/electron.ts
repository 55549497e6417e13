/**
 * Serving renderer windows in Electron. Electron is injected (or required
 * lazily on first use), never imported at module top level, so Node tests
 * can load this file.
 *
 * Handshake, on request: page -> preload (window.postMessage) -> main (IPC)
 * -> main checks `event.senderFrame` (the window's main frame, an allowed
 * origin) -> a MessageChannelMain is made, one end kept, the other posted
 * to that frame -> the preload hands it to the page. A reload asks again
 * and gets a fresh port; the old session ends when its port closes.
 */
import { IPC_CONNECT, IPC_PORT } from "../../protocol/index.ts";
import type { HonkerDatabase } from "../database.ts";
import { WindowBudget } from "./budget.ts";
import type {
  BrowserWindowLike,
  IpcMainEventLike,
  MessageChannelMainLike,
  WebContentsLike,
} from "./electron-types.ts";
import { type MessagePortMainLike, portMainEndpoint, portMainSubPort } from "./endpoint.ts";
import { checkServe, type Grants, type ServeOptions } from "./grants.ts";
import { BridgeSession } from "./session.ts";

/**
 * Sessions (connected ports) one window may hold at once; connecting again
 * beyond that ends the oldest. A page connects once per load, so this only
 * bites a page that keeps asking for ports.
 */
export const MAX_SESSIONS_PER_WINDOW = 4;

/** The parts of the `electron` module the bridge uses. */
export interface ElectronMain {
  ipcMain: {
    on(channel: string, listener: (event: IpcMainEventLike, ...args: unknown[]) => void): unknown;
    removeListener(
      channel: string,
      listener: (event: IpcMainEventLike, ...args: unknown[]) => void,
    ): unknown;
  };
  MessageChannelMain: new () => MessageChannelMainLike;
}

/** A served window; `close()` ends its sessions and stops listening for it. */
export interface ServedWindow {
  readonly sessions: ReadonlySet<BridgeSession>;
  close(): void;
}

function webContentsOf(target: BrowserWindowLike | WebContentsLike): WebContentsLike {
  return "webContents" in target ? target.webContents : target;
}

function originOf(url: string): string {
  try {
    const u = new URL(url);
    // file: and custom schemes without a host report "null" as origin.
    return u.origin === "null" ? `${u.protocol}//${u.host}` : u.origin;
  } catch {
    return "";
  }
}

/**
 * Lets `target`'s main frame connect with exactly `grants`. Every window is
 * served separately; one window's grants never apply to another.
 */
export function serveWindow(
  // biome-ignore lint/suspicious/noExplicitAny: any schema
  db: HonkerDatabase<any>,
  target: BrowserWindowLike | WebContentsLike,
  grants: Grants,
  options: ServeOptions & { electron?: ElectronMain } = {},
): ServedWindow {
  checkServe(grants, options);
  const electron = options.electron ?? loadElectron();
  const contents = webContentsOf(target);
  const sessions = new Set<BridgeSession>();
  // One budget for the window: every session (reconnect) of it shares its bounds.
  const budget = new WindowBudget(options);
  let closed = false;

  const onConnect = (event: IpcMainEventLike) => {
    if (closed || event.sender !== contents) return; // another window's request
    const frame = event.senderFrame;
    if (!frame || frame !== contents.mainFrame) return; // iframes never get a port
    const origin = originOf(frame.url);
    if (options.origins && !options.origins.includes(origin)) return;
    while (sessions.size >= MAX_SESSIONS_PER_WINDOW) {
      const oldest = sessions.values().next().value as BridgeSession;
      oldest.close(); // its onClose removes it from the set
      sessions.delete(oldest);
    }
    const { port1, port2 } = new electron.MessageChannelMain();
    const mainPort = port1 as unknown as MessagePortMainLike;
    const session = new BridgeSession(
      db,
      portMainEndpoint(mainPort),
      grants,
      {
        create() {
          const ch = new electron.MessageChannelMain();
          return {
            local: portMainSubPort(ch.port1 as unknown as MessagePortMainLike),
            remote: ch.port2,
          };
        },
      },
      { ...options, budget, onClose: () => sessions.delete(session) },
    );
    sessions.add(session);
    mainPort.on("close", () => session.close());
    mainPort.start();
    frame.postMessage(IPC_PORT, null, [port2]);
  };

  const endAll = () => {
    for (const s of [...sessions]) s.close();
  };
  electron.ipcMain.on(IPC_CONNECT, onConnect);
  contents.once("destroyed", () => {
    endAll();
    close();
  });
  const close = () => {
    if (closed) return;
    closed = true;
    electron.ipcMain.removeListener(IPC_CONNECT, onConnect);
    endAll();
  };
  const untrack = db.track({ close });
  return {
    sessions,
    close() {
      untrack();
      close();
    },
  };
}

function loadElectron(): ElectronMain {
  // Lazy: only an Electron main process reaches this line.
  const req = (globalThis as { require?: NodeJS.Require }).require ?? moduleRequire();
  return req("electron") as ElectronMain;
}

function moduleRequire(): NodeJS.Require {
  const { createRequire } = process.getBuiltinModule("node:module") as typeof import("node:module");
  return createRequire(import.meta.url);
}
