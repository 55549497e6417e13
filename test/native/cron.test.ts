import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { type Db, freshDb, scalar, TS_FLAGS } from "../helpers/db.ts";

// 2026-04-19 12:30:00 UTC, a Sunday.
const FROM = 1776601800;
let ctx: ReturnType<typeof freshDb>;
let db: Db;
before(() => {
  ctx = freshDb();
  db = ctx.db;
});
after(() => ctx.close());

const next = (expr: string, from = FROM) =>
  scalar<number>(db, "honker_cron_next_after(?, ?)", expr, from);
const iso = (t: number) => new Date(t * 1000).toISOString();

// The extension uses the process's local time zone; these cases need UTC.
const utc = process.env.TZ === "UTC";

describe("honker_cron_next_after", { skip: utc ? false : "runs in a child with TZ=UTC" }, () => {
  it("matches honker's observed values", () => {
    assert.equal(next("* * * * *"), 1776601860);
    assert.equal(next("*/5 * * * *"), 1776602100);
    assert.equal(next("*/10 * * * * *"), 1776601810);
    assert.equal(next("@every 1s"), 1776601801);
    assert.equal(next("@every 2m"), 1776601920);
    assert.equal(next("@every  3h"), 1776612600);
    assert.equal(next("0 3 * * *"), 1776654000);
    assert.equal(next("1,2-4,*/20 * * * *"), 1776602400);
  });

  it("reads `a/n` as from a to the field's maximum, step n (Vixie cron; honker reads just a)", () => {
    // 12:40 fires, then 12:47 (honker's reading: 13:40).
    assert.equal(iso(next("40/7 * * * *")), "2026-04-19T12:40:00.000Z");
    assert.equal(iso(next("40/7 * * * *", FROM + 600)), "2026-04-19T12:47:00.000Z");
    assert.equal(iso(next("40/7 * * * *", FROM + 1440)), "2026-04-19T13:40:00.000Z");
    assert.equal(iso(next("1/2 * * * *")), "2026-04-19T12:31:00.000Z");
    assert.equal(iso(next("0 20/2 * * *")), "2026-04-19T20:00:00.000Z");
    assert.equal(iso(next("0 20/2 * * *", FROM + 8 * 3600)), "2026-04-19T22:00:00.000Z");
    // A step past the maximum leaves just a.
    assert.equal(iso(next("50/20 * * * *", FROM + 1200)), "2026-04-19T13:50:00.000Z");
    // Day of week runs up to 7, Sunday: 6/1 is Saturday and Sunday.
    assert.equal(iso(next("0 9 * * 6/1")), "2026-04-25T09:00:00.000Z");
    assert.equal(iso(next("0 9 * * 6/1", FROM + 6 * 86400)), "2026-04-26T09:00:00.000Z");
    // Names start a step too; 6-field seconds as well.
    assert.equal(iso(next("0 0 1 NOV/1 *")), "2026-11-01T00:00:00.000Z");
    assert.equal(next("10/25 * * * * *"), FROM + 10);
    assert.equal(next("10/25 * * * * *", FROM + 10), FROM + 35);
  });

  it("is strictly after the start", () => {
    assert.equal(next("30 12 * * *"), FROM + 86400);
  });

  it("ANDs day-of-month with day-of-week, as honker does", () => {
    assert.equal(iso(next("0 0 13 * 5")), "2026-11-13T00:00:00.000Z");
  });

  it("accepts day and month names, 7 for Sunday, and macros (honker does not)", () => {
    assert.equal(iso(next("0 9 * * MON")), "2026-04-20T09:00:00.000Z");
    assert.equal(iso(next("0 9 * * 7")), "2026-04-26T09:00:00.000Z");
    assert.equal(iso(next("0 9 1 JAN *")), "2027-01-01T09:00:00.000Z");
    assert.equal(iso(next("@daily")), "2026-04-20T00:00:00.000Z");
    assert.equal(iso(next("@hourly")), "2026-04-19T13:00:00.000Z");
    assert.equal(iso(next("@weekly")), "2026-04-26T00:00:00.000Z");
    assert.equal(iso(next("@monthly")), "2026-05-01T00:00:00.000Z");
    assert.equal(iso(next("@yearly")), "2027-01-01T00:00:00.000Z");
  });

  it("rejects malformed expressions with a message naming the function", () => {
    for (const bad of [
      "",
      "* * *",
      "61 * * * *",
      "*/0 * * * *",
      "@every 0s",
      "@every 5w",
      "0 0 * * XYZ",
    ]) {
      assert.throws(() => next(bad), /honker_cron_next_after: argument 1 \(expr\)/, bad);
    }
  });

  it("reports a schedule that never fires", () => {
    assert.throws(() => next("0 0 31 2 *"), /honker_cron_next_after: .*no .*within 100 years/);
  });
});

describe("time zones", () => {
  it("uses the local time zone (America/New_York: 03:00 local is 07:00 UTC)", () => {
    const out = spawnSync(
      process.execPath,
      [
        ...TS_FLAGS,
        "-e",
        `import("${new URL("../helpers/db.ts", import.meta.url).href}").then(({ freshDb, scalar }) => {
           const c = freshDb();
           process.stdout.write(String(scalar(c.db, "honker_cron_next_after('0 3 * * *', ${FROM})")));
           c.close();
         })`,
      ],
      { env: { ...process.env, TZ: "America/New_York" }, encoding: "utf8" },
    );
    assert.equal(out.stderr, "");
    assert.equal(iso(Number(out.stdout)), "2026-04-20T07:00:00.000Z");
  });

  it("runs the UTC cases in a child with TZ=UTC", { skip: utc ? "already UTC" : false }, () => {
    const res = spawnSync(
      process.execPath,
      [...TS_FLAGS, "--test", "--test-reporter=dot", new URL(import.meta.url).pathname],
      { env: { ...process.env, TZ: "UTC" }, encoding: "utf8" },
    );
    assert.equal(res.status, 0, res.stdout + res.stderr);
  });
});
