/**
 * openInspectorWindow with a stand-in BrowserWindow (Electron is injected):
 * the window's options (context isolation, sandbox, no Node), the URL it
 * loads (the inspector's, with a token the server accepts), window.open()
 * denied and navigation kept on the inspector's origin, read-only passed
 * through, and the server stopping when the window closes or close() is
 * called. (Real Electron types: test/types/electron-inspector.ts.)
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type InspectorWindowConstructorOptions,
  type InspectorWindowLike,
  openInspectorWindow,
} from "../../src/inspector/index.ts";
import { seed } from "./seed.ts";

type NavigateListener = (event: { preventDefault(): void }, url: string) => void;

/** Records what the helper does with its window. */
class StandInWindow implements InspectorWindowLike {
  static made: StandInWindow[] = [];
  readonly options: InspectorWindowConstructorOptions;
  readonly loaded: string[] = [];
  closeCalls = 0;
  destroyed = false;
  onClosed: (() => void) | null = null;
  openHandler: ((details: { url: string }) => { action: "deny" }) | null = null;
  navigate: NavigateListener | null = null;
  readonly webContents = {
    setWindowOpenHandler: (h: (details: { url: string }) => { action: "deny" }) => {
      this.openHandler = h;
    },
    on: (_event: "will-navigate", listener: NavigateListener) => {
      this.navigate = listener;
    },
  };
  constructor(options: InspectorWindowConstructorOptions) {
    this.options = options;
    StandInWindow.made.push(this);
  }
  async loadURL(url: string) {
    this.loaded.push(url);
  }
  on(_event: "closed", listener: () => void) {
    this.onClosed = listener;
  }
  /** As Electron: close() destroys the window, then emits "closed". */
  close() {
    this.closeCalls++;
    this.userCloses();
  }
  userCloses() {
    this.destroyed = true;
    this.onClosed?.();
  }
  isDestroyed() {
    return this.destroyed;
  }
}

/** True when the server no longer answers. */
async function serverGone(url: string): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(url, { redirect: "manual" });
    } catch {
      return true;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return false;
}

describe("openInspectorWindow", { timeout: 60_000 }, () => {
  it("opens a sandboxed window on the tokened URL, guards navigation, stops with the window", async () => {
    const s = seed();
    try {
      StandInWindow.made = [];
      const w = await openInspectorWindow(s.db, {
        BrowserWindow: StandInWindow,
        readOnly: true,
        width: 1000,
        height: 700,
      });
      assert.equal(StandInWindow.made.length, 1);
      const win = StandInWindow.made[0] as StandInWindow;
      assert.equal(w.window, win);
      assert.deepEqual(win.options, {
        width: 1000,
        height: 700,
        title: "honker inspector",
        autoHideMenuBar: true,
        webPreferences: {
          contextIsolation: true,
          sandbox: true,
          nodeIntegration: false,
          nodeIntegrationInWorker: false,
          webviewTag: false,
        },
      });

      // It loaded the inspector's URL, whose token the server takes (and a
      // wrong one it does not).
      assert.deepEqual(win.loaded, [w.url]);
      const url = new URL(w.url);
      assert.equal(url.hostname, "127.0.0.1");
      const token = url.searchParams.get("token") ?? "";
      assert.match(token, /^[\w-]{43}$/);
      const exchange = await fetch(w.url, { redirect: "manual" });
      assert.equal(exchange.status, 303);
      assert.match(exchange.headers.get("set-cookie") ?? "", /HttpOnly; SameSite=Strict/);
      const wrong = await fetch(`${url.origin}/?token=${"x".repeat(43)}`, { redirect: "manual" });
      assert.equal(wrong.status, 401);
      // Read-only was passed through: actions are refused.
      const refused = await fetch(`${url.origin}/api/action`, {
        method: "POST",
        headers: {
          Authorization: `Bearer ${token}`,
          "Content-Type": "application/json",
          "X-Honker-Inspector": "1",
        },
        body: JSON.stringify({ action: "purgeDead", queue: "alpha" }),
      });
      assert.equal(refused.status, 403);

      // window.open() is denied; navigation stays on the inspector's origin.
      assert.deepEqual(win.openHandler?.({ url: "https://example.com/" }), { action: "deny" });
      const navigate = (to: string) => {
        let prevented = false;
        win.navigate?.({ preventDefault: () => (prevented = true) }, to);
        return prevented;
      };
      assert.equal(navigate("https://example.com/"), true);
      assert.equal(navigate("file:///etc/passwd"), true);
      assert.equal(navigate(`${url.origin}/#/queue/alpha`), false);

      // The user closes the window: the server stops; close() after is harmless.
      win.userCloses();
      assert.equal(await serverGone(w.url), true);
      await w.close();
      assert.equal(win.closeCalls, 0, "an already closed window is not closed again");
    } finally {
      await s.cleanup();
    }
  });

  it("close() closes the window and stops the server; bad options are refused", async () => {
    const s = seed();
    try {
      StandInWindow.made = [];
      const w = await openInspectorWindow(s.db, { BrowserWindow: StandInWindow });
      const win = StandInWindow.made[0] as StandInWindow;
      await w.close();
      assert.equal(win.closeCalls, 1);
      assert.equal(win.isDestroyed(), true);
      assert.equal(await serverGone(w.url), true);

      for (const bad of [
        undefined,
        {},
        { BrowserWindow: "BrowserWindow" },
        { BrowserWindow: StandInWindow, width: 10 },
        { BrowserWindow: StandInWindow, readOnly: "yes" },
        { BrowserWindow: StandInWindow, port: 70_000 },
      ]) {
        await assert.rejects(
          openInspectorWindow(s.db, bad as never),
          { code: "HONKER_INVALID_ARGUMENT" },
          JSON.stringify(bad),
        );
      }
      assert.equal(StandInWindow.made.length, 1, "no window for a refused call");
    } finally {
      await s.cleanup();
    }
  });
});
