import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Db, freshDbEachTest, json, now, scalar } from "../helpers/db.ts";

let db: Db;
freshDbEachTest((c) => {
  db = c.db;
});

type Task = {
  cron_expr: string;
  enabled: boolean;
  expires_s: number | null;
  max_attempts: number;
  name: string;
  next_fire_at: number;
  payload: string;
  priority: number;
  queue: string;
};
type Fire = { fire_at: number; job_id: number; name: string; queue: string };

const register = (name: string, expr: string, extra = "") =>
  scalar(db, `honker_scheduler_register(?, 'jobs', ?, '{"k":1}', 2, 60${extra})`, name, expr);
const list = () => json<Task[]>(db, "honker_scheduler_list()");
const tick = (at: number) => json<Fire[]>(db, "honker_scheduler_tick(?)", at);

describe("scheduler", () => {
  it("registers a task with its next fire time and lists it in honker's shape", () => {
    assert.equal(register("nightly", "@every 10s", ", 5"), 1);
    const [task] = list();
    assert.deepEqual(Object.keys(task ?? {}), [
      "cron_expr",
      "enabled",
      "expires_s",
      "max_attempts",
      "name",
      "next_fire_at",
      "payload",
      "priority",
      "queue",
    ]);
    assert.equal(task?.enabled, true);
    assert.equal(task?.max_attempts, 5);
    assert.equal(task?.payload, '{"k":1}');
    assert.ok(Math.abs((task?.next_fire_at ?? 0) - (now() + 10)) <= 1);
  });

  it("fires every due boundary once and enqueues a job for each", () => {
    register("t", "@every 10s");
    const first = list()[0]?.next_fire_at ?? 0;
    const fires = tick(first + 10);
    assert.deepEqual(
      fires.map((f) => [f.name, f.queue, f.fire_at]),
      [
        ["t", "jobs", first],
        ["t", "jobs", first + 10],
      ],
    );
    assert.equal(scalar(db, "(SELECT count(*) FROM _honker_live WHERE queue = 'jobs')"), 2);
    assert.deepEqual(tick(first + 10), [], "the same boundary never fires twice");
    assert.equal(list()[0]?.next_fire_at, first + 20);
  });

  it("caps a catch-up at 64 fires and skips ahead", () => {
    register("t", "@every 1s");
    const first = list()[0]?.next_fire_at ?? 0;
    assert.equal(tick(first + 1000).length, 64);
    assert.equal(list()[0]?.next_fire_at, first + 1001);
  });

  it("pauses and resumes; a paused task does not fire", () => {
    register("t", "@every 10s");
    assert.equal(scalar(db, "honker_scheduler_pause('t')"), 1);
    assert.equal(scalar(db, "honker_scheduler_pause('t')"), 0);
    assert.deepEqual(tick(now() + 100), []);
    assert.equal(scalar(db, "honker_scheduler_soonest()"), 0);
    assert.equal(scalar(db, "honker_scheduler_resume('t')"), 1);
    assert.ok(tick(now() + 100).length > 0);
  });

  it("re-registering keeps a paused task paused", () => {
    register("t", "@every 10s");
    scalar(db, "honker_scheduler_pause('t')");
    register("t", "@every 20s");
    assert.equal(list()[0]?.enabled, false);
    assert.equal(list()[0]?.cron_expr, "@every 20s");
  });

  it("updates fields and leaves NULL ones unchanged", () => {
    register("t", "@every 10s");
    assert.equal(scalar(db, "honker_scheduler_update('t', NULL, '\"new\"', 7, NULL, 0)"), 1);
    const task = list()[0];
    assert.equal(task?.payload, '"new"');
    assert.equal(task?.priority, 7);
    assert.equal(task?.expires_s, 60);
    assert.equal(scalar(db, "honker_scheduler_update('missing', NULL, NULL, 1, NULL, 0)"), 0);
  });

  it("soonest is the earliest next fire of an enabled task", () => {
    register("a", "@every 100s");
    register("b", "@every 10s");
    assert.equal(
      scalar(db, "honker_scheduler_soonest()"),
      list().find((t) => t.name === "b")?.next_fire_at,
    );
  });

  it("unregisters a task", () => {
    register("t", "@every 10s");
    assert.equal(scalar(db, "honker_scheduler_unregister('t')"), 1);
    assert.deepEqual(list(), []);
  });

  it("refuses a bad cron expression and writes nothing", () => {
    assert.throws(() => register("t", "not cron"), /honker_scheduler_register: .*expr|cron/);
    assert.deepEqual(list(), []);
  });
});
