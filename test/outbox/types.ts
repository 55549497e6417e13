/**
 * Type tests for outboxes, checked by `tsc -p tsconfig.json --noEmit`
 * (never run): every `@ts-expect-error` line must fail to compile.
 */
import type { HonkerDatabase } from "../../src/main/database.ts";

type WithOutboxes = {
  queues: Record<string, never>;
  streams: Record<string, never>;
  channels: Record<string, never>;
  outboxes: { sync: { op: "put" | "delete"; id: string } };
};
type WithoutOutboxes = {
  queues: { jobs: { n: number } };
  streams: Record<string, never>;
  channels: Record<string, never>;
};

declare const typed: HonkerDatabase<WithOutboxes>;
declare const untyped: HonkerDatabase<WithoutOutboxes>;

typed.outbox("sync").add({ op: "put", id: "1" }, { key: "note:1" });
// @ts-expect-error an outbox the schema does not name
typed.outbox("other");
// @ts-expect-error a message of the wrong shape
typed.outbox("sync").add({ op: "upsert", id: "1" });

// A schema without `outboxes` (every schema written before them) takes any name and JSON.
untyped.outbox("anything").add({ whatever: [1, 2] });
untyped.queue("jobs").enqueue({ n: 1 });
