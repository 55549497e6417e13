/**
 * The parts of Electron's main-process API the bridge touches, declared
 * structurally. The published types never import `electron`, so a project
 * type-checks against honker-electron without Electron's types installed;
 * Electron's real `BrowserWindow`, `WebContents` and `IpcMainEvent` are
 * assignable to these (test/types/electron-structural.ts proves it).
 */

/** Electron's `WebFrameMain`, as far as the handshake needs it. */
export interface WebFrameMainLike {
  readonly url: string;
  postMessage(channel: string, message: unknown, transfer?: unknown[]): void;
}

/** Electron's `WebContents`, as far as the handshake needs it. */
export interface WebContentsLike {
  readonly mainFrame: WebFrameMainLike;
  once(event: "destroyed", listener: () => void): unknown;
}

/** Electron's `BrowserWindow`: anything with a `webContents`. */
export interface BrowserWindowLike {
  readonly webContents: WebContentsLike;
}

/** What `ipcMain` hands a listener: who sent the message, from which frame. */
export interface IpcMainEventLike {
  readonly sender: unknown;
  readonly senderFrame: WebFrameMainLike | null;
}

/** Electron's `MessageChannelMain`: two entangled `MessagePortMain`s. */
export interface MessageChannelMainLike {
  readonly port1: unknown;
  readonly port2: unknown;
}
