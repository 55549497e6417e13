/**
 * TTL locks shared by every process that opens the file (honker's
 * `_honker_locks`). A lock is held until released or until its TTL lapses
 * without renewal, so a crashed holder frees it on its own.
 *
 * - `tryLock` takes a lock now or returns null; the caller renews and
 *   releases it.
 * - `withLock` runs a function under a lock, renews it every ttl/3 while the
 *   function runs, aborts the function's signal if the lock is lost, and
 *   releases it at the end. It can wait for the lock: woken by the watcher
 *   when the holder commits its release, and by a deadline at the holder's
 *   expiry (a crashed holder never commits anything). It never polls in a
 *   loop of its own.
 *
 * TTLs are whole seconds and the extension compares them with whole-second
 * clocks, so a lock may lapse up to one second before `ttl` has passed:
 * use a TTL of 2 s or more.
 */
import { randomBytes } from "node:crypto";
import type Database from "better-sqlite3";
import * as args from "./args.ts";
import { HonkerError, invalid } from "./errors.ts";
import type { Host } from "./host.ts";
import { plucked, prepared } from "./statements.ts";

/** A held lock. */
export interface Lock {
  readonly name: string;
  /** This holder's owner id (unique per acquisition). */
  readonly owner: string;
  /** TTL in seconds used by renew(). */
  readonly ttl: number;
  /** Extends the lock by `ttl` seconds; false once it lapsed or was taken. */
  renew(ttl?: number): boolean;
  /** Releases the lock; false if it was no longer ours. Safe to call twice. */
  release(): boolean;
}

export interface WithLockOptions {
  /** Lock TTL in whole seconds (default 30); renewed every ttl/3. */
  ttl?: number;
  /**
   * Wait for the lock: `true` waits as long as it takes, a number waits at
   * most that many ms. Default false: throw HONKER_LOCK_HELD at once.
   */
  wait?: boolean | number;
  /** Gives up waiting (or aborts fn's signal) when this signal aborts. */
  signal?: AbortSignal;
}

export const DEFAULT_LOCK_TTL = 30;

interface LockStatements {
  acquire: Database.Statement;
  release: Database.Statement;
  renew: Database.Statement;
  peek: Database.Statement;
}

function stmts(db: Host): LockStatements {
  return {
    acquire: plucked(db.raw, "SELECT honker_lock_acquire(?, ?, ?)"),
    release: plucked(db.raw, "SELECT honker_lock_release(?, ?)"),
    renew: plucked(db.raw, "SELECT honker_lock_renew(?, ?, ?)"),
    peek: prepared(
      db.raw,
      "SELECT owner, expires_at AS expiresAt FROM _honker_locks WHERE name = ?",
    ),
  };
}

function checkName(name: unknown, doing: string): asserts name is string {
  args.name(doing, "name", name);
}

function checkTtl(ttl: unknown, doing: string): asserts ttl is number {
  if (typeof ttl !== "number" || !Number.isInteger(ttl) || ttl < 1 || ttl > 315_360_000) {
    throw invalid(
      `${doing}: ttl must be a whole number of seconds between 1 and 315360000 (got ${String(ttl)})`,
    );
  }
}

/** A fresh owner id for one acquisition: the handle's id plus a suffix. */
export function lockOwner(db: Host): string {
  return `${db.ownerId}:${randomBytes(4).toString("hex")}`;
}

/** One attempt to take `name` for `owner`; true if held now. */
export function acquireLock(db: Host, name: string, owner: string, ttl: number): boolean {
  const s = stmts(db);
  return db.write(`lock('${name}') acquire`, () => s.acquire.get(name, owner, ttl) === 1);
}

/** Extends a live lock held by `owner`; false if it lapsed or belongs to someone else. */
export function renewLock(db: Host, name: string, owner: string, ttl: number): boolean {
  const s = stmts(db);
  return db.write(`lock('${name}') renew`, () => s.renew.get(name, owner, ttl) === 1);
}

/** Releases `name` if `owner` holds it. */
export function releaseLock(db: Host, name: string, owner: string): boolean {
  const s = stmts(db);
  return db.write(`lock('${name}') release`, () => s.release.get(name, owner) === 1);
}

/** The current holder and expiry (unix s) of `name`, or null if nobody holds it. */
export function lockHolder(db: Host, name: string): { owner: string; expiresAt: number } | null {
  const s = stmts(db);
  const row = db.read(`lock('${name}') holder`, () => s.peek.get(name)) as
    | { owner: string; expiresAt: number }
    | undefined;
  return row ?? null;
}

/** True when a peek says an acquire attempt could succeed. */
function looksFree(db: Host, name: string): boolean {
  const holder = lockHolder(db, name);
  return holder === null || holder.expiresAt <= Math.floor(Date.now() / 1000);
}

/**
 * Takes the lock `name` now, or returns null if someone else holds it.
 *
 * ```ts
 * const lock = tryLock(db, "nightly-export", 60);
 * if (lock) try { await exportAll(); } finally { lock.release(); }
 * ```
 */
export function tryLock(db: Host, name: string, ttl = DEFAULT_LOCK_TTL): Lock | null {
  checkName(name, "tryLock(db, name, ttl)");
  checkTtl(ttl, `tryLock(db, '${name}', ttl)`);
  const owner = lockOwner(db);
  if (!acquireLock(db, name, owner, ttl)) return null;
  let released = false;
  return {
    name,
    owner,
    ttl,
    renew(next = ttl) {
      checkTtl(next, `lock('${name}').renew(ttl)`);
      if (released) return false;
      return renewLock(db, name, owner, next);
    },
    release() {
      if (released) return false;
      released = true;
      if (!db.open) return false;
      return releaseLock(db, name, owner);
    },
  };
}

function heldError(name: string, waitedMs: number | null): HonkerError {
  return new HonkerError(
    "HONKER_LOCK_HELD",
    waitedMs === null
      ? `withLock('${name}'): the lock is held by someone else. Pass { wait: true } or ` +
          "{ wait: <ms> } to wait for it, or try again later."
      : `withLock('${name}'): the lock was still held by someone else after waiting ${waitedMs} ms.`,
  );
}

/**
 * Waits until `name` is acquired for `owner`. Wakes on every commit (the
 * holder's release) and at the holder's expiry; nothing else.
 */
function waitForLock(
  db: Host,
  name: string,
  owner: string,
  ttl: number,
  maxWaitMs: number | null,
  signal: AbortSignal | undefined,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const watcher = db.watcher;
    const deadlineKey = {};
    let timer: NodeJS.Timeout | null = null;
    let done = false;
    const started = Date.now();
    const finish = (err: unknown) => {
      if (done) return;
      done = true;
      unsubscribe();
      undead();
      untrack();
      watcher.setDeadline(deadlineKey, null);
      if (timer) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      if (err === null) resolve();
      else reject(err);
    };
    const attempt = () => {
      if (done) return;
      try {
        if (looksFree(db, name) && acquireLock(db, name, owner, ttl)) {
          finish(null);
          return;
        }
        // Wake again when the current holder's lease runs out.
        const holder = lockHolder(db, name);
        watcher.setDeadline(deadlineKey, holder ? holder.expiresAt * 1000 : Date.now());
      } catch (err) {
        finish(err);
      }
    };
    const onAbort = () => finish(signal?.reason);
    // Subscribe before the first attempt so a release in between is seen.
    const unsubscribe = watcher.subscribe(() => attempt());
    const undead = watcher.onDead((err) => finish(err));
    const untrack = db.track({
      close: () =>
        finish(
          new HonkerError(
            "HONKER_CLOSED",
            `withLock('${name}'): the database was closed while waiting for the lock.`,
          ),
        ),
    });
    signal?.addEventListener("abort", onAbort, { once: true });
    if (maxWaitMs !== null) {
      timer = setTimeout(
        () => finish(heldError(name, Date.now() - started)),
        args.timerMs(maxWaitMs),
      );
    }
    attempt();
  });
}

/**
 * Runs `fn` while holding the lock `name`, renewing it every ttl/3 and
 * releasing it afterwards. If a renewal finds the lock lapsed or taken, the
 * signal given to `fn` aborts with HONKER_CLAIM_LOST and withLock rejects
 * with that error once `fn` settles.
 *
 * ```ts
 * await withLock(db, "migrate", async (signal) => migrate({ signal }), { wait: 10_000 });
 * ```
 */
export async function withLock<T>(
  db: Host,
  name: string,
  fn: (signal: AbortSignal) => Promise<T> | T,
  options: WithLockOptions = {},
): Promise<T> {
  checkName(name, "withLock(db, name, fn)");
  const doing = `withLock('${name}')`;
  args.func(doing, "fn", fn);
  options = args.options<WithLockOptions>(doing, options);
  args.optSignal(doing, "options.signal", options.signal);
  const ttl = options.ttl ?? DEFAULT_LOCK_TTL;
  checkTtl(ttl, doing);
  const wait = options.wait ?? false;
  let maxWaitMs: number | null;
  if (wait === false) maxWaitMs = 0;
  else if (wait === true) maxWaitMs = null;
  else if (typeof wait === "number" && Number.isFinite(wait) && wait >= 0) maxWaitMs = wait;
  else
    throw invalid(
      `${doing}: wait must be true, false or a number of ms >= 0 (got ${String(wait)})`,
    );
  db.assertOpen(doing);
  options.signal?.throwIfAborted();

  const owner = lockOwner(db);
  if (!acquireLock(db, name, owner, ttl)) {
    if (maxWaitMs === 0) throw heldError(name, null);
    await waitForLock(db, name, owner, ttl, maxWaitMs, options.signal);
  }

  const controller = new AbortController();
  let lost: HonkerError | null = null;
  let lastRenewed = Date.now();
  const loseLock = (why: string, cause?: unknown) => {
    if (lost) return;
    lost = new HonkerError(
      "HONKER_CLAIM_LOST",
      `${doing}: the lock was lost while fn ran (${why}); another holder may have taken it, ` +
        "so stop the work guarded by it.",
      cause === undefined ? undefined : { cause },
    );
    clearInterval(renewTimer);
    controller.abort(lost);
  };
  const renewTimer = setInterval(
    () => {
      try {
        if (renewLock(db, name, owner, ttl)) lastRenewed = Date.now();
        else loseLock("it lapsed or another owner holds it");
      } catch (err) {
        // A busy database may let a later renewal through; give up only
        // once the lease has certainly run out.
        if (Date.now() - lastRenewed >= ttl * 1000 - 1000) loseLock("renewal failed", err);
      }
    },
    args.timerMs(Math.max(50, Math.floor((ttl * 1000) / 3))),
  );
  renewTimer.unref();
  const untrack = db.track({
    close: () => {
      clearInterval(renewTimer);
      if (db.open) {
        try {
          releaseLock(db, name, owner);
        } catch {
          // The lease lapses on its own.
        }
      }
      if (!lost) {
        lost = new HonkerError(
          "HONKER_CLOSED",
          `${doing}: the database was closed while fn ran; the lock was released.`,
        );
        controller.abort(lost);
      }
    },
  });
  const onOuterAbort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener("abort", onOuterAbort, { once: true });

  try {
    const out = await fn(controller.signal);
    if (lost) throw lost;
    return out;
  } finally {
    clearInterval(renewTimer);
    untrack();
    options.signal?.removeEventListener("abort", onOuterAbort);
    if (db.open && !lost) {
      try {
        releaseLock(db, name, owner);
      } catch {
        // The lease lapses on its own after ttl.
      }
    }
  }
}
