/**
 * The inspector: a small local web UI over a honker database (queues,
 * streams, channels, schedules, locks, rate limits), live over server-sent
 * events, with a few safe actions.
 *
 * ```ts
 * import { open } from "honker-electron";
 * import { inspector } from "honker-electron/inspector";
 * const db = open("app.db");
 * const ui = await inspector(db, { readOnly: true });
 * console.log(ui.url); // http://127.0.0.1:PORT/?token=...
 * await ui.close();
 * ```
 * @module
 */
import { realpathSync } from "node:fs";
import { basename } from "node:path";
import Database from "better-sqlite3";
import { getLoadablePath } from "../extension/index.ts";
import * as args from "../main/args.ts";
import { type AnyHonkerDatabase, open } from "../main/database.ts";
import { HonkerError } from "../main/errors.ts";
import { Watcher } from "../main/watcher.ts";
import { runAction } from "./actions.ts";
import { InspectorQueries } from "./queries.ts";
import { type InspectorServer, type InspectorSource, serveInspector } from "./server.ts";

export { CSP } from "./server.ts";

export interface InspectorOptions {
  /** Port on 127.0.0.1 (default: a free one). */
  port?: number;
  /** Refuse every action (the page shows why; the server answers 403). */
  readOnly?: boolean;
  /** The URL's token (default: 32 random bytes). */
  token?: string;
  /** Explicit path of the SQLite extension (default: the package's). */
  extensionPath?: string;
}

export interface Inspector {
  /** Open this URL (it carries the token; keep it private). */
  readonly url: string;
  readonly port: number;
  /** Stops the server and closes the inspector's read-only connection. */
  close(): Promise<void>;
}

/**
 * A read-only connection with the extension loaded: the inspector's reads
 * never take the write lock, whatever the page asks. A file with honker's
 * tables only (written by upstream honker, never opened by this kit) is
 * read as it is: its queues, streams, channels, schedules, locks and rate
 * limits show; what lives in our own `_honker_x_*` tables (finished-job
 * history, throughput, progress, outboxes) is simply absent.
 */
function readConnection(path: string, extensionPath: string | undefined): Database.Database {
  const conn = new Database(path, { readonly: true, fileMustExist: true });
  try {
    conn.pragma("busy_timeout = 2000");
    conn.loadExtension(extensionPath ?? getLoadablePath());
    const has = conn
      .prepare("SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '_honker_live'")
      .pluck()
      .get() as number;
    if (has < 1) {
      throw new HonkerError(
        "HONKER_CANNOT_OPEN",
        `inspector: ${path} has no honker tables: it is not a honker or honker-electron ` +
          "database (open it once with honker-electron's open() to make it one).",
      );
    }
    return conn;
  } catch (err) {
    conn.close();
    throw err;
  }
}

function source(
  conn: Database.Database,
  subscribe: (fn: () => void) => () => void,
  db: AnyHonkerDatabase | null,
  path: string,
): InspectorSource {
  const run = conn.transaction((f: () => unknown) => f());
  return {
    queries: new InspectorQueries(conn),
    snapshot: <T>(fn: () => T) => run(fn) as T,
    subscribe,
    act: db === null ? null : (a) => runAction(db, a),
    label: basename(path),
  };
}

/** Checks the options every entry point shares. */
function checkOptions(fn: string, o: Partial<InspectorOptions>): void {
  args.optInt(fn, "options.port", o.port, 0, 65_535, 0);
  args.optBool(fn, "options.readOnly", o.readOnly, false);
  if (o.token !== undefined) args.text(fn, "options.token", o.token, 1024);
  if (o.extensionPath !== undefined) args.text(fn, "options.extensionPath", o.extensionPath, 4096);
}

async function start(
  src: InspectorSource,
  options: InspectorOptions,
  cleanup: () => Promise<void> | void,
): Promise<Inspector> {
  let server: InspectorServer;
  try {
    server = await serveInspector(src, { port: options.port, token: options.token });
  } catch (err) {
    await cleanup();
    throw err;
  }
  let closing: Promise<void> | null = null;
  return {
    url: server.url,
    port: server.port,
    close() {
      closing ??= (async () => {
        await server.close();
        await cleanup();
      })();
      return closing;
    },
  };
}

/**
 * Serves the inspector for an open database. Reads go through a separate
 * read-only connection; actions (unless `readOnly`) through `db` itself.
 * Pages are updated when `db.watcher` sees a commit, and only while a page
 * is open.
 */
export async function inspector(
  db: AnyHonkerDatabase,
  options: InspectorOptions = {},
): Promise<Inspector> {
  const o = args.options<InspectorOptions>("inspector(db, options)", options);
  checkOptions("inspector(db, options)", o);
  db.assertOpen("inspector(db)");
  const conn = readConnection(db.path, o.extensionPath);
  const src = source(
    conn,
    (fn) => db.watcher.subscribe(() => fn()),
    o.readOnly ? null : db,
    db.path,
  );
  return start(src, o, () => {
    conn.close();
  });
}

/**
 * Serves the inspector for a database file (what `honker-electron inspect`
 * runs). Read-only: the file is only ever opened read-only (the reads'
 * connection and the watcher's, which reads `data_version`), so nothing is
 * written to it, not even our tables into a file made by upstream honker;
 * otherwise it is opened with `open()` (no retention task) for the actions.
 */
export async function inspectFile(
  path: string,
  options: InspectorOptions = {},
): Promise<Inspector> {
  const fn = "inspectFile(path, options)";
  args.text(fn, "path", path, 4096);
  checkOptions(fn, args.options<InspectorOptions>(fn, options));
  let abs: string;
  try {
    abs = realpathSync(path);
  } catch (err) {
    throw new HonkerError("HONKER_CANNOT_OPEN", `inspector: ${path} does not exist`, {
      cause: err,
    });
  }
  if (options.readOnly) {
    const conn = readConnection(abs, options.extensionPath);
    let watcher: Watcher;
    try {
      // Read-only too: it only ever reads `PRAGMA data_version`.
      watcher = new Watcher(abs, { readOnly: true });
    } catch (err) {
      conn.close();
      throw err;
    }
    const src = source(conn, (fn) => watcher.subscribe(() => fn()), null, abs);
    return start(src, options, () => {
      watcher.close();
      conn.close();
    });
  }
  const db = open(abs, {
    retention: false,
    ...(options.extensionPath ? { extensionPath: options.extensionPath } : {}),
  });
  try {
    const ui = await inspector(db, options);
    return {
      url: ui.url,
      port: ui.port,
      async close() {
        await ui.close();
        await db.close();
      },
    };
  } catch (err) {
    await db.close();
    throw err;
  }
}

/**
 * The part of Electron's BrowserWindow the helper uses (Electron is
 * injected, never imported: a real `BrowserWindow` fits, see
 * test/types/electron-inspector.ts).
 */
export interface InspectorWindowLike {
  loadURL(url: string): Promise<unknown>;
  on(event: "closed", listener: () => void): unknown;
  close(): void;
  isDestroyed(): boolean;
  webContents: {
    /** Every window.open() of the page is denied. */
    setWindowOpenHandler(handler: (details: { url: string }) => { action: "deny" }): void;
    /** Navigation away from the inspector's own origin is prevented. */
    on(
      event: "will-navigate",
      listener: (event: { preventDefault(): void }, url: string) => void,
    ): unknown;
  };
}

/** What the helper passes to `new BrowserWindow(...)`. */
export interface InspectorWindowConstructorOptions {
  width: number;
  height: number;
  title: string;
  autoHideMenuBar: boolean;
  webPreferences: {
    contextIsolation: true;
    sandbox: true;
    nodeIntegration: false;
    nodeIntegrationInWorker: false;
    webviewTag: false;
  };
}

export interface InspectorWindowOptions extends InspectorOptions {
  /** Electron's `BrowserWindow` class. */
  BrowserWindow: new (
    options: InspectorWindowConstructorOptions,
  ) => InspectorWindowLike;
  width?: number;
  height?: number;
}

export interface InspectorWindow {
  readonly window: InspectorWindowLike;
  /** The URL the window loaded (it carries the token). */
  readonly url: string;
  /** Closes the window (if still open) and stops the server. */
  close(): Promise<void>;
}

/**
 * Opens the inspector in an Electron window of its own: sandboxed, context
 * isolation on, no Node, no preload, no `<webview>`; window.open() denied
 * and navigation kept on the inspector's origin. The window loads the
 * inspector's URL with its token. Closing the window stops the server. For
 * development builds: the window can run every action unless `readOnly`.
 *
 * ```ts
 * import { BrowserWindow } from "electron";
 * await openInspectorWindow(db, { BrowserWindow, readOnly: true });
 * ```
 */
export async function openInspectorWindow(
  db: AnyHonkerDatabase,
  options: InspectorWindowOptions,
): Promise<InspectorWindow> {
  const fn = "openInspectorWindow(db, options)";
  const o = args.options<InspectorWindowOptions>(fn, options);
  const BrowserWindow = args.func<never>(fn, "options.BrowserWindow", o.BrowserWindow);
  const width = args.optInt(fn, "options.width", o.width, 200, 10_000, 1200);
  const height = args.optInt(fn, "options.height", o.height, 200, 10_000, 800);
  checkOptions(fn, o);
  const ui = await inspector(db, o);
  let win: InspectorWindowLike;
  try {
    win = new (BrowserWindow as InspectorWindowOptions["BrowserWindow"])({
      width,
      height,
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
  } catch (err) {
    await ui.close();
    throw err;
  }
  const origin = new URL(ui.url).origin;
  win.webContents.setWindowOpenHandler(() => ({ action: "deny" }));
  win.webContents.on("will-navigate", (event, url) => {
    if (new URL(url, origin).origin !== origin) event.preventDefault();
  });
  win.on("closed", () => void ui.close());
  const close = async () => {
    if (!win.isDestroyed()) win.close();
    await ui.close();
  };
  try {
    await win.loadURL(ui.url);
  } catch (err) {
    await close();
    throw err;
  }
  return { window: win, url: ui.url, close };
}
