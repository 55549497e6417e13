/**
 * The inspector in a real Chromium against a real host and file: counts on
 * the overview, live updates pushed on another connection's commit, redrive
 * from the page, read-only refusals, the token and cross-origin guards, the
 * CSP, and a screenshot of each view (in .cache/inspector-screenshots/).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { type Inspector, inspectFile, inspector } from "../../src/inspector/index.ts";
import { launch, newPage as openPage, SHOTS } from "./browser.ts";
import { otherConnection, type Seeded, seed } from "./seed.ts";

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

function newPage(): Promise<{ page: Page; problems: string[] }> {
  assert.ok(browser);
  return openPage(browser);
}

const stat = (page: Page, queue: string, label: string) =>
  page.locator(`[data-queue="${queue}"] [data-stat="${label}"] .stat-value`).first();

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

describe("inspector in Chromium", { timeout: 120_000 }, () => {
  let s: Seeded;
  let ui: Inspector;

  before(async () => {
    s = seed();
    ui = await inspector(s.db);
  });
  after(async () => {
    await ui?.close();
    await s?.cleanup();
  });

  it("lists the seeded queues with the right counts, without CSP violations", async (t) => {
    if (skip) return t.skip(skip);
    const { page, problems } = await newPage();
    await page.goto(ui.url);
    assert.equal(new URL(page.url()).search, "", "the token is dropped from the address bar");
    await page.locator('[data-queue="alpha"]').waitFor();
    assert.equal(await stat(page, "alpha", "pending").textContent(), "5");
    assert.equal(await stat(page, "alpha", "delayed").textContent(), "2");
    assert.equal(await stat(page, "alpha", "processing").textContent(), "1");
    assert.equal(await stat(page, "alpha", "dead").textContent(), "2");
    assert.equal(await stat(page, "beta", "pending").textContent(), "3");
    await page.locator('[data-stream="events"]').waitFor();
    assert.match(
      (await page.locator('[data-stream="events"]').textContent()) ?? "",
      /reader · 2 · lag 3/,
    );
    await page.locator('[data-schedule="hourly"]').first().waitFor();
    await page.locator("#live.on").waitFor();
    await shot(page, "overview");
    assert.deepEqual(problems, []);
    await page.context().close();
  });

  it("shows another connection's enqueue within 1 s, with no reload", async (t) => {
    if (skip) return t.skip(skip);
    const { page } = await newPage();
    await page.goto(ui.url);
    await page.locator("#live.on").waitFor();
    assert.equal(await stat(page, "beta", "pending").textContent(), "3");
    let reloaded = false;
    page.on("load", () => {
      reloaded = true;
    });
    const other = otherConnection(s.path);
    const t0 = Date.now();
    other
      .prepare("SELECT honker_enqueue('beta', '{\"from\":\"elsewhere\"}', NULL, NULL, 0, 3, NULL)")
      .get();
    other.close();
    await page.waitForFunction(
      () =>
        document.querySelector('[data-queue="beta"] [data-stat="pending"] .stat-value')
          ?.textContent === "4",
      undefined,
      { timeout: 1000 },
    );
    const ms = Date.now() - t0;
    assert.ok(ms < 1000, `updated after ${ms} ms`);
    assert.equal(reloaded, false);
    await page.context().close();
  });

  it("redrives a dead job from the queue page (checked in SQLite)", async (t) => {
    if (skip) return t.skip(skip);
    const { page, problems } = await newPage();
    await page.goto(ui.url);
    await page.goto(`${new URL(ui.url).origin}/#/queue/alpha?state=dead`);
    const id = s.deadIds[0] as number;
    const row = page.locator(`tr[data-job="${id}"]`);
    await row.waitFor();
    await shot(page, "dead-letters");
    await row.locator('button[data-action="redrive"]').click();
    await page.locator(`tr[data-job="${id}"]`).waitFor({ state: "detached" });
    const live = s.db.raw
      .prepare("SELECT state, attempts FROM _honker_live WHERE id = ?")
      .get(id) as {
      state: string;
      attempts: number;
    };
    assert.deepEqual(live, { state: "pending", attempts: 0 });
    const dead = s.db.raw.prepare("SELECT count(*) FROM _honker_dead WHERE id = ?").pluck().get(id);
    assert.equal(dead, 0);
    assert.deepEqual(problems, []);
    await page.context().close();
  });

  it("shows the queue page (filtered), a job page and the stream browser", async (t) => {
    if (skip) return t.skip(skip);
    const { page, problems } = await newPage();
    await page.goto(ui.url);
    const origin = new URL(ui.url).origin;
    await page.goto(`${origin}/#/queue/alpha`);
    await page.locator("tr[data-job]").first().waitFor();
    assert.ok((await page.locator("tr[data-job]").count()) >= 5);
    await shot(page, "queue");
    await page.fill("#filter", "hello 3");
    await page.press("#filter", "Enter");
    await page.waitForFunction(() => document.querySelectorAll("tr[data-job]").length === 1);
    const jobId = Number(await page.locator("tr[data-job]").getAttribute("data-job"));
    await page.locator("tr[data-job] a").first().click();
    await page.locator("#job-state").waitFor();
    assert.equal(await page.locator("#job-state").textContent(), "pending");
    assert.match((await page.locator("pre.payload-full").textContent()) ?? "", /hello 3/);
    assert.equal(new URL(page.url()).hash, `#/job/${jobId}`);
    await shot(page, "job");
    // A completed job, from the history.
    const done = s.db.raw
      .prepare("SELECT id FROM _honker_x_history WHERE state = 'completed' LIMIT 1")
      .pluck()
      .get() as number;
    await page.goto(`${origin}/#/job/${done}`);
    await page.waitForFunction(
      () => document.querySelector("#job-state")?.textContent === "completed",
    );
    await page.goto(`${origin}/#/stream/events`);
    await page.locator("tr[data-offset]").first().waitFor();
    assert.equal(await page.locator("tr[data-offset]").count(), 5);
    await shot(page, "stream");
    await page.goto(`${origin}/#/schedules`);
    await page.locator('[data-schedule="hourly"]').waitFor();
    await shot(page, "schedules");
    assert.deepEqual(problems, []);
    await page.context().close();
  });

  it("enqueues a job with a JSON payload and pauses a schedule from the page", async (t) => {
    if (skip) return t.skip(skip);
    const { page } = await newPage();
    await page.goto(ui.url);
    await page.goto(`${new URL(ui.url).origin}/#/queue/beta`);
    await page.locator("#payload").waitFor();
    await page.fill("#payload", '{"typed": "in the page"}');
    await page.locator('button[data-action="enqueue"]').click();
    await page.locator("#toast", { hasText: "enqueued" }).waitFor();
    const n = s.db.raw
      .prepare(
        "SELECT count(*) FROM _honker_live WHERE queue = 'beta' AND payload LIKE '%in the page%'",
      )
      .pluck()
      .get();
    assert.equal(n, 1);
    await page.goto(`${new URL(ui.url).origin}/#/schedules`);
    await page.locator('[data-schedule="hourly"] button[data-action="pause"]').click();
    await page.locator('[data-schedule="hourly"] button[data-action="resume"]').waitFor();
    assert.equal(s.db.scheduler.list().find((x) => x.name === "hourly")?.enabled, false);
    await page.locator('[data-schedule="hourly"] button[data-action="resume"]').click();
    await page.locator('[data-schedule="hourly"] button[data-action="pause"]').waitFor();
    await page.context().close();
  });
});

describe("inspector: pausing a queue from the page", { timeout: 120_000 }, () => {
  let s: Seeded;
  let ui: Inspector;

  before(async () => {
    s = seed();
    ui = await inspector(s.db);
  });
  after(async () => {
    await ui?.close();
    await s?.cleanup();
  });

  it("pauses a queue for every worker (after a confirm) and resumes it (checked in SQLite)", async (t) => {
    if (skip) return t.skip(skip);
    const { page, problems } = await newPage();
    const questions: string[] = [];
    page.on("dialog", (d) => {
      questions.push(d.message());
      void d.accept();
    });
    await page.goto(ui.url);
    const card = page.locator('article[data-queue="beta"]').first();
    await card.waitFor();
    assert.equal(await card.getAttribute("data-paused"), "false");
    await card.locator('button[data-action="pause-queue"]').click();
    await page.locator('article[data-queue="beta"][data-paused="true"]').first().waitFor();
    assert.match(questions[0] ?? "", /^Pause beta\? No worker \(in any process\)/);
    assert.equal(s.db.queue("beta").isPaused(), true);
    assert.match(
      (await page
        .locator('article[data-queue="beta"] [data-pill="paused"]')
        .first()
        .textContent()) ?? "",
      /^paused /,
    );
    await shot(page, "paused-queue");
    await page
      .locator('article[data-queue="beta"] button[data-action="resume-queue"]')
      .first()
      .click();
    await page.locator('article[data-queue="beta"][data-paused="false"]').first().waitFor();
    assert.equal(s.db.queue("beta").isPaused(), false);
    assert.equal(questions.length, 1, "resuming asks nothing");
    assert.deepEqual(problems, []);
    await page.context().close();
  });
});

describe("inspector guards", { timeout: 120_000 }, () => {
  let s: Seeded;
  let ro: Inspector;
  let rw: Inspector;

  before(async () => {
    s = seed();
    rw = await inspector(s.db);
    ro = await inspectFile(s.path, { readOnly: true });
  });
  after(async () => {
    await ro?.close();
    await rw?.close();
    await s?.cleanup();
  });

  const counts = () =>
    s.db.raw
      .prepare(
        "SELECT (SELECT count(*) FROM _honker_live) || '/' || (SELECT count(*) FROM _honker_dead) || '/' || (SELECT count(*) FROM _honker_scheduler_tasks WHERE enabled) || '/' || (SELECT count(*) FROM _honker_x_paused)",
      )
      .pluck()
      .get();

  it("read-only: the page says why, every action gets 403 and nothing is written", async (t) => {
    if (skip) return t.skip(skip);
    const { page } = await newPage();
    await page.goto(ro.url);
    await page.locator("#banner").waitFor();
    assert.match((await page.locator("#banner").textContent()) ?? "", /read-only/i);
    await page.goto(`${new URL(ro.url).origin}/#/queue/alpha?state=dead`);
    await page.locator('button[data-action="redrive"]').first().waitFor();
    assert.equal(await page.locator('button[data-action="redrive"]').first().isDisabled(), true);
    assert.equal(await page.locator('button[data-action="redrive-all"]').isDisabled(), true);
    assert.equal(await page.locator('button[data-action="pause-queue"]').isDisabled(), true);
    await shot(page, "read-only");
    const before = counts();
    const actions = [
      { action: "redrive", queue: "alpha" },
      { action: "redrive", queue: "alpha", ids: s.deadIds },
      { action: "purgeDead", queue: "alpha" },
      { action: "cancel", queue: "alpha", id: 1 },
      { action: "enqueue", queue: "alpha", payload: { x: 1 } },
      { action: "pauseSchedule", name: "hourly" },
      { action: "resumeSchedule", name: "hourly" },
      { action: "runSchedule", name: "hourly" },
      { action: "pauseQueue", queue: "alpha" },
      { action: "resumeQueue", queue: "alpha" },
    ];
    const statuses = await page.evaluate(async (list) => {
      const out: number[] = [];
      for (const body of list) {
        const res = await fetch("/api/action", {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-Honker-Inspector": "1" },
          body: JSON.stringify(body),
        });
        out.push(res.status);
      }
      return out;
    }, actions);
    assert.deepEqual(
      statuses,
      actions.map(() => 403),
    );
    assert.equal(counts(), before);
    await page.context().close();
  });

  it("a request without the token gets 401; a wrong host 421", async () => {
    const origin = new URL(rw.url).origin;
    for (const path of ["/", "/app.js", "/api/overview", "/api/events", "/api/job?id=1"]) {
      const res = await fetch(`${origin}${path}`);
      assert.equal(res.status, 401, path);
    }
    const post = await fetch(`${origin}/api/action`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Honker-Inspector": "1" },
      body: JSON.stringify({ action: "purgeDead", queue: "alpha" }),
    });
    assert.equal(post.status, 401);
    const wrong = await fetch(`${origin}/?token=nope`, { redirect: "manual" });
    assert.equal(wrong.status, 401);
  });

  it("refuses a cross-origin POST (and one without the custom header)", async (t) => {
    const origin = new URL(rw.url).origin;
    const token = new URL(rw.url).searchParams.get("token");
    const auth = { Authorization: `Bearer ${token}`, "Content-Type": "application/json" };
    const body = JSON.stringify({ action: "purgeDead", queue: "alpha" });
    const before = counts();
    const foreign = await fetch(`${origin}/api/action`, {
      method: "POST",
      headers: { ...auth, "X-Honker-Inspector": "1", Origin: "http://evil.example" },
      body,
    });
    assert.equal(foreign.status, 403);
    const noHeader = await fetch(`${origin}/api/action`, { method: "POST", headers: auth, body });
    assert.equal(noHeader.status, 403);
    const form = await fetch(`${origin}/api/action`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${token}`,
        "X-Honker-Inspector": "1",
        "Content-Type": "text/plain",
      },
      body,
    });
    assert.equal(form.status, 415);
    assert.equal(counts(), before);
    if (skip) return t.skip(skip);
    // From a page of another origin in the browser (which holds the cookie).
    const { page } = await newPage();
    await page.goto(rw.url);
    await page.locator('[data-queue="alpha"]').waitFor();
    const evil = await page.context().newPage();
    await evil.goto("data:text/html,<p>elsewhere</p>");
    const outcome = await evil.evaluate(async (target) => {
      const results: string[] = [];
      try {
        const r = await fetch(target, {
          method: "POST",
          credentials: "include",
          headers: { "Content-Type": "application/json", "X-Honker-Inspector": "1" },
          body: JSON.stringify({ action: "purgeDead", queue: "alpha" }),
        });
        results.push(String(r.status));
      } catch {
        results.push("blocked");
      }
      try {
        await fetch(target, {
          method: "POST",
          mode: "no-cors",
          credentials: "include",
          headers: { "Content-Type": "text/plain" },
          body: JSON.stringify({ action: "purgeDead", queue: "alpha" }),
        });
        results.push("sent");
      } catch {
        results.push("blocked");
      }
      return results;
    }, `${origin}/api/action`);
    assert.equal(outcome[0], "blocked");
    assert.equal(counts(), before, "nothing was purged");
    await page.context().close();
  });
});
