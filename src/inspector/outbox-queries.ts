/**
 * The inspector's reads of outboxes, straight from the file's
 * `_honker_x_outbox*` tables (so every relay's messages show, whatever
 * process relays them). Each query walks one of the outbox indexes
 * (`_honker_x_outbox_due`, `_honker_x_outbox_inflight`,
 * `_honker_x_outbox_dead_name`, the stats table's key): no scan of
 * `_honker_x_outbox`, however deep the backlog (checked with EXPLAIN QUERY
 * PLAN in test/inspector/outbox.test.ts). A file without the outbox tables
 * (made by upstream honker, or before the outbox existed) has no outboxes.
 */
import type Database from "better-sqlite3";
import { plucked, prepared } from "../main/statements.ts";

/** Page size of message lists. */
export const OUTBOX_PAGE_SIZE = 50;
/** Message lists are counted up to this ("100,000+" beyond). */
export const OUTBOX_COUNT_CAP = 100_000;
/** Waiting messages (newest due time first) searched for the latest error. */
const ERROR_WINDOW = 1000;

export type OutboxListState = "waiting" | "inflight" | "dead";
export const OUTBOX_LIST_STATES: readonly OutboxListState[] = ["waiting", "inflight", "dead"];

export interface OutboxOverview {
  name: string;
  /** Waiting messages, due or in backoff (and claims that lapsed, as relays count them). */
  pending: number;
  /** Of those, waiting on a backoff (due later). */
  backoff: number;
  /** Claimed by a relay whose claim has not lapsed. */
  inFlight: number;
  dead: number;
  /** Delivered since the file was created. */
  delivered: number;
  lastDeliveredAt: number | null;
  /** Unix seconds when the earliest waiting message is due (past: due now), or null. */
  nextAttemptAt: number | null;
  /** The latest failure recorded in the file: a waiting message's last error, else the newest dead one's. */
  lastError: { messageId: number; error: string; dead: boolean } | null;
  /** Paused in the file (`outbox.pause()`, SQL or the inspector): no relay sends. */
  paused: boolean;
  /** Unix seconds when it was paused, null when it is not. */
  pausedAt: number | null;
}

export interface OutboxMessageRow {
  id: number;
  key: string | null;
  payload: string;
  attempts: number;
  maxAttempts: number;
  createdAt: number;
  /** Due time (waiting), claim expiry (in flight) or death time (dead). */
  at: number | null;
  /** The relay holding the claim (in flight), else null. */
  claimedBy: string | null;
  /** Last error (waiting, in flight) or the error it died of (dead). */
  error: string | null;
}

export interface OutboxPage {
  outbox: string;
  state: OutboxListState;
  page: number;
  pageSize: number;
  total: number;
  totalCapped: boolean;
  more: boolean;
  messages: OutboxMessageRow[];
}

/** Distinct values of an indexed column by skipping through the index (as queries.ts). */
function distinct(table: string, where = ""): string {
  const w = where ? ` AND ${where}` : "";
  return (
    `WITH RECURSIVE d(v) AS (SELECT (SELECT min(outbox) FROM ${table} WHERE 1${w}) ` +
    `UNION ALL SELECT (SELECT min(outbox) FROM ${table} WHERE outbox > d.v${w}) FROM d WHERE d.v IS NOT NULL) ` +
    "SELECT v FROM d WHERE v IS NOT NULL"
  );
}

const TABLES = ["_honker_x_outbox", "_honker_x_outbox_dead", "_honker_x_outbox_stats"];

const SQL = {
  tables: `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN (${TABLES.map((t) => `'${t}'`).join(", ")})`,
  waitingNames: distinct("_honker_x_outbox", "state = 'pending'"),
  inflightNames: distinct("_honker_x_outbox", "state = 'inflight'"),
  deadNames: distinct("_honker_x_outbox_dead"),
  statsNames: "SELECT outbox FROM _honker_x_outbox_stats",
  // Through the extension: a file without the pause table has none paused.
  pausedNames:
    "SELECT json_extract(value, '$.name') FROM json_each(honker_x_paused_list()) " +
    "WHERE json_extract(value, '$.kind') = 'outbox'",
  pausedAt:
    "SELECT json_extract(value, '$.paused_at') FROM json_each(honker_x_paused_list()) " +
    "WHERE json_extract(value, '$.kind') = 'outbox' AND json_extract(value, '$.name') = @o",
  counts:
    "SELECT " +
    "(SELECT count(*) FROM _honker_x_outbox WHERE outbox = @o AND state = 'pending') AS pending, " +
    "(SELECT count(*) FROM _honker_x_outbox WHERE outbox = @o AND state = 'pending' AND run_at > @now) AS backoff, " +
    "(SELECT count(*) FROM _honker_x_outbox WHERE outbox = @o AND state = 'inflight' AND claim_expires_at < @now) AS lapsed, " +
    "(SELECT count(*) FROM _honker_x_outbox WHERE outbox = @o AND state = 'inflight' AND claim_expires_at >= @now) AS inflight, " +
    "(SELECT count(*) FROM _honker_x_outbox_dead WHERE outbox = @o) AS dead, " +
    "(SELECT min(run_at) FROM _honker_x_outbox WHERE outbox = @o AND state = 'pending') AS next_at, " +
    "(SELECT delivered FROM _honker_x_outbox_stats WHERE outbox = @o) AS delivered, " +
    "(SELECT last_delivered_at FROM _honker_x_outbox_stats WHERE outbox = @o) AS last_delivered_at",
  waitingError:
    "SELECT id, last_error FROM (SELECT id, last_error FROM _honker_x_outbox " +
    `WHERE outbox = @o AND state = 'pending' ORDER BY run_at DESC LIMIT ${ERROR_WINDOW}) ` +
    "WHERE last_error IS NOT NULL LIMIT 1",
  deadError:
    "SELECT id, error FROM _honker_x_outbox_dead INDEXED BY _honker_x_outbox_dead_name " +
    "WHERE outbox = @o ORDER BY id DESC LIMIT 1",
};

const COLS = "id, key, payload, attempts, max_attempts, created_at";
// INDEXED BY: whatever the statistics say (one outbox holding every row
// makes `outbox = ?` look unselective, and a walk of the whole table in id
// order look cheap), a list is its outbox's range of one index.
const DUE = "_honker_x_outbox INDEXED BY _honker_x_outbox_due";
const INFLIGHT = "_honker_x_outbox INDEXED BY _honker_x_outbox_inflight";
const DEAD = "_honker_x_outbox_dead INDEXED BY _honker_x_outbox_dead_name";

/** The message list of one state: its capped count and its page query (index order). */
function listSql(state: OutboxListState): { count: string; page: string } {
  let from: string;
  let page: string;
  switch (state) {
    case "waiting":
      from = `${DUE} WHERE outbox = @o AND state = 'pending'`;
      page = `SELECT ${COLS}, run_at AS at, NULL AS claimed_by, last_error AS error FROM ${from} ORDER BY run_at, id`;
      break;
    case "inflight":
      from = `${INFLIGHT} WHERE outbox = @o AND state = 'inflight'`;
      page = `SELECT ${COLS}, claim_expires_at AS at, claimed_by, last_error AS error FROM ${from} ORDER BY claim_expires_at, id`;
      break;
    case "dead":
      from = `${DEAD} WHERE outbox = @o`;
      page = `SELECT ${COLS}, died_at AS at, NULL AS claimed_by, error FROM ${from} ORDER BY id DESC`;
      break;
  }
  return {
    count: `SELECT count(*) FROM (SELECT 1 FROM ${from} LIMIT ${OUTBOX_COUNT_CAP + 1})`,
    page: `${page} LIMIT @limit OFFSET @offset`,
  };
}

interface RawMessage {
  id: number;
  key: string | null;
  payload: string;
  attempts: number;
  max_attempts: number;
  created_at: number;
  at: number | null;
  claimed_by: string | null;
  error: string | null;
}

/** The outbox reads, prepared on the inspector's (read-only) connection. */
export class OutboxQueries {
  private readonly conn: Database.Database;

  constructor(conn: Database.Database) {
    this.conn = conn;
  }

  /** Every statement the overview and the lists may run (for the plan test). */
  static allSql(): string[] {
    const lists = OUTBOX_LIST_STATES.flatMap((s) => Object.values(listSql(s)));
    return [...Object.values(SQL), ...lists];
  }

  /** True when the file has the outbox tables (checked on every call: a bootstrap may add them). */
  available(): boolean {
    return (plucked(this.conn, SQL.tables).get() as number) === TABLES.length;
  }

  names(): string[] {
    if (!this.available()) return [];
    const names = new Set<string>();
    // A paused outbox shows even before its first message, so it can be resumed.
    for (const sql of [
      SQL.waitingNames,
      SQL.inflightNames,
      SQL.deadNames,
      SQL.statsNames,
      SQL.pausedNames,
    ]) {
      for (const v of plucked(this.conn, sql).all() as string[]) names.add(v);
    }
    return [...names].sort();
  }

  outbox(name: string, now: number): OutboxOverview {
    const c = prepared(this.conn, SQL.counts).get({ o: name, now }) as {
      pending: number;
      backoff: number;
      lapsed: number;
      inflight: number;
      dead: number;
      next_at: number | null;
      delivered: number | null;
      last_delivered_at: number | null;
    };
    const waiting = prepared(this.conn, SQL.waitingError).get({ o: name }) as
      | { id: number; last_error: string }
      | undefined;
    const dead = waiting
      ? undefined
      : (prepared(this.conn, SQL.deadError).get({ o: name }) as
          | { id: number; error: string | null }
          | undefined);
    const pausedAt = plucked(this.conn, SQL.pausedAt).get({ o: name }) as number | undefined;
    return {
      name,
      paused: pausedAt !== undefined,
      pausedAt: pausedAt ?? null,
      // A lapsed claim is waiting again (the next claim takes it), as the
      // relay's own status() counts it.
      pending: c.pending + c.lapsed,
      backoff: c.backoff,
      inFlight: c.inflight,
      dead: c.dead,
      delivered: c.delivered ?? 0,
      lastDeliveredAt: c.last_delivered_at,
      nextAttemptAt: c.next_at,
      lastError: waiting
        ? { messageId: waiting.id, error: waiting.last_error, dead: false }
        : dead?.error
          ? { messageId: dead.id, error: dead.error, dead: true }
          : null,
    };
  }

  /** Every outbox in the file with its numbers. */
  overview(now: number): OutboxOverview[] {
    return this.names().map((n) => this.outbox(n, now));
  }

  /** One page of an outbox's messages in one state. */
  messages(name: string, state: OutboxListState, page: number): OutboxPage {
    const empty = {
      outbox: name,
      state,
      page,
      pageSize: OUTBOX_PAGE_SIZE,
      total: 0,
      totalCapped: false,
      more: false,
      messages: [],
    };
    if (!this.available()) return empty;
    const sql = listSql(state);
    const total = plucked(this.conn, sql.count).get({ o: name }) as number;
    const rows = prepared(this.conn, sql.page).all({
      o: name,
      limit: OUTBOX_PAGE_SIZE,
      offset: page * OUTBOX_PAGE_SIZE,
    }) as RawMessage[];
    return {
      ...empty,
      total: Math.min(total, OUTBOX_COUNT_CAP),
      totalCapped: total > OUTBOX_COUNT_CAP,
      more: (page + 1) * OUTBOX_PAGE_SIZE < total,
      messages: rows.map((r) => ({
        id: r.id,
        key: r.key,
        payload: r.payload,
        attempts: r.attempts,
        maxAttempts: r.max_attempts,
        createdAt: r.created_at,
        at: r.at,
        claimedBy: r.claimed_by,
        error: r.error,
      })),
    };
  }
}
