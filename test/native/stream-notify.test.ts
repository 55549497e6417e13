import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type Db, freshDbEachTest, json, openDb, scalar, tempDir } from "../helpers/db.ts";

let db: Db;
freshDbEachTest((c) => {
  db = c.db;
});

type Event = {
  created_at: number;
  key: string | null;
  offset: number;
  payload: string;
  topic: string;
};

describe("streams", () => {
  it("publishes with one global offset sequence across topics", () => {
    assert.equal(scalar(db, "honker_stream_publish('a', 'k1', '{\"x\":1}')"), 1);
    assert.equal(scalar(db, "honker_stream_publish('b', NULL, '2')"), 2);
    assert.equal(scalar(db, "honker_stream_publish('a', NULL, '3')"), 3);
  });

  it("reads events after an offset, ascending, in honker's shape", () => {
    db.prepare("SELECT honker_stream_publish('t', 'k1', '{\"x\":1}')").get();
    db.prepare("SELECT honker_stream_publish('other', NULL, '0')").get();
    db.prepare("SELECT honker_stream_publish('t', NULL, '\"plain\"')").get();
    const events = json<Event[]>(db, "honker_stream_read_since('t', 0, 10)");
    assert.deepEqual(
      events.map((e) => [e.offset, e.key, e.payload, e.topic]),
      [
        [1, "k1", '{"x":1}', "t"],
        [3, null, '"plain"', "t"],
      ],
    );
    assert.deepEqual(Object.keys(events[0] ?? {}), [
      "created_at",
      "key",
      "offset",
      "payload",
      "topic",
    ]);
    assert.deepEqual(
      json<Event[]>(db, "honker_stream_read_since('t', 1, 10)").map((e) => e.offset),
      [3],
    );
    assert.deepEqual(json<Event[]>(db, "honker_stream_read_since('t', 0, 1)").length, 1);
    assert.equal(scalar(db, "honker_stream_read_since('t', 3, 10)"), "[]");
  });

  it("saves consumer offsets that never move backwards", () => {
    assert.equal(scalar(db, "honker_stream_get_offset('c', 't')"), 0);
    assert.equal(scalar(db, "honker_stream_save_offset('c', 't', 2)"), 1);
    assert.equal(scalar(db, "honker_stream_save_offset('c', 't', 1)"), 0);
    assert.equal(scalar(db, "honker_stream_save_offset('c', 't', 2)"), 0);
    assert.equal(scalar(db, "honker_stream_save_offset('c', 't', 3)"), 1);
    assert.equal(scalar(db, "honker_stream_get_offset('c', 't')"), 3);
    assert.equal(scalar(db, "honker_stream_get_offset('c', 'other')"), 0);
  });

  it("keeps (consumer, topic) in honker's column order", () => {
    db.prepare("SELECT honker_stream_save_offset('consumer-1', 'topic-1', 5)").get();
    assert.deepEqual(db.prepare("SELECT name, topic, offset FROM _honker_stream_consumers").get(), {
      name: "consumer-1",
      topic: "topic-1",
      offset: 5,
    });
  });
});

describe("notify", () => {
  it("inserts a notification row and returns its id", () => {
    assert.equal(scalar(db, "notify('orders', '{\"id\":1}')"), 1);
    assert.equal(scalar(db, "notify('orders', '2')"), 2);
    assert.deepEqual(db.prepare("SELECT channel, payload FROM _honker_notifications").all(), [
      { channel: "orders", payload: '{"id":1}' },
      { channel: "orders", payload: "2" },
    ]);
  });

  it("disappears with a rolled-back transaction", () => {
    db.exec("BEGIN");
    db.prepare("SELECT notify('c', '1')").get();
    db.exec("ROLLBACK");
    assert.equal(scalar(db, "(SELECT count(*) FROM _honker_notifications)"), 0);
  });
});

describe("notify before honker_bootstrap()", () => {
  it("creates honker's notifications table on first use, as honker does at load", () => {
    const { dir, cleanup } = tempDir();
    try {
      const fresh = openDb(join(dir, "fresh.db"), { bootstrap: false });
      assert.equal(scalar(fresh, "notify('c', '1')"), 1);
      assert.equal(scalar(fresh, "(SELECT payload FROM _honker_notifications)"), "1");
      fresh.close();
    } finally {
      cleanup();
    }
  });
});
