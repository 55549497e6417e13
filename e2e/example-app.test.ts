/**
 * End to end: launch example-app in a real Electron, click "enqueue", see the
 * job's result and the live `activity` event in the sandboxed page.
 *
 * Skipped, with one line saying why, where Electron cannot start (no binary
 * downloaded, no display, ...). Needs `npm run build` and
 * `npm run build:preload` first. On Linux CI run it under xvfb-run.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { _electron, type ElectronApplication, type Page } from "playwright-core";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const exampleDir = join(root, "example-app");

/**
 * The Electron binary, found the way node_modules/electron/index.js finds it
 * but without its fallback of downloading one. Returns why not, as a string.
 */
function electronBinary(): { path: string } | { reason: string } {
  const pkg = join(root, "node_modules", "electron");
  const pathFile = join(pkg, "path.txt");
  if (!existsSync(pathFile)) return { reason: "the Electron binary is not installed" };
  const rel = readFileSync(pathFile, "utf8").trim();
  const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
  const path = override ? join(override, rel || "electron") : join(pkg, "dist", rel);
  return existsSync(path) ? { path } : { reason: `the Electron binary is missing at ${path}` };
}

const dbDir = mkdtempSync(join(tmpdir(), "honker-e2e-"));

async function launch(): Promise<{ app: ElectronApplication } | { reason: string }> {
  const bin = electronBinary();
  if ("reason" in bin) return bin;
  const missing = ["dist/main/index.js", "dist/preload/index.cjs", "dist/renderer-api/index.js"]
    .map((f) => join(root, f))
    .filter((f) => !existsSync(f));
  if (missing.length > 0) {
    // Electron is here, so this is a setup error, not a reason to skip.
    throw new Error(`build first (npm run build && npm run build:preload); missing ${missing}`);
  }
  const args = [exampleDir];
  // Chromium refuses to run as root with its sandbox on (containers, CI).
  if (process.getuid?.() === 0) args.unshift("--no-sandbox");
  try {
    const app = await _electron.launch({
      executablePath: bin.path,
      args,
      env: { ...process.env, HONKER_EXAMPLE_DB: dbDir } as Record<string, string>,
      timeout: 20_000,
    });
    return { app };
  } catch (err) {
    const first = String((err as Error).message ?? err).split("\n")[0];
    return { reason: `Electron did not start (${first})` };
  }
}

const launched = await launch();
const skip = "reason" in launched ? `e2e skipped: ${launched.reason}` : false;
const app = "app" in launched ? launched.app : null;

after(async () => {
  await app?.close();
  rmSync(dbDir, { recursive: true, force: true });
});

describe("example-app in Electron", { skip }, () => {
  let page: Page;

  it("connects the sandboxed page through the preload", async () => {
    assert.ok(app);
    page = await app.firstWindow();
    await page.waitForSelector('#status[data-state="connected"]', { timeout: 15_000 });
    assert.equal(new URL(page.url()).origin, "app://example");
  });

  it("exposes no Electron or Node object to the page", async () => {
    const globals = await page.evaluate(() => {
      const w = window as unknown as Record<string, unknown>;
      return ["require", "process", "ipcRenderer", "electron", "module", "Buffer"].filter(
        (k) => typeof w[k] !== "undefined",
      );
    });
    assert.deepEqual(globals, []);
  });

  it("enqueues a job, shows its result and the live activity event", async () => {
    await page.fill("#n", "21");
    await page.click("#enqueue");
    const done = page.locator('#jobs li[data-state="done"]').first();
    await done.waitFor({ timeout: 15_000 });
    const text = await done.textContent();
    assert.match(text ?? "", /done, result 42/);
    const id = await done.getAttribute("data-id");
    assert.ok(id);
    const event = page.locator(`#activity li[data-job="${id}"]`);
    await event.waitFor({ timeout: 15_000 });
    assert.match((await event.textContent()) ?? "", /21 × 2 = 42/);
  });

  it("keeps the stream live for later jobs", async () => {
    await page.fill("#n", "5");
    await page.click("#enqueue");
    await page
      .locator("#activity li", { hasText: "5 × 2 = 10" })
      .first()
      .waitFor({ timeout: 15_000 });
    assert.equal(await page.locator('#jobs li[data-state="done"]').count(), 2);
  });
});
