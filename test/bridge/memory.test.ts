/**
 * Main's memory under a hostile page is bounded by the window's caps: a page
 * (its own thread) grants 2^31 credits on 200 subscriptions and never reads,
 * and fires 10,000 waitResult calls, while main publishes 50 MB of events.
 * Measured in child processes with --expose-gc (memory-child.ts): once with
 * the page, once without (the "control": what publishing alone costs).
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { READ_AHEAD_EVENTS } from "../../src/main/bridge/budget.ts";
import { TS_FLAGS } from "../helpers/db.ts";

const run = promisify(execFile);
const child = fileURLToPath(new URL("./memory-child.ts", import.meta.url));

interface Report {
  mode: string;
  before: { heap: number; rss: number };
  after: { heap: number; rss: number };
  heapGrowth: number;
  rssGrowth: number;
  publishedBytes: number;
  eventBytes: number;
  sent: number;
  inFlightBytes: number;
  peakInFlightBytes: number;
  maxInFlightBytes: number;
  peakCredits: number;
  maxCredits: number;
  subscriptions: number;
  maxSubscriptions: number;
  pendingWaits: number;
  maxPendingWaits: number;
  refusedWaits: number;
  otherReplies: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  gaps: Record<string, number>;
}

async function measure(mode: "hostile" | "control"): Promise<Report> {
  const { stdout } = await run(process.execPath, ["--expose-gc", ...TS_FLAGS, child, mode], {
    timeout: 110_000,
    maxBuffer: 1 << 20,
  });
  const line = stdout.split("\n").find((l) => l.startsWith("{"));
  assert.ok(line, `no report from the child: ${stdout.slice(0, 500)}`);
  return JSON.parse(line) as Report;
}

const mb = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

describe("main's memory under a page that abuses credits and waits", () => {
  it("stays within the window's caps, and main stays responsive", {
    timeout: 120_000,
  }, async () => {
    const control = await measure("control");
    const r = await measure("hostile");
    for (const x of [control, r]) {
      process.stdout.write(
        `${x.mode}: heap ${mb(x.before.heap)} -> ${mb(x.after.heap)} (+${mb(x.heapGrowth)}), ` +
          `rss ${mb(x.before.rss)} -> ${mb(x.after.rss)} (+${mb(x.rssGrowth)}); ` +
          `event-loop delay p99 ${x.loopDelayP99Ms.toFixed(0)} ms, max ${x.loopDelayMaxMs.toFixed(0)} ms; ` +
          `longest timer gap by phase ${JSON.stringify(Object.fromEntries(Object.entries(x.gaps).map(([k, v]) => [k, Math.round(v)])))}\n`,
      );
    }
    process.stdout.write(
      `hostile: published ${mb(r.publishedBytes)}; sent ${r.sent} events (${mb(r.sent * r.eventBytes)}); ` +
        `in flight ${mb(r.inFlightBytes)} (peak ${mb(r.peakInFlightBytes)}, cap ${mb(r.maxInFlightBytes)}); ` +
        `credits peak ${r.peakCredits} (cap ${r.maxCredits}); waits pending ${r.pendingWaits} ` +
        `(cap ${r.maxPendingWaits}), refused ${r.refusedWaits}\n`,
    );

    // The caps held.
    assert.equal(r.subscriptions, 200);
    assert.ok(r.peakInFlightBytes <= r.maxInFlightBytes, "in-flight bytes stayed under the cap");
    assert.ok(r.sent * r.eventBytes <= r.maxInFlightBytes, "nothing was sent beyond the cap");
    assert.ok(r.peakCredits <= r.maxCredits, "window credits stayed under the cap");
    assert.equal(r.pendingWaits, r.maxPendingWaits, "waits beyond the cap were refused");
    assert.equal(r.refusedWaits, 10_000 - r.maxPendingWaits, "with HONKER_RATE_LIMITED");
    assert.equal(r.otherReplies, 0);

    // Heap: what the caps allow main to hold for the window (the messages in
    // flight, one read-ahead batch and one held event per subscription, and
    // the pending waits), twice over for object overhead, plus 8 MiB of slack.
    const bound =
      2 *
        (r.maxInFlightBytes +
          r.subscriptions * (READ_AHEAD_EVENTS + 1) * r.eventBytes +
          r.maxPendingWaits * 4096) +
      8 * 1048576;
    assert.ok(
      r.heapGrowth - control.heapGrowth < bound,
      `heap grew ${mb(r.heapGrowth)} (control ${mb(control.heapGrowth)}); bound ${mb(bound)}`,
    );
    // RSS also holds the page's own thread (a V8 isolate of its own), its 200
    // ports and the unread messages queued on them, and malloc's slack; what
    // matters is that it stays in the tens of MiB: without the caps, 200
    // subscriptions x 10,000 credits would have queued gigabytes.
    assert.ok(
      r.rssGrowth - control.rssGrowth < r.maxInFlightBytes * 4 + 128 * 1048576,
      `rss grew ${mb(r.rssGrowth)} (control ${mb(control.rssGrowth)})`,
    );

    // Responsiveness: pushing to 200 hostile subscriptions while publishing
    // adds little to what publishing alone costs the loop; the 10,000-call
    // burst is decoded in one drain of the port (Node delivers a burst at
    // once), refusals answered without Comlink.
    assert.ok(
      r.gaps.publish !== undefined &&
        control.gaps.publish !== undefined &&
        r.gaps.publish < control.gaps.publish + 500,
      `publishing with the page: longest gap ${r.gaps.publish} ms (control ${control.gaps.publish} ms)`,
    );
    assert.ok((r.gaps.waits ?? 0) < 3000, `the 10,000-call burst held the loop ${r.gaps.waits} ms`);
    assert.ok(r.loopDelayP99Ms < 1000, `event-loop delay p99 ${r.loopDelayP99Ms} ms`);
  });
});
