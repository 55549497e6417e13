/**
 * Outboxes as the bridge serves them to a page. The page never adds (writes
 * stay in main, with the app's own changes); it reads the status and, with
 * `control`, steers the outbox main has open.
 *
 * Which outbox answers: the one `db.outbox(name, ...)` opened in this
 * process and not stopped (`db.openedOutbox`), if it has a transport. When
 * none is (or it only adds), the status is
 * read from the file (counts and the stored pause are there) with
 * `online: null` and `lastError: null` (nobody in main relays it), and control calls are
 * refused with HONKER_NOT_FOUND. The bridge never opens an outbox itself:
 * the app's own `db.outbox(name, options)` would then get that handle,
 * without its transport.
 */
import type { WireDeadMessage, WireOutboxStatus } from "../../protocol/index.ts";
import type { HonkerDatabase } from "../database.ts";
import { HonkerError } from "../errors.ts";
import { type Outbox, type OutboxStatus, storedStatus } from "../outbox/outbox.ts";

// biome-ignore lint/suspicious/noExplicitAny: serves any schema
type AnyDb = HonkerDatabase<any>;

function toWire(s: OutboxStatus): WireOutboxStatus {
  return {
    pending: s.pending,
    inFlight: s.inFlight,
    dead: s.dead,
    delivered: s.delivered,
    online: s.online,
    paused: s.paused,
    lastError: s.lastError,
    lastDeliveredAt: s.lastDeliveredAt,
    nextAttemptAt: s.nextAttemptAt,
  };
}

/** The status of outbox `name`: from the outbox open in main, else from the file. */
export function outboxStatus(db: AnyDb, name: string): WireOutboxStatus {
  const ob = db.openedOutbox(name);
  // A handle without a transport relays nothing: its online is no one's.
  if (ob?.relays) return toWire(ob.status());
  return {
    ...storedStatus(db, name),
    online: null,
    lastError: null,
  };
}

/** The outbox open in main, for a control call; HONKER_NOT_FOUND when none is. */
export function openedOutbox(db: AnyDb, name: string, doing: string): Outbox<unknown> {
  const ob = db.openedOutbox(name);
  if (!ob) {
    throw new HonkerError(
      "HONKER_NOT_FOUND",
      `${doing}: no outbox '${name}' is open in the main process (db.outbox('${name}', ...))`,
    );
  }
  return ob;
}

/** Dead messages of the open outbox, newest first, JSON-safe. */
export function deadMessages(ob: Outbox<unknown>, limit: number): WireDeadMessage[] {
  return ob.dead({ limit }).map((m) => ({
    id: m.id,
    key: m.key,
    payload: m.payload,
    attempts: m.attempts,
    error: m.error,
    createdAt: m.createdAt,
    diedAt: m.diedAt,
  }));
}

/**
 * Calls `onChange` whenever outbox `name`'s status may have changed: on
 * every commit to the file (counts), and on the open outbox's own status
 * changes (online, paused, lastError), following whichever outbox is open
 * in main as the app stops and reopens it. (An outbox opened after the
 * page subscribed is picked up at the next commit to the file.) Returns an
 * unsubscribe function.
 */
export function watchOutbox(db: AnyDb, name: string, onChange: () => void): () => void {
  let current: Outbox<unknown> | undefined;
  let offStatus: (() => void) | null = null;
  let stopped = false;
  const follow = () => {
    const ob = db.openedOutbox(name);
    if (ob === current) return;
    offStatus?.();
    offStatus = null;
    current = ob;
    if (ob) offStatus = ob.onStatus(() => onChange());
  };
  const offCommits = db.watcher.subscribe(() => {
    if (stopped) return;
    follow();
    onChange();
  });
  follow();
  return () => {
    stopped = true;
    offCommits();
    offStatus?.();
    offStatus = null;
    current = undefined;
  };
}
