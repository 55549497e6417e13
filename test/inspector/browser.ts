/**
 * Chromium for the inspector's browser tests (playwright-core driving the
 * system's Chromium). Where it cannot start: under CI (`CI` set, as in
 * `.ci/run`) the tests fail loudly; elsewhere they skip with one line.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";

export const CHROMIUM = process.env.HONKER_CHROMIUM ?? "/usr/bin/chromium";

/** Screenshots go to a git-ignored folder (.cache/ is in .gitignore). */
export const SHOTS = resolve(import.meta.dirname, "..", "..", ".cache", "inspector-screenshots");

export interface Launched {
  browser: Browser;
  close(): Promise<void>;
}

let skipReported = false;

/** Launches Chromium, or returns the reason it cannot (throws under CI). */
export async function launch(): Promise<Launched | string> {
  let reason: string | null = null;
  if (!existsSync(CHROMIUM)) reason = `no Chromium at ${CHROMIUM}`;
  const profile = mkdtempSync(join(tmpdir(), "honker-chromium-"));
  if (reason === null) {
    try {
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync",
        ],
        // playwright itself starts Chromium with a new, empty --user-data-dir
        // (it refuses one in args); ours only holds the crash dumps.
        downloadsPath: profile,
        timeout: 60_000,
      });
      mkdirSync(SHOTS, { recursive: true });
      return {
        browser,
        async close() {
          await browser.close();
          rmSync(profile, { recursive: true, force: true });
        },
      };
    } catch (err) {
      reason = `Chromium did not start: ${(err as Error).message.split("\n")[0]}`;
    }
  }
  rmSync(profile, { recursive: true, force: true });
  if (process.env.CI) {
    throw new Error(
      `inspector browser tests: ${reason}. Install it (apt-get install -y --no-install-recommends chromium) or set HONKER_CHROMIUM.`,
    );
  }
  if (!skipReported) {
    skipReported = true;
    console.log(`# SKIP inspector browser tests: ${reason} (set CI=1 to make this an error)`);
  }
  return reason;
}

/** A fresh page that records console errors, CSP violations and page errors. */
export async function newPage(browser: Browser): Promise<{ page: Page; problems: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(m.text());
  });
  page.on("pageerror", (e) => problems.push(e.message));
  return { page, problems };
}
