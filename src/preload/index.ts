/**
 * honker-electron/preload: the preload for a sandboxed, context-isolated
 * window served with `db.serve(window, grants)`. It does one thing: when
 * the page posts a connect request to its own window, it asks main for a
 * port over IPC and hands the port main sends back to the page with
 * `window.postMessage` (ports cannot cross `contextBridge`). It exposes no
 * Electron object and no `ipcRenderer` to the page.
 *
 * Built to ONE CommonJS file (dist/preload/index.cjs) with no local
 * imports, because a sandboxed preload can only `require('electron')` and
 * a few Node built-ins. Use it directly:
 *
 * ```ts
 * new BrowserWindow({ webPreferences: {
 *   sandbox: true, contextIsolation: true,
 *   preload: require.resolve("honker-electron/preload"),
 * } });
 * ```
 *
 * or, from a preload you bundle yourself, call `exposeHonker()`.
 * @module
 */

// A copy of the four handshake constants of src/protocol/index.ts (this file
// must stay import-free). test/bridge/electron-adapter.test.ts checks they match.
/** window.postMessage type of the page's request. */
export const CONNECT_REQUEST = "honker:connect";
/** window.postMessage type of the preload's answer (port in the transfer list). */
export const CONNECT_PORT = "honker:port";
/** IPC channel preload -> main. */
export const IPC_CONNECT = "honker:connect";
/** IPC channel main -> preload (port in `event.ports`). */
export const IPC_PORT = "honker:port";

/** Requests waiting for a port; more than this and the oldest is dropped. */
const MAX_PENDING = 8;
const MAX_NONCE = 128;

/** The part of `require('electron')` (renderer side) the preload uses. */
export interface PreloadElectron {
  ipcRenderer: {
    send(channel: string, ...args: unknown[]): void;
    on(channel: string, listener: (event: { ports: readonly unknown[] }) => void): unknown;
  };
}

/** The part of `window` the preload uses. */
export interface PreloadWindow {
  addEventListener(type: "message", listener: (ev: MessageEvent) => void): void;
  postMessage(message: unknown, targetOrigin: string, transfer?: Transferable[]): void;
  location: { origin: string };
}

const installed = new WeakSet<object>();

function targetOrigin(win: PreloadWindow): string {
  const origin = win.location?.origin;
  // file: (and other opaque) origins serialise as "null" and cannot be targeted.
  return origin && origin !== "null" ? origin : "*";
}

function closePort(port: unknown): void {
  try {
    (port as { close?: () => void }).close?.();
  } catch {
    // already closed
  }
}

/**
 * Installs the handshake on `win` with `electron`'s ipcRenderer. Idempotent
 * per window. Exported (with injectable arguments) so it can be tested
 * without Electron.
 */
export function installHonkerPreload(electron: PreloadElectron, win: PreloadWindow): void {
  if (installed.has(win)) return;
  installed.add(win);
  const pending: string[] = [];

  win.addEventListener("message", (ev: MessageEvent) => {
    if (ev.source !== (win as unknown)) return; // only the page itself may ask
    const d = ev.data as { type?: unknown; nonce?: unknown } | null;
    if (!d || typeof d !== "object" || d.type !== CONNECT_REQUEST) return;
    if (typeof d.nonce !== "string" || d.nonce.length === 0 || d.nonce.length > MAX_NONCE) return;
    pending.push(d.nonce);
    if (pending.length > MAX_PENDING) pending.shift();
    electron.ipcRenderer.send(IPC_CONNECT);
  });

  electron.ipcRenderer.on(IPC_PORT, (event) => {
    const port = event?.ports?.[0];
    if (!port) return;
    const nonce = pending.shift();
    if (nonce === undefined) {
      closePort(port); // nobody asked: do not leave a live port lying around
      return;
    }
    win.postMessage({ type: CONNECT_PORT, nonce }, targetOrigin(win), [port as Transferable]);
  });
}

/**
 * For apps that bundle their own preload: sets up the same handshake.
 * Safe to call more than once.
 */
export function exposeHonker(): void {
  installHonkerPreload(
    require("electron") as PreloadElectron,
    globalThis as unknown as PreloadWindow,
  );
}

// In a preload (CommonJS `require` and a window exist), install at once. When
// this file is imported as an ES module (tests, the ESM build) nothing runs.
if (
  typeof require === "function" &&
  typeof (globalThis as { window?: unknown }).window === "object" &&
  typeof (globalThis as { postMessage?: unknown }).postMessage === "function"
) {
  exposeHonker();
}
