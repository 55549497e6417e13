/**
 * Outboxes in a real Chromium: the overview's outbox card with the file's
 * numbers, the outbox page's tabs, redrive and flush from the page (checked
 * in SQLite), a relay's delivery showing without a reload, and read-only
 * mode with every outbox button disabled. Screenshots in
 * .cache/inspector-screenshots/.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Browser, Page } from "playwright-core";
import { type Inspector, inspectFile, inspector } from "../../src/inspector/index.ts";
import { type AnyHonkerDatabase, open } from "../../src/main/database.ts";
import type { DeliveryOutcome } from "../../src/main/outbox/transport.ts";
import { tempDir } from "../helpers/db.ts";
import { launch, newPage as openPage, SHOTS } from "./browser.ts";
import { seedOutbox } from "./outbox-seed.ts";

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

const stat = (page: Page, label: string) =>
  page.locator(`[data-outbox="sync"] [data-stat="${label}"] .stat-value`).first();

describe("outboxes in Chromium", { timeout: 120_000 }, () => {
  let db: AnyHonkerDatabase;
  let path: string;
  let cleanup: () => void;
  let ui: Inspector;

  before(async () => {
    const t = tempDir("honker-inspector-outbox-browser-");
    cleanup = t.cleanup;
    path = join(t.dir, "app.db");
    db = open(path, { retention: false });
    seedOutbox(db);
    ui = await inspector(db);
  });
  after(async () => {
    await ui?.close();
    await db?.close();
    cleanup?.();
  });

  it("shows the outbox card, redrives and flushes from the outbox page, and a delivery live", async (t) => {
    if (skip) return t.skip(skip);
    const { page, problems } = await newPage();
    await page.goto(ui.url);
    await page.locator('[data-outbox="sync"]').waitFor();
    assert.deepEqual(
      [
        await stat(page, "waiting").textContent(),
        await stat(page, "in flight").textContent(),
        await stat(page, "dead").textContent(),
        await stat(page, "delivered").textContent(),
      ],
      ["5", "1", "2", "2"],
    );
    assert.match(
      (await page.locator('[data-outbox="sync"] [data-last-error]').textContent()) ?? "",
      /last error HTTP 503 \(message #[56]\)/,
    );
    await page.screenshot({ path: join(SHOTS, "outbox-overview.png"), fullPage: true });

    // The dead tab: redrive one message (no confirmation for one, as for jobs).
    await page.locator('[data-outbox="sync"] [data-stat="dead"]').click();
    await page.locator('tr[data-message="4"]').waitFor();
    assert.equal(await page.locator("tr[data-message]").count(), 2);
    await page.screenshot({ path: join(SHOTS, "outbox-dead.png"), fullPage: true });
    await page.locator('tr[data-message="4"] [data-action="redrive"]').click();
    await page.locator('tr[data-message="4"]').waitFor({ state: "detached" });
    const state = (id: number) =>
      db.raw.prepare("SELECT state FROM _honker_x_outbox WHERE id = ?").pluck().get(id);
    assert.equal(state(4), "pending");

    // Flush: the two in backoff become due now.
    await page.locator('[data-tab="waiting"]').click();
    await page.locator('tr[data-message="5"]').waitFor();
    await page.screenshot({ path: join(SHOTS, "outbox-waiting.png"), fullPage: true });
    await page.locator('[data-action="flush"]').click();
    await page.locator("#toast", { hasText: "2 messages in backoff made due now" }).waitFor();
    const inBackoff = () =>
      db.raw
        .prepare(
          "SELECT count(*) FROM _honker_x_outbox WHERE state = 'pending' AND run_at > unixepoch()",
        )
        .pluck()
        .get();
    assert.equal(inBackoff(), 0);

    // A relay delivers everything due: the page follows without a reload.
    let reloaded = false;
    page.on("load", () => {
      reloaded = true;
    });
    const relay = db.outbox("sync", {
      transport: async (batch) => batch.map((): DeliveryOutcome => ({ status: "delivered" })),
      batchSize: 50,
    });
    try {
      // Claimed (waiting 0, in flight) comes a moment before settled
      // (delivered 8): the page may show either in between, so wait for both.
      await page.waitForFunction(
        () =>
          document.querySelector('[data-outbox="sync"] [data-stat="waiting"] .stat-value')
            ?.textContent === "0" &&
          document.querySelector('[data-outbox="sync"] [data-stat="delivered"] .stat-value')
            ?.textContent === "8",
        undefined,
        { timeout: 5000 },
      );
      assert.equal(await stat(page, "delivered").textContent(), "8");
      await page.locator("p.empty", { hasText: "Nothing waiting" }).waitFor();
    } finally {
      await relay.stop();
    }
    assert.equal(reloaded, false);
    assert.deepEqual(problems, []);
    await page.context().close();
  });

  it("disables every outbox action read-only, with the reason", async (t) => {
    if (skip) return t.skip(skip);
    const ro = await inspectFile(path, { readOnly: true });
    try {
      const { page, problems } = await newPage();
      await page.goto(ro.url);
      await page.goto(`${new URL(ro.url).origin}/#/outbox/sync?state=dead`);
      await page.locator('[data-action="flush"]').waitFor();
      for (const action of ["flush", "redrive-all", "purge"]) {
        const b = page.locator(`[data-action="${action}"]`);
        assert.equal(await b.isDisabled(), true, action);
        assert.match((await b.getAttribute("title")) ?? "", /Read-only/);
      }
      assert.match((await page.locator("#banner").textContent()) ?? "", /read-only/i);
      await page.screenshot({ path: join(SHOTS, "outbox-read-only.png"), fullPage: true });
      assert.deepEqual(problems, []);
      await page.context().close();
    } finally {
      await ro.close();
    }
  });
});
