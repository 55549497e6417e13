// The example app's main process. In your own app the imports read
//   import { open } from "honker-electron";
//   const preload = createRequire(import.meta.url).resolve("honker-electron/preload");
// here they point at this repository's build (run `npm run build` and
// `npm run build:preload` in the repository root first).
import { mkdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { app, BrowserWindow, protocol } from "electron";
import { open } from "../dist/main/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, "..");
const preload = join(root, "dist", "preload", "index.cjs");

// The page is served from app://example/ rather than file:// (Electron's
// security checklist): it gets a real origin that serve() can check, and
// ES module scripts load with proper MIME types.
const ORIGIN = "app://example";
protocol.registerSchemesAsPrivileged([
  { scheme: "app", privileges: { standard: true, secure: true, supportFetchAPI: true } },
]);

/** URL path prefix -> folder. Nothing outside these folders is served. */
const mounts = [
  ["/dist/renderer-api/", join(root, "dist", "renderer-api")],
  ["/dist/protocol/", join(root, "dist", "protocol")],
  ["/node_modules/comlink/", join(root, "node_modules", "comlink")],
];
const pageFiles = new Set(["/index.html", "/renderer.js", "/style.css"]);
const types = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
};

async function serveFile(request) {
  const url = new URL(request.url);
  if (url.host !== "example") return new Response("not found", { status: 404 });
  const path = decodeURIComponent(url.pathname);
  const candidates = pageFiles.has(path) ? [["/", here]] : mounts;
  for (const [prefix, dir] of candidates) {
    if (!path.startsWith(prefix)) continue;
    const file = resolve(dir, `.${path.slice(prefix.length - 1)}`);
    if (file !== dir && !file.startsWith(dir + sep)) break; // no ../ escapes
    try {
      const body = await readFile(file);
      const type = types[extname(file)] ?? "application/octet-stream";
      return new Response(body, { headers: { "content-type": type } });
    } catch {
      break;
    }
  }
  return new Response("not found", { status: 404 });
}

/** Exactly what the page may do: enqueue and read `jobs`, watch `activity`. */
const grants = {
  queues: { jobs: { enqueue: true, read: true } },
  streams: { activity: { subscribe: true } },
};

let db = null;

function openDatabase() {
  // HONKER_EXAMPLE_DB names a folder (the e2e tests use a temp dir).
  const dir = process.env.HONKER_EXAMPLE_DB || app.getPath("userData");
  mkdirSync(dir, { recursive: true });
  const database = open(join(dir, "example.db"));
  // The worker: doubles payload.n, tells every page through the `activity` stream.
  database.queue("jobs").work(async (job) => {
    const n = Number(job.payload?.n ?? 0);
    const doubled = n * 2;
    database.stream("activity").publish({ job: job.id, n, doubled });
    return doubled;
  });
  return database;
}

function createWindow() {
  const win = new BrowserWindow({
    width: 720,
    height: 560,
    title: "honker-electron example",
    webPreferences: {
      preload,
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
    },
  });
  // Serve this window (only its main frame, only at our origin) with exactly `grants`.
  db.serve(win, grants, { origins: [ORIGIN] });
  win.loadURL(`${ORIGIN}/index.html`);
  return win;
}

app.whenReady().then(() => {
  protocol.handle("app", serveFile);
  db = openDatabase();
  createWindow();
  app.on("activate", () => {
    if (BrowserWindow.getAllWindows().length === 0) createWindow();
  });
});

app.on("window-all-closed", () => {
  if (process.platform !== "darwin") app.quit();
});

let closing = false;
app.on("will-quit", (event) => {
  if (!db || closing) return;
  // Let in-flight jobs finish and close the database cleanly, then quit.
  closing = true;
  event.preventDefault();
  db.close().finally(() => app.quit());
});
