import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Db, freshDbEachTest, now, scalar } from "../helpers/db.ts";

let db: Db;
freshDbEachTest((c) => {
  db = c.db;
});

const expireLock = (name: string) =>
  db.prepare("UPDATE _honker_locks SET expires_at = ? WHERE name = ?").run(now() - 5, name);

describe("locks", () => {
  it("gives a free lock to the first owner only", () => {
    assert.equal(scalar(db, "honker_lock_acquire('L', 'a', 30)"), 1);
    assert.equal(scalar(db, "honker_lock_acquire('L', 'b', 30)"), 0);
    assert.equal(scalar(db, "honker_lock_acquire('L', 'a', 30)"), 1, "re-entrant for its owner");
  });

  it("hands an expired lock to a new owner", () => {
    scalar(db, "honker_lock_acquire('L', 'a', 30)");
    expireLock("L");
    assert.equal(scalar(db, "honker_lock_acquire('L', 'b', 30)"), 1);
  });

  it("releases only for its owner", () => {
    scalar(db, "honker_lock_acquire('L', 'a', 30)");
    assert.equal(scalar(db, "honker_lock_release('L', 'b')"), 0);
    assert.equal(scalar(db, "honker_lock_release('L', 'a')"), 1);
    assert.equal(scalar(db, "honker_lock_acquire('L', 'b', 30)"), 1);
  });

  it("renews a live lock held by the caller", () => {
    scalar(db, "honker_lock_acquire('L', 'a', 5)");
    assert.equal(scalar(db, "honker_lock_renew('L', 'a', 600)"), 1);
    const exp = scalar<number>(db, "(SELECT expires_at FROM _honker_locks WHERE name = 'L')");
    assert.ok(exp >= now() + 599);
    assert.equal(scalar(db, "honker_lock_renew('L', 'b', 600)"), 0);
  });

  it("does not revive an expired lock on renew (honker does)", () => {
    scalar(db, "honker_lock_acquire('L', 'a', 5)");
    expireLock("L");
    assert.equal(scalar(db, "honker_lock_renew('L', 'a', 600)"), 0);
  });
});

describe("rate limits", () => {
  it("allows `limit` calls per window and does not count rejected ones", () => {
    const tries = [1, 2, 3].map(() => scalar(db, "honker_rate_limit_try('api', 2, 3600)"));
    assert.deepEqual(tries, [1, 1, 0]);
    assert.equal(scalar(db, "(SELECT count FROM _honker_rate_limits WHERE name = 'api')"), 2);
  });

  it("sweeps old windows", () => {
    db.prepare(
      "INSERT INTO _honker_rate_limits (name, window_start, count) VALUES ('x', 0, 1)",
    ).run();
    scalar(db, "honker_rate_limit_try('y', 5, 60)");
    assert.equal(scalar(db, "honker_rate_limit_sweep(3600)"), 1);
    assert.equal(scalar(db, "(SELECT count(*) FROM _honker_rate_limits)"), 1);
  });
});

describe("results", () => {
  it("saves and reads a result, replacing on a second save", () => {
    assert.equal(scalar(db, "honker_result_save(7, '{\"ok\":true}', 0)"), 1);
    assert.equal(scalar(db, "honker_result_get(7)"), '{"ok":true}');
    scalar(db, "honker_result_save(7, '2', 0)");
    assert.equal(scalar(db, "honker_result_get(7)"), "2");
    assert.equal(scalar(db, "honker_result_get(8)"), null);
  });

  it("hides an expired result and sweeps it", () => {
    scalar(db, "honker_result_save(1, '1', 60)");
    scalar(db, "honker_result_save(2, '2', 0)");
    db.prepare("UPDATE _honker_results SET expires_at = ? WHERE job_id = 1").run(now() - 5);
    assert.equal(scalar(db, "honker_result_get(1)"), null);
    assert.equal(scalar(db, "honker_result_sweep()"), 1);
    assert.equal(scalar(db, "honker_result_get(2)"), "2");
  });
});
