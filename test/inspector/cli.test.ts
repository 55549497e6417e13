/**
 * The `honker-electron` command: `demo` runs for ~10 s with live traffic
 * seen in Chromium; `inspect` serves a file (read-only too) and refuses bad
 * arguments.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { TS_FLAGS } from "../helpers/db.ts";
import { launch, SHOTS } from "./browser.ts";
import { CLI, startCli as start, stopCli as stop } from "./cli-child.ts";
import { seed } from "./seed.ts";

let browser: Browser | null = null;
let closeBrowser: (() => Promise<void>) | null = null;
let skip: string | false = false;
before(async () => {
  const l = await launch();
  if (typeof l === "string") skip = l;
  else {
    browser = l.browser;
    closeBrowser = l.close;
  }
});
after(async () => closeBrowser?.());

describe("honker-electron demo", { timeout: 180_000 }, () => {
  it("serves live traffic that Chromium sees change for ~10 s", async (t) => {
    const { child, lines, url } = await start(["demo"]);
    try {
      const dbPath = lines.find((l) => l.startsWith("honker demo database:"))?.split(": ")[1];
      assert.ok(dbPath && existsSync(dbPath), lines.join("\n"));
      if (skip) return t.skip(skip);
      assert.ok(browser);
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on("pageerror", (e) => problems.push(e.message));
      await page.goto(url);
      await page.locator('[data-queue="emails"]').waitFor();
      await page.locator("#live.on").waitFor();
      const head = async () =>
        Number(
          (
            (await page.locator('[data-stream="activity"] td.num').first().textContent()) ?? "0"
          ).replace(/\D/g, ""),
        );
      const firstHead = await head();
      // The demo's outbox relays to a flaky local receiver: its card shows
      // deliveries going up.
      const delivered = async () =>
        Number(
          (
            (await page
              .locator('[data-outbox="webhooks"] [data-stat="delivered"] .stat-value')
              .textContent()) ?? "0"
          ).replace(/\D/g, ""),
        );
      await page.locator('[data-outbox="webhooks"]').waitFor();
      const firstDelivered = await delivered();
      let loads = 0;
      page.on("load", () => loads++);
      const seen = new Set<string>();
      for (let i = 0; i < 10; i++) {
        await page.waitForTimeout(1000);
        seen.add((await page.locator("#view").textContent()) ?? "");
      }
      assert.equal(loads, 0, "no reload");
      assert.ok(seen.size >= 5, `the page changed ${seen.size} times in 10 s`);
      assert.ok((await head()) > firstHead, "the stream's head moved on screen");
      assert.ok((await delivered()) > firstDelivered, "the outbox delivered on screen");
      for (const q of ["emails", "thumbnails", "reports"]) {
        await page.locator(`[data-queue="${q}"]`).waitFor();
      }
      await page.locator('[data-schedule="sync-every-10s"]').first().waitFor();
      await page.screenshot({ path: join(SHOTS, "demo-overview.png"), fullPage: true });
      await page.goto(`${new URL(url).origin}/#/queue/emails?state=completed`);
      await page.locator("tr[data-job]").first().waitFor();
      await page.screenshot({ path: join(SHOTS, "demo-queue-completed.png"), fullPage: true });
      await page.goto(`${new URL(url).origin}/#/stream/activity`);
      await page.locator("tr[data-offset]").first().waitFor();
      await page.screenshot({ path: join(SHOTS, "demo-stream.png"), fullPage: true });
      await page.goto(`${new URL(url).origin}/#/outbox/webhooks`);
      await page.locator('[data-tab="waiting"]').waitFor();
      await page.screenshot({ path: join(SHOTS, "demo-outbox.png"), fullPage: true });
      const thumb = await page.evaluate(async () => {
        const r = await fetch("/api/queue?name=thumbnails&state=completed");
        return (await r.json()).list.jobs[0]?.id as number | undefined;
      });
      if (thumb) {
        await page.goto(`${new URL(url).origin}/#/job/${thumb}`);
        await page.locator("#job-state").waitFor();
        await page.screenshot({ path: join(SHOTS, "demo-job.png"), fullPage: true });
      }
      assert.deepEqual(problems, []);
      await context.close();
    } finally {
      assert.equal(await stop(child), 0);
    }
  });
});

describe("honker-electron inspect", { timeout: 60_000 }, () => {
  it("serves a file read-only and prints a URL with a token", async () => {
    const s = seed();
    try {
      const { child, lines, url } = await start(["inspect", s.path, "--read-only"]);
      try {
        assert.match(lines[0] ?? "", /\(read-only\)/);
        const res = await fetch(url, { redirect: "manual" });
        assert.equal(res.status, 303, "the token is exchanged for a cookie");
        const cookie = res.headers.get("set-cookie") ?? "";
        assert.match(cookie, /HttpOnly; SameSite=Strict/);
        const pageRes = await fetch(`${new URL(url).origin}/`, {
          headers: { Cookie: cookie.split(";")[0] as string },
        });
        assert.equal(pageRes.status, 200);
        assert.match(pageRes.headers.get("content-security-policy") ?? "", /default-src 'self'/);
        const info = await fetch(`${new URL(url).origin}/api/info`, {
          headers: { Authorization: `Bearer ${new URL(url).searchParams.get("token")}` },
        });
        assert.deepEqual(await info.json(), { label: "app.db", readOnly: true });
      } finally {
        assert.equal(await stop(child), 0);
      }
    } finally {
      await s.cleanup();
    }
  });

  it("shows another process's commits live (inspect in a child, writes here)", async (t) => {
    if (skip) return t.skip(skip);
    assert.ok(browser);
    const s = seed();
    try {
      const { child, url } = await start(["inspect", s.path, "--read-only"]);
      try {
        const context = await browser.newContext();
        const page = await context.newPage();
        await page.goto(url);
        await page.locator("#live.on").waitFor();
        const beta = '[data-queue="beta"] [data-stat="pending"] .stat-value';
        assert.equal(await page.locator(beta).textContent(), "3");
        const t0 = Date.now();
        s.db.queue("beta").enqueueMany([{ a: 1 }, { a: 2 }]);
        await page.waitForFunction(
          (sel) => document.querySelector(sel)?.textContent === "5",
          beta,
          { timeout: 1000 },
        );
        console.log(`# another process's enqueue on screen after ${Date.now() - t0} ms`);
        await context.close();
      } finally {
        assert.equal(await stop(child), 0);
      }
    } finally {
      await s.cleanup();
    }
  });

  it("refuses bad arguments with usage and exit code 2", () => {
    for (const args of [
      ["inspect"],
      ["inspect", "/nonexistent/x.db"],
      ["frobnicate"],
      ["inspect", "a", "--port", "x"],
    ]) {
      const r = spawnSync(process.execPath, [...TS_FLAGS, CLI, ...args], { encoding: "utf8" });
      assert.equal(r.status, 2, args.join(" "));
      assert.match(r.stderr, /Usage:/);
    }
  });

  it("says once why the demo cannot start, and leaves no demo folder behind", () => {
    const tmp = mkdtempSync(join(tmpdir(), "honker-cli-demo-fail-"));
    try {
      const r = spawnSync(process.execPath, [...TS_FLAGS, CLI, "demo"], {
        encoding: "utf8",
        env: { ...process.env, HONKER_EXTENSION_PATH: "/nonexistent/honker.so", TMPDIR: tmp },
      });
      assert.equal(r.status, 1);
      assert.match(
        r.stderr,
        /^honker-electron: open\(.*demo\.db\): could not load the honker SQLite extension: HONKER_EXTENSION_PATH points to /,
      );
      assert.equal(r.stderr.split("honker-electron:").length, 2, "one prefix");
      assert.deepEqual(readdirSync(tmp), []);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
