import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type Db, freshDbEachTest, now, scalar } from "../helpers/db.ts";

let db: Db;
freshDbEachTest((c) => {
  db = c.db;
});

const count = (table: string) => scalar<number>(db, `(SELECT count(*) FROM ${table})`);

describe("retention", () => {
  it("prunes notifications older than a cutoff, at most `limit` per call", () => {
    for (let i = 0; i < 5; i++) scalar(db, "notify('c', ?)", String(i));
    db.prepare("UPDATE _honker_notifications SET created_at = ? WHERE id <= 3").run(now() - 1000);
    assert.equal(scalar(db, "honker_prune_notifications(500, NULL, 2)"), 2);
    assert.equal(scalar(db, "honker_prune_notifications(500, NULL, 100)"), 1);
    assert.equal(count("_honker_notifications"), 2);
  });

  it("keeps only the newest notifications by count", () => {
    for (let i = 0; i < 10; i++) scalar(db, "notify('c', ?)", String(i));
    assert.equal(scalar(db, "honker_prune_notifications(NULL, 3, 1000)"), 7);
    assert.deepEqual(
      db.prepare("SELECT id FROM _honker_notifications ORDER BY id").pluck().all(),
      [8, 9, 10],
    );
  });

  it("prunes one topic's stream by count, leaving other topics", () => {
    for (let i = 0; i < 5; i++) scalar(db, "honker_stream_publish('a', NULL, '1')");
    for (let i = 0; i < 2; i++) scalar(db, "honker_stream_publish('b', NULL, '1')");
    assert.equal(scalar(db, "honker_prune_stream('a', NULL, 2, 1000)"), 3);
    assert.equal(count("_honker_stream"), 4);
  });

  it("prunes stream rows by age", () => {
    for (let i = 0; i < 3; i++) scalar(db, "honker_stream_publish('a', NULL, '1')");
    db.prepare("UPDATE _honker_stream SET created_at = ? WHERE offset = 1").run(now() - 100);
    assert.equal(scalar(db, "honker_prune_stream(NULL, 50, NULL, 1000)"), 1);
  });

  it("prunes dead rows by age", () => {
    db.prepare(
      "INSERT INTO _honker_dead (id, queue, payload, died_at) VALUES (1, 'q', '1', ?), (2, 'q', '2', ?)",
    ).run(now() - 1000, now());
    assert.equal(scalar(db, "honker_prune_dead(500, 100)"), 1);
    assert.equal(count("_honker_dead"), 1);
  });
});
