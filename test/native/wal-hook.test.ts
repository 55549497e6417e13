/**
 * honker_x_wal_watch / honker_x_wal_frames (native/wal.c): the WAL hook
 * that tells the host's checkpointer how big the WAL is, and stands in for
 * SQLite's automatic checkpoint when asked to.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Db, type FreshDb, freshDbEachTest, openDb, scalar } from "../helpers/db.ts";

let ctx: FreshDb;
let db: Db;
freshDbEachTest((c) => {
  ctx = c;
  db = c.db;
});

const frames = () => scalar<number>(db, "honker_x_wal_frames()");
const commit = (n = 1) => {
  for (let i = 0; i < n; i++) {
    scalar<number>(db, "honker_enqueue('q', ?, NULL, NULL, 0, 3, NULL)", JSON.stringify({ i }));
  }
};

describe("the extension's WAL hook", () => {
  it("is not installed until honker_x_wal_watch() is called (frames read -1)", () => {
    commit();
    assert.equal(frames(), -1);
    assert.equal(scalar<number>(db, "honker_x_wal_watch()"), -1);
  });

  it("reports the WAL's frame count after each commit of this connection", () => {
    db.pragma("wal_checkpoint(TRUNCATE)");
    assert.equal(scalar<number>(db, "honker_x_wal_watch(0)"), 1);
    assert.equal(scalar<number>(db, "honker_x_wal_watch()"), 0);
    commit();
    const one = frames();
    assert.ok(one > 0, `${one} frames after one commit`);
    commit();
    assert.ok(frames() > one, "more frames after a second commit");
  });

  it("counts another connection's frames too (the WAL's size, not this connection's share)", () => {
    scalar<number>(db, "honker_x_wal_watch(0)");
    commit();
    const before = frames();
    const other = openDb(ctx.path);
    try {
      for (let i = 0; i < 20; i++) {
        scalar<number>(other, "honker_enqueue('q', '{}', NULL, NULL, 0, 3, NULL)");
      }
    } finally {
      other.close();
    }
    commit();
    assert.ok(
      frames() > before + 20,
      `${frames()} frames, ${before} before the other's 20 commits`,
    );
  });

  it("with auto_pages, checkpoints at that many frames, after which the next commit rewinds the WAL", () => {
    db.pragma("wal_checkpoint(TRUNCATE)");
    scalar<number>(db, "honker_x_wal_watch(16)");
    let max = 0;
    let rewound = false;
    for (let i = 0; i < 200; i++) {
      commit();
      const f = frames();
      if (f < max) rewound = true;
      max = Math.max(max, f);
    }
    assert.ok(rewound, "the WAL started over at its front");
    assert.ok(max < 16 + 16, `at most ${max} frames (the threshold plus one commit)`);
  });

  it("notices when PRAGMA wal_autocheckpoint replaced it: reports -1 and leaves the app's setting", () => {
    scalar<number>(db, "honker_x_wal_watch(0)");
    commit();
    assert.ok(frames() > 0);
    db.pragma("wal_autocheckpoint = 500");
    commit();
    // The count would be stale from here on: no answer rather than a wrong one.
    assert.equal(frames(), -1);
    assert.equal(scalar<number>(db, "honker_x_wal_watch()"), -1);
    assert.equal(db.pragma("wal_autocheckpoint", { simple: true }), 500);
    // Asked again, it takes over again.
    assert.equal(scalar<number>(db, "honker_x_wal_watch(0)"), 1);
    commit();
    assert.ok(frames() > 0);
  });

  it("refuses a negative or non-integer page count, with the function's name", () => {
    assert.throws(
      () => scalar(db, "honker_x_wal_watch(-1)"),
      /honker_x_wal_watch: auto_pages must be between 0 and 1073741824, got -1/,
    );
    assert.throws(() => scalar(db, "honker_x_wal_watch('x')"), /honker_x_wal_watch/);
  });
});
