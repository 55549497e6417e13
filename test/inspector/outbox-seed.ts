/** An outbox in every state, written through the extension's SQL contract. */
import type { AnyHonkerDatabase } from "../../src/main/database.ts";

export interface OutboxSeed {
  delivered: number[];
  dead: number[];
  backoff: number[];
  inFlight: number[];
  waiting: number[];
}

/**
 * Outbox `name` of `db`: 2 delivered, 2 dead (rejected "HTTP 422: unknown
 * user"), 2 in backoff (retried "HTTP 503", due in 10 minutes), 1 in flight
 * (claimed by "relay-x" for 10 minutes), 3 waiting and due.
 */
export function seedOutbox(db: AnyHonkerDatabase, name = "sync"): OutboxSeed {
  const add = db.raw.prepare("SELECT honker_x_outbox_add(?, ?, ?, 20)").pluck();
  const claim = db.raw.prepare("SELECT honker_x_outbox_claim(?, ?, 100, ?)").pluck();
  const settle = db.raw.prepare("SELECT honker_x_outbox_settle(?, ?, ?, ?, ?)").pluck();
  const adds = (n: number, key?: (i: number) => string) =>
    Array.from(
      { length: n },
      (_, i) => add.get(name, JSON.stringify({ op: "put", n: i }), key?.(i) ?? null) as number,
    );
  const claimAll = (relay: string, seconds = 60) =>
    (JSON.parse(claim.get(name, relay, seconds) as string) as { id: number }[]).map((m) => m.id);
  const out: OutboxSeed = { delivered: [], dead: [], backoff: [], inFlight: [], waiting: [] };
  out.delivered = adds(2);
  for (const id of claimAll("r")) settle.get(id, "r", "delivered", 0, null);
  out.dead = adds(2);
  for (const id of claimAll("r")) settle.get(id, "r", "rejected", 0, "HTTP 422: unknown user");
  out.backoff = adds(2, (i) => `note:${i + 1}`);
  for (const id of claimAll("r")) settle.get(id, "r", "retry", 600, "HTTP 503");
  out.inFlight = adds(1, () => "note:3");
  claimAll("relay-x", 600);
  out.waiting = adds(3);
  return out;
}
