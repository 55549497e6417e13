/**
 * The inspector's reads: every query the page can ask for, on a read-only
 * connection. Each one is an index search or a bounded scan (tested with
 * EXPLAIN QUERY PLAN in test/inspector/plans.test.ts): no full scan of
 * `_honker_live` or `_honker_stream`, whatever the backlog. Names come from
 * the page only as bound parameters; no SQL text ever does.
 */
import type Database from "better-sqlite3";
import { plucked, prepared } from "../main/statements.ts";
import { type OutboxOverview, OutboxQueries } from "./outbox-queries.ts";

/** Counts above this are shown as "at least" (a lag of a million is just "a lot"). */
export const COUNT_CAP = 100_000;
/** Minutes of throughput history on the overview. */
export const THROUGHPUT_MINUTES = 15;
/** Page size of job lists. */
export const PAGE_SIZE = 50;

export type ListState = "pending" | "delayed" | "processing" | "dead" | "completed" | "cancelled";
export const LIST_STATES: readonly ListState[] = [
  "pending",
  "delayed",
  "processing",
  "dead",
  "completed",
  "cancelled",
];

export interface QueueOverview {
  name: string;
  pending: number;
  delayed: number;
  processing: number;
  dead: number;
  oldestPendingAgeS: number;
  /** Paused in the file (queue.pause(), or the inspector): no worker claims. */
  paused: boolean;
  /** Unix seconds when it was paused, null when it is not. */
  pausedAt: number | null;
  /** Completed (and dead) jobs per minute, oldest minute first. */
  throughput: { minute: number; completed: number; dead: number }[];
}

export interface StreamOverview {
  name: string;
  head: number;
  consumers: { name: string; offset: number; lag: number; lagCapped: boolean }[];
}

export interface Overview {
  now: number;
  queues: QueueOverview[];
  streams: StreamOverview[];
  channels: { name: string; lastId: number; lastAt: number }[];
  notifications: { id: number; channel: string; payload: string; createdAt: number }[];
  schedules: ScheduleRow[];
  locks: { name: string; owner: string; expiresAt: number }[];
  rateLimits: { name: string; windowStart: number; count: number }[];
  /** Every outbox in the file (none in a file without the outbox tables). */
  outboxes: OutboxOverview[];
}

export interface ScheduleRow {
  name: string;
  queue: string;
  cron: string;
  payload: string;
  priority: number;
  nextFireAt: number;
  enabled: boolean;
  maxAttempts: number;
}

export interface JobRow {
  id: number;
  state: string;
  payload: string;
  attempts: number;
  maxAttempts: number;
  priority: number;
  runAt: number;
  createdAt: number;
  /** claim expiry (processing), died_at (dead) or finished_at (history). */
  at: number | null;
  workerId: string | null;
  error: string | null;
}

export interface JobPage {
  queue: string;
  state: ListState;
  page: number;
  pageSize: number;
  /** Jobs in the list (at most COUNT_CAP); null with a payload filter (not counted). */
  total: number | null;
  totalCapped: boolean;
  /** True when a next page has jobs. */
  more: boolean;
  jobs: JobRow[];
}

/** Distinct values of an indexed column by skipping through the index (no scan of the rows). */
function distinctSql(table: string, column: string, where = ""): string {
  const w = where ? ` AND ${where}` : "";
  return (
    `WITH RECURSIVE d(v) AS (SELECT (SELECT min(${column}) FROM ${table} WHERE 1${w}) ` +
    `UNION ALL SELECT (SELECT min(${column}) FROM ${table} WHERE ${column} > d.v${w}) FROM d WHERE d.v IS NOT NULL) ` +
    "SELECT v FROM d WHERE v IS NOT NULL"
  );
}

const SQL = {
  liveQueues: distinctSql("_honker_live", "queue", "state IN ('pending', 'processing')"),
  deadQueues: distinctSql("_honker_dead", "queue"),
  historyQueues: distinctSql("_honker_x_history", "queue"),
  scheduleQueues: "SELECT DISTINCT queue FROM _honker_scheduler_tasks",
  // Through the extension: a file without the pause table has none paused.
  pausedQueues:
    "SELECT json_extract(value, '$.name') AS name, json_extract(value, '$.paused_at') AS at " +
    "FROM json_each(honker_x_paused_list()) WHERE json_extract(value, '$.kind') = 'queue'",
  topics: distinctSql("_honker_stream", "topic"),
  consumerTopics: "SELECT DISTINCT topic FROM _honker_stream_consumers",
  channels: distinctSql("_honker_notifications", "channel"),
  queueCounts:
    "SELECT " +
    "(SELECT count(*) FROM _honker_live WHERE queue = @q AND state = 'pending' AND run_at <= @now) AS pending, " +
    "(SELECT count(*) FROM _honker_live WHERE queue = @q AND state = 'pending' AND run_at > @now) AS delayed, " +
    "(SELECT count(*) FROM _honker_live WHERE queue = @q AND state = 'processing') AS processing, " +
    "(SELECT count(*) FROM _honker_dead WHERE queue = @q) AS dead, " +
    "(SELECT min(run_at) FROM _honker_live WHERE queue = @q AND state = 'pending' AND run_at <= @now) AS oldest",
  throughput:
    "SELECT finished_at / 60 AS minute, sum(state = 'completed') AS completed, sum(state = 'dead') AS dead " +
    "FROM _honker_x_history WHERE queue = @q AND finished_at >= @since GROUP BY minute",
  historyCounts:
    "SELECT sum(state = 'completed') AS completed, sum(state = 'cancelled') AS cancelled " +
    `FROM (SELECT state FROM _honker_x_history WHERE queue = ? LIMIT ${COUNT_CAP + 1})`,
  head: "SELECT max(offset) FROM _honker_stream WHERE topic = ?",
  consumers: "SELECT name, offset FROM _honker_stream_consumers WHERE topic = ? ORDER BY name",
  lag: `SELECT count(*) FROM (SELECT 1 FROM _honker_stream WHERE topic = ? AND offset > ? LIMIT ${COUNT_CAP + 1})`,
  channelLast:
    "SELECT id, created_at FROM _honker_notifications WHERE channel = ? ORDER BY id DESC LIMIT 1",
  recentNotifications:
    "SELECT id, channel, payload, created_at FROM _honker_notifications ORDER BY id DESC LIMIT 20",
  schedules:
    "SELECT name, queue, cron_expr, payload, priority, next_fire_at, enabled, max_attempts " +
    "FROM _honker_scheduler_tasks ORDER BY name",
  locks: "SELECT name, owner, expires_at FROM _honker_locks ORDER BY name",
  rateLimits:
    "SELECT name, window_start, count FROM _honker_rate_limits WHERE window_start >= ? " +
    "ORDER BY name, window_start DESC",
  job: "SELECT honker_x_get_job(?)",
  hasHistory:
    "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name IN ('_honker_x_history', '_honker_x_progress')",
  // A job of a file without our tables (written by upstream honker only):
  // honker_x_get_job's keys from honker's own two tables.
  honkerJob:
    "SELECT json_object('attempts', attempts, 'claim_expires_at', claim_expires_at, 'created_at', created_at, " +
    "'error', error, 'finished_at', finished_at, 'id', id, 'max_attempts', max_attempts, 'payload', payload, " +
    "'priority', priority, 'progress', NULL, 'queue', queue, 'result', (SELECT r.value FROM _honker_results r " +
    "WHERE r.job_id = @id AND (r.expires_at IS NULL OR r.expires_at > unixepoch())), 'run_at', run_at, " +
    "'state', state, 'worker_id', worker_id) FROM (" +
    "SELECT 1 AS src, attempts, claim_expires_at, created_at, NULL AS error, NULL AS finished_at, id, " +
    "max_attempts, payload, priority, queue, run_at, state, worker_id FROM _honker_live WHERE id = @id " +
    "UNION ALL SELECT 2, attempts, NULL, created_at, last_error, died_at, id, max_attempts, payload, " +
    "priority, queue, run_at, 'dead', NULL FROM _honker_dead WHERE id = @id ORDER BY 1 LIMIT 1)",
  streamRead:
    "SELECT offset, key, payload, created_at FROM _honker_stream WHERE topic = ? AND offset > ? " +
    "ORDER BY offset LIMIT ?",
  streamTail:
    "SELECT offset, key, payload, created_at FROM _honker_stream WHERE topic = ? " +
    "ORDER BY offset DESC LIMIT ?",
};

/** The job list of one state: its count and its page query (index order). */
function listSql(state: ListState, filtered: boolean): { count: string; page: string } {
  const f = filtered ? " AND instr(payload, @text) > 0" : "";
  const capped = (from: string) =>
    `SELECT count(*) FROM (SELECT 1 FROM ${from}${f} LIMIT ${COUNT_CAP + 1})`;
  const liveCols =
    "id, state, payload, attempts, max_attempts, priority, run_at, created_at, worker_id, NULL AS error";
  switch (state) {
    case "pending":
    case "delayed": {
      const cmp = state === "pending" ? "<=" : ">";
      // INDEXED BY: whatever the statistics say (one queue holding every
      // row makes `queue = ?` look unselective), the walk is the queue's range.
      const from = `_honker_live INDEXED BY _honker_live_pending_deadline WHERE queue = @q AND state = 'pending' AND run_at ${cmp} @now`;
      return {
        count: capped(from),
        page: `SELECT ${liveCols}, NULL AS at FROM ${from}${f} ORDER BY run_at, id LIMIT @limit OFFSET @offset`,
      };
    }
    case "processing": {
      const from =
        "_honker_live INDEXED BY _honker_live_processing_deadline WHERE queue = @q AND state = 'processing'";
      return {
        count: capped(from),
        page: `SELECT ${liveCols}, claim_expires_at AS at FROM ${from}${f} ORDER BY claim_expires_at, id LIMIT @limit OFFSET @offset`,
      };
    }
    case "dead": {
      const from = "_honker_dead WHERE queue = @q";
      return {
        count: capped(from),
        page:
          "SELECT id, 'dead' AS state, payload, attempts, max_attempts, priority, run_at, created_at, " +
          `NULL AS worker_id, last_error AS error, died_at AS at FROM ${from}${f} ORDER BY id DESC LIMIT @limit OFFSET @offset`,
      };
    }
    default: {
      const from = `_honker_x_history WHERE queue = @q AND state = '${state}'`;
      return {
        count: capped(from),
        page:
          "SELECT id, state, payload, attempts, max_attempts, priority, run_at, created_at, " +
          `NULL AS worker_id, error, finished_at AS at FROM ${from}${f} ORDER BY finished_at DESC, id DESC LIMIT @limit OFFSET @offset`,
      };
    }
  }
}

interface RawJob {
  id: number;
  state: string;
  payload: string;
  attempts: number;
  max_attempts: number;
  priority: number;
  run_at: number;
  created_at: number;
  at: number | null;
  worker_id: string | null;
  error: string | null;
}

/** Every query the inspector runs, prepared once on one (read-only) connection. */
export class InspectorQueries {
  private readonly conn: Database.Database;
  /** The outboxes' reads (their own module). */
  readonly outboxes: OutboxQueries;

  constructor(conn: Database.Database) {
    this.conn = conn;
    this.outboxes = new OutboxQueries(conn);
  }

  /**
   * True when the file has honker-electron's history (a file written only
   * by upstream honker has honker's tables alone: no finished-job history,
   * no throughput, no progress). Checked on every call: a bootstrap by the
   * app may add them while the inspector runs.
   */
  hasHistory(): boolean {
    return (plucked(this.conn, SQL.hasHistory).get() as number) === 2;
  }

  private values(sql: string, ...params: unknown[]): string[] {
    return plucked(this.conn, sql).all(...params) as string[];
  }

  /** Every SQL statement the overview and the list pages may run (for the plan test). */
  static allSql(): string[] {
    const lists = LIST_STATES.flatMap((s) => {
      const a = listSql(s, false);
      const b = listSql(s, true);
      return [a.count, a.page, b.page];
    });
    return [...Object.values(SQL), ...lists, ...OutboxQueries.allSql()];
  }

  now(): number {
    return plucked(this.conn, "SELECT unixepoch()").get() as number;
  }

  queueNames(paused = this.pausedQueues()): string[] {
    const names = new Set<string>([
      ...this.values(SQL.liveQueues),
      ...this.values(SQL.deadQueues),
      ...(this.hasHistory() ? this.values(SQL.historyQueues) : []),
      ...this.values(SQL.scheduleQueues),
      ...paused.keys(),
    ]);
    return [...names].sort();
  }

  /** Paused queues: name -> unix seconds when paused. */
  pausedQueues(): Map<string, number> {
    const rows = prepared(this.conn, SQL.pausedQueues).all() as { name: string; at: number }[];
    return new Map(rows.map((r) => [r.name, r.at]));
  }

  queue(name: string, now = this.now(), paused = this.pausedQueues()): QueueOverview {
    const c = prepared(this.conn, SQL.queueCounts).get({ q: name, now }) as {
      pending: number;
      delayed: number;
      processing: number;
      dead: number;
      oldest: number | null;
    };
    const firstMinute = Math.floor(now / 60) - (THROUGHPUT_MINUTES - 1);
    const rows = (
      this.hasHistory()
        ? prepared(this.conn, SQL.throughput).all({ q: name, since: firstMinute * 60 })
        : []
    ) as {
      minute: number;
      completed: number;
      dead: number;
    }[];
    const byMinute = new Map(rows.map((r) => [r.minute, r]));
    const throughput = [];
    for (let m = firstMinute; m < firstMinute + THROUGHPUT_MINUTES; m++) {
      const r = byMinute.get(m);
      throughput.push({ minute: m * 60, completed: r?.completed ?? 0, dead: r?.dead ?? 0 });
    }
    return {
      name,
      pending: c.pending,
      delayed: c.delayed,
      processing: c.processing,
      dead: c.dead,
      oldestPendingAgeS: c.oldest === null ? 0 : Math.max(0, now - c.oldest),
      paused: paused.has(name),
      pausedAt: paused.get(name) ?? null,
      throughput,
    };
  }

  streamNames(): string[] {
    const names = new Set([...this.values(SQL.topics), ...this.values(SQL.consumerTopics)]);
    return [...names].sort();
  }

  stream(name: string): StreamOverview {
    const head = (plucked(this.conn, SQL.head).get(name) as number | null) ?? 0;
    const consumers = (
      prepared(this.conn, SQL.consumers).all(name) as { name: string; offset: number }[]
    ).map((c) => {
      const lag = plucked(this.conn, SQL.lag).get(name, c.offset) as number;
      return {
        name: c.name,
        offset: c.offset,
        lag: Math.min(lag, COUNT_CAP),
        lagCapped: lag > COUNT_CAP,
      };
    });
    return { name, head, consumers };
  }

  schedules(): ScheduleRow[] {
    return (
      prepared(this.conn, SQL.schedules).all() as {
        name: string;
        queue: string;
        cron_expr: string;
        payload: string;
        priority: number;
        next_fire_at: number;
        enabled: number;
        max_attempts: number;
      }[]
    ).map((r) => ({
      name: r.name,
      queue: r.queue,
      cron: r.cron_expr,
      payload: r.payload,
      priority: r.priority,
      nextFireAt: r.next_fire_at,
      enabled: r.enabled !== 0,
      maxAttempts: r.max_attempts,
    }));
  }

  overview(): Overview {
    const now = this.now();
    const paused = this.pausedQueues();
    return {
      now,
      queues: this.queueNames(paused).map((q) => this.queue(q, now, paused)),
      streams: this.streamNames().map((s) => this.stream(s)),
      channels: this.values(SQL.channels).map((name) => {
        const r = prepared(this.conn, SQL.channelLast).get(name) as {
          id: number;
          created_at: number;
        };
        return { name, lastId: r.id, lastAt: r.created_at };
      }),
      notifications: (
        prepared(this.conn, SQL.recentNotifications).all() as {
          id: number;
          channel: string;
          payload: string;
          created_at: number;
        }[]
      ).map((n) => ({ id: n.id, channel: n.channel, payload: n.payload, createdAt: n.created_at })),
      schedules: this.schedules(),
      locks: (
        prepared(this.conn, SQL.locks).all() as {
          name: string;
          owner: string;
          expires_at: number;
        }[]
      ).map((l) => ({ name: l.name, owner: l.owner, expiresAt: l.expires_at })),
      rateLimits: (
        prepared(this.conn, SQL.rateLimits).all(now - 3600) as {
          name: string;
          window_start: number;
          count: number;
        }[]
      ).map((r) => ({ name: r.name, windowStart: r.window_start, count: r.count })),
      outboxes: this.outboxes.overview(now),
    };
  }

  /** One page of a queue's jobs in one state, optionally only those whose payload contains `text`. */
  jobs(queue: string, state: ListState, page: number, text: string | null): JobPage {
    const now = this.now();
    if ((state === "completed" || state === "cancelled") && !this.hasHistory()) {
      const none = { queue, state, page, pageSize: PAGE_SIZE, more: false, jobs: [] };
      return { ...none, total: text === null ? 0 : null, totalCapped: false };
    }
    const sql = listSql(state, text !== null);
    const params: Record<string, unknown> = { q: queue, now };
    if (text !== null) params.text = text;
    // A payload filter reads every job of the range it searches: it is not
    // counted as well (that would read them twice); the page says whether
    // more matches follow instead.
    const filtered = text !== null;
    const total = filtered ? null : (plucked(this.conn, sql.count).get(params) as number);
    const fetched = prepared(this.conn, sql.page).all({
      ...params,
      limit: filtered ? PAGE_SIZE + 1 : PAGE_SIZE,
      offset: page * PAGE_SIZE,
    }) as RawJob[];
    const more = filtered ? fetched.length > PAGE_SIZE : (page + 1) * PAGE_SIZE < (total ?? 0);
    const rows = fetched.slice(0, PAGE_SIZE);
    return {
      queue,
      state,
      page,
      pageSize: PAGE_SIZE,
      total: total === null ? null : Math.min(total, COUNT_CAP),
      totalCapped: total !== null && total > COUNT_CAP,
      more,
      jobs: rows.map((r) => ({
        id: r.id,
        state: r.state,
        payload: r.payload,
        attempts: r.attempts,
        maxAttempts: r.max_attempts,
        priority: r.priority,
        runAt: r.run_at,
        createdAt: r.created_at,
        at: r.at,
        workerId: r.worker_id,
        error: r.error,
      })),
    };
  }

  /** Finished jobs of a queue still in the history (its first 100,001 rows). */
  historyCounts(queue: string): { completed: number; cancelled: number } {
    if (!this.hasHistory()) return { completed: 0, cancelled: 0 };
    const r = prepared(this.conn, SQL.historyCounts).get(queue) as {
      completed: number | null;
      cancelled: number | null;
    };
    return { completed: r.completed ?? 0, cancelled: r.cancelled ?? 0 };
  }

  /** honker_x_get_job's merged view, parsed; null when nothing is known. */
  job(id: number): Record<string, unknown> | null {
    const text = (
      this.hasHistory()
        ? plucked(this.conn, SQL.job).get(id)
        : (plucked(this.conn, SQL.honkerJob).get({ id }) ?? null)
    ) as string | null;
    return text === null ? null : (JSON.parse(text) as Record<string, unknown>);
  }

  /** Events of a stream after `from` (or the newest ones when `from` is null), oldest first. */
  streamEvents(
    topic: string,
    from: number | null,
    limit: number,
  ): { offset: number; key: string | null; payload: string; createdAt: number }[] {
    const rows =
      from === null
        ? (prepared(this.conn, SQL.streamTail).all(topic, limit) as RawEvent[]).reverse()
        : (prepared(this.conn, SQL.streamRead).all(topic, from, limit) as RawEvent[]);
    return rows.map((r) => ({
      offset: r.offset,
      key: r.key,
      payload: r.payload,
      createdAt: r.created_at,
    }));
  }
}

interface RawEvent {
  offset: number;
  key: string | null;
  payload: string;
  created_at: number;
}
