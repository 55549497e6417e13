/**
 * The inspector's writes, through the host's own API on the writer
 * connection (so argument checks, history and waking work as for any
 * caller). The page sends names and ids only; every value is checked here
 * before anything is written.
 */
import type { AnyHonkerDatabase } from "../main/database.ts";
import { HonkerError } from "../main/errors.ts";
import { Outbox } from "../main/outbox/outbox.ts";

export type ActionRequest =
  | { action: "redriveOutbox"; outbox: string; ids?: number[] }
  | { action: "purgeOutboxDead"; outbox: string }
  | { action: "flushOutbox"; outbox: string }
  | { action: "pauseOutbox"; outbox: string }
  | { action: "resumeOutbox"; outbox: string }
  | { action: "redrive"; queue: string; ids?: number[] }
  | { action: "purgeDead"; queue: string }
  | { action: "cancel"; queue: string; id: number }
  | { action: "enqueue"; queue: string; payload: unknown }
  | { action: "pauseQueue"; queue: string }
  | { action: "resumeQueue"; queue: string }
  | { action: "pauseSchedule"; name: string }
  | { action: "resumeSchedule"; name: string }
  | { action: "runSchedule"; name: string };

function bad(message: string): HonkerError {
  return new HonkerError("HONKER_INVALID_ARGUMENT", `inspector: ${message}`);
}

function str(v: unknown, what: string): string {
  if (typeof v !== "string" || v.length === 0 || v.length > 256) {
    throw bad(`${what} must be a non-empty string of at most 256 characters`);
  }
  return v;
}

function id(v: unknown, what: string): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1) {
    throw bad(`${what} must be a positive integer`);
  }
  return v;
}

/** Checks an action request from the page; refuses anything it does not know. */
export function parseAction(body: unknown): ActionRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw bad("the request body must be a JSON object");
  }
  const b = body as Record<string, unknown>;
  switch (b.action) {
    case "redriveOutbox": {
      const outbox = str(b.outbox, "outbox");
      if (b.ids === undefined) return { action: "redriveOutbox", outbox };
      if (!Array.isArray(b.ids) || b.ids.length === 0 || b.ids.length > 10_000) {
        throw bad("ids must be an array of 1 to 10000 message ids");
      }
      return { action: "redriveOutbox", outbox, ids: b.ids.map((v) => id(v, "ids[]")) };
    }
    case "purgeOutboxDead":
    case "flushOutbox":
    case "pauseOutbox":
    case "resumeOutbox":
      return { action: b.action, outbox: str(b.outbox, "outbox") };
    case "redrive": {
      const queue = str(b.queue, "queue");
      if (b.ids === undefined) return { action: "redrive", queue };
      if (!Array.isArray(b.ids) || b.ids.length === 0 || b.ids.length > 10_000) {
        throw bad("ids must be an array of 1 to 10000 job ids");
      }
      return { action: "redrive", queue, ids: b.ids.map((v) => id(v, "ids[]")) };
    }
    case "purgeDead":
      return { action: "purgeDead", queue: str(b.queue, "queue") };
    case "cancel":
      return { action: "cancel", queue: str(b.queue, "queue"), id: id(b.id, "id") };
    case "enqueue":
      if (!("payload" in b)) throw bad("enqueue needs a payload");
      return { action: "enqueue", queue: str(b.queue, "queue"), payload: b.payload };
    case "pauseQueue":
    case "resumeQueue":
      return { action: b.action, queue: str(b.queue, "queue") };
    case "pauseSchedule":
    case "resumeSchedule":
    case "runSchedule":
      return { action: b.action, name: str(b.name, "name") };
    default:
      throw bad("unknown action");
  }
}

/** Runs a checked action; returns what the page shows ("3 jobs redriven"). */
export function runAction(
  db: AnyHonkerDatabase,
  a: ActionRequest,
): { message: string; id?: number } {
  switch (a.action) {
    case "redriveOutbox":
    case "purgeOutboxDead":
    case "flushOutbox":
    case "pauseOutbox":
    case "resumeOutbox":
      return runOutboxAction(db, a);
    case "redrive": {
      const n = db.queue(a.queue).redrive(a.ids);
      return { message: `${n} dead job${n === 1 ? "" : "s"} back to pending` };
    }
    case "purgeDead": {
      const n = db.queue(a.queue).purgeDead();
      return { message: `${n} dead job${n === 1 ? "" : "s"} purged` };
    }
    case "cancel": {
      const ok = db.queue(a.queue).cancel(a.id);
      return {
        message: ok ? `job ${a.id} cancelled` : `job ${a.id} is no longer pending or running`,
      };
    }
    case "enqueue": {
      const jobId = db.queue(a.queue).enqueue(a.payload);
      return { message: `job ${jobId} enqueued on ${a.queue}`, id: jobId };
    }
    case "pauseQueue": {
      // Stored in the file: every worker of every process stops claiming.
      const q = db.queue(a.queue);
      const ok = q.pause();
      const s = q.stats();
      // A name with no job yet is paused too (ahead of time), but say so: a typo shows.
      const empty = s.pending + s.processing + s.dead === 0;
      return {
        message: ok
          ? `queue ${a.queue} paused: no worker claims its jobs until it is resumed${empty ? " (it holds no jobs now)" : ""}`
          : `queue ${a.queue} was already paused`,
      };
    }
    case "resumeQueue": {
      const ok = db.queue(a.queue).resume();
      return { message: ok ? `queue ${a.queue} resumed` : `queue ${a.queue} was not paused` };
    }
    case "pauseSchedule": {
      const ok = db.scheduler.pause(a.name);
      return {
        message: ok ? `schedule ${a.name} paused` : `schedule ${a.name} was already paused`,
      };
    }
    case "resumeSchedule": {
      const ok = db.scheduler.resume(a.name);
      return { message: ok ? `schedule ${a.name} resumed` : `schedule ${a.name} was not paused` };
    }
    case "runSchedule": {
      // "Run now": one job with the schedule's payload and options; the
      // schedule's own next boundary is left as it was.
      const s = db.scheduler.list().find((x) => x.name === a.name);
      if (!s) throw new HonkerError("HONKER_NOT_FOUND", `inspector: no schedule ${a.name}`);
      const jobId = db.queue(s.queue).enqueue(s.payload, {
        priority: s.priority,
        maxAttempts: s.maxAttempts,
        ...(s.expires === null ? {} : { expires: s.expires }),
      });
      return { message: `schedule ${a.name}: job ${jobId} enqueued on ${s.queue}`, id: jobId };
    }
  }
}

type OutboxAction = Extract<
  ActionRequest,
  {
    action: "redriveOutbox" | "purgeOutboxDead" | "flushOutbox" | "pauseOutbox" | "resumeOutbox";
  }
>;

/**
 * Outbox actions through the outbox's own API, on a handle of their own
 * that only adds and inspects (no transport: it relays nothing) and is
 * stopped at once. It is not `db.outbox(name)`, which would keep that
 * transport-less handle as the name's handle for the app's later call.
 * The app's relay (in this process or another) hears the commit through
 * its watcher and sends.
 */
function runOutboxAction(db: AnyHonkerDatabase, a: OutboxAction): { message: string } {
  const ob = new Outbox(db, a.outbox);
  try {
    switch (a.action) {
      case "redriveOutbox": {
        const n = ob.redrive(a.ids);
        return {
          message: `${n} dead message${n === 1 ? "" : "s"} of ${a.outbox} back to waiting`,
        };
      }
      case "purgeOutboxDead": {
        const n = ob.purgeDead();
        return { message: `${n} dead message${n === 1 ? "" : "s"} of ${a.outbox} purged` };
      }
      case "flushOutbox": {
        const n = ob.flush();
        return {
          message: `${a.outbox}: ${n} message${n === 1 ? "" : "s"} in backoff made due now`,
        };
      }
      case "pauseOutbox": {
        // Stored in the file: every relay of every process stops sending.
        const ok = ob.pause();
        const s = ob.status();
        // A name with no message yet is paused too (ahead of time), but say so: a typo shows.
        const empty = s.pending + s.inFlight + s.dead + s.delivered === 0;
        return {
          message: ok
            ? `outbox ${a.outbox} paused: no relay sends until it is resumed${empty ? " (it has no messages yet)" : ""}`
            : `outbox ${a.outbox} was already paused`,
        };
      }
      case "resumeOutbox": {
        const ok = ob.resume();
        return { message: ok ? `outbox ${a.outbox} resumed` : `outbox ${a.outbox} was not paused` };
      }
    }
  } finally {
    ob.stop().catch(() => {}); // a handle without a transport has nothing in flight
  }
}
