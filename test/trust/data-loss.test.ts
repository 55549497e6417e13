/**
 * Trust, class 3: nothing is silently lost or misrouted. Names must be
 * well-formed Unicode; payloads, results and progress must be plain JSON all
 * the way down, refused with the path of the bad value otherwise; a result
 * that cannot be stored never makes completed work run again.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isHonkerError } from "../../src/main/errors.ts";
import { deferred, until, withCleanups } from "../helpers/host.ts";

const { tempDb } = withCleanups();

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(
    fn,
    (err) => isHonkerError(err, "HONKER_INVALID_ARGUMENT") && pattern.test(err.message),
  );
}

describe("names", () => {
  it("refuses queue, stream and channel names with lone surrogates, which would collide as U+FFFD", () => {
    const { db } = tempDb();
    refused(() => db.queue("a\uD800"), /queue\(name\): name must be well-formed Unicode/);
    refused(() => db.queue("a\uDC00"), /surrogate/);
    refused(() => db.stream("s\uD800"), /stream\(name\): name must be well-formed Unicode/);
    refused(
      () => db.notify("c\uD800", 1),
      /notify\(channel, payload\): channel must be well-formed/,
    );
    refused(() => db.listen("c\uD800"), /listen\(channel\): channel must be well-formed/);
    refused(() => db.tryLock("l\uD800"), /name must be well-formed/);
    // A well-formed pair (an emoji) is a fine name.
    const q = db.queue("mail-\u{1F4E8}");
    q.enqueue(1);
    assert.equal(q.stats().pending, 1);
  });
});

describe("payloads", () => {
  const cases: [string, unknown, RegExp][] = [
    ["a Map", new Map([["a", 1]]), /payload is a Map object, not plain JSON data/],
    ["a Set inside an object", { tags: new Set(["x"]) }, /payload\.tags is a Set object/],
    [
      "NaN inside an array",
      { xs: [1, Number.NaN] },
      /payload\.xs\[1\] is NaN, which JSON cannot hold/,
    ],
    ["Infinity", { n: Number.POSITIVE_INFINITY }, /payload\.n is Infinity/],
    ["a Date", { at: new Date(0) }, /payload\.at is a Date object/],
    ["a BigInt", { id: 1n }, /payload\.id is a BigInt/],
    ["undefined in an array", [undefined], /payload\[0\] is undefined/],
    ["a function", { f: () => 1 }, /payload\.f is a function/],
  ];
  for (const [what, payload, pattern] of cases) {
    it(`refuses ${what} with its path, for enqueue, publish and notify alike`, () => {
      const { db } = tempDb();
      refused(() => db.queue("q").enqueue(payload), pattern);
      refused(() => db.stream("s").publish(payload), pattern);
      refused(() => db.notify("c", payload), pattern);
      assert.equal(db.queue("q").stats().pending, 0);
      assert.deepEqual(db.stream("s").read(), []);
    });
  }

  it("stores an object with an undefined field as that field omitted", () => {
    const { db } = tempDb();
    const q = db.queue("q");
    const id = q.enqueue({ a: 1, b: undefined });
    assert.deepEqual(q.getJob(id)?.payload, { a: 1 });
  });

  it("refuses progress that is not plain JSON and writes none", () => {
    const { db } = tempDb();
    const q = db.queue("q");
    const id = q.enqueue(1);
    q.claim("w");
    refused(
      () => q.setProgress(id, { at: new Map() }),
      /setProgress: progress\.at is a Map object/,
    );
    assert.equal(q.getJob(id)?.progress, undefined);
  });
});

describe("results that cannot be stored", () => {
  it("complete the job anyway (it never runs again) and report the result error", async () => {
    const { db } = tempDb();
    const q = db.queue("q");
    const id = q.enqueue(1);
    let runs = 0;
    const reported = deferred<{ message: string; outcome: string }>();
    const worker = q.work(
      () => {
        runs++;
        return { big: 10n };
      },
      {
        onError: (err, _job, outcome) =>
          reported.resolve({ message: (err as Error).message, outcome }),
      },
    );
    const { message, outcome } = await reported.promise;
    await until(
      db,
      () => q.stats().processing === 0 && q.stats().pending === 0,
      5000,
      "job completed",
    );
    await worker.stop();
    assert.equal(outcome, "completed");
    assert.match(message, new RegExp(`job ${id} result\\.big is a BigInt`));
    assert.equal(runs, 1);
    assert.equal(q.stats().dead, 0);
    assert.equal(q.getResult(id), undefined);
  });
});
