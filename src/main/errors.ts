/**
 * One error class with stable codes. Messages say what to do; codes are
 * what code should branch on. Errors keep code and message across the
 * renderer bridge.
 */

/** Every code a honker-electron API can throw. */
export type HonkerErrorCode =
  | "HONKER_CLOSED"
  | "HONKER_INVALID_ARGUMENT"
  | "HONKER_MEMORY_DATABASE"
  | "HONKER_EXTENSION"
  | "HONKER_UNSUPPORTED_RUNTIME"
  | "HONKER_WATCHER_DEAD"
  | "HONKER_TIMEOUT"
  | "HONKER_NOT_FOUND"
  | "HONKER_CANCELLED"
  | "HONKER_JOB_DEAD"
  | "HONKER_CLAIM_LOST"
  | "HONKER_LOCK_HELD"
  | "HONKER_BUSY"
  | "HONKER_DISK_FULL"
  | "HONKER_READONLY"
  | "HONKER_CORRUPT"
  | "HONKER_CANNOT_OPEN"
  | "HONKER_SQLITE"
  | "HONKER_FORBIDDEN"
  | "HONKER_RATE_LIMITED"
  | "HONKER_FORMAT_VERSION"
  | "HONKER_WAL_GROWING";

export class HonkerError extends Error {
  override readonly name = "HonkerError";
  readonly code: HonkerErrorCode;

  constructor(code: HonkerErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** True when `err` is a HonkerError, optionally with the given code. */
export function isHonkerError(err: unknown, code?: HonkerErrorCode): err is HonkerError {
  return err instanceof HonkerError && (code === undefined || err.code === code);
}

/** The subset of better-sqlite3's SqliteError we read. */
interface SqliteLike {
  code?: unknown;
  message?: unknown;
}

const SQLITE_CODES: [RegExp, HonkerErrorCode, string][] = [
  [
    /^SQLITE_FULL/,
    "HONKER_DISK_FULL",
    "The disk is full; free space and retry. Nothing was written.",
  ],
  [
    /^SQLITE_READONLY/,
    "HONKER_READONLY",
    "The database is read-only (file permissions or a read-only mount); nothing was written.",
  ],
  [
    /^SQLITE_(CORRUPT|NOTADB)/,
    "HONKER_CORRUPT",
    "The file is not a healthy SQLite database; restore it from a backup or point at another file.",
  ],
  [
    /^SQLITE_CANTOPEN/,
    "HONKER_CANNOT_OPEN",
    "SQLite cannot open the file; check that its directory exists and is writable.",
  ],
  [
    /^SQLITE_BUSY/,
    "HONKER_BUSY",
    "Another connection held the write lock for longer than busy_timeout; retry.",
  ],
];

/**
 * Turns a better-sqlite3 error into a HonkerError with a stable code;
 * anything else is returned unchanged.
 */
export function fromSqlite(err: unknown, doing: string): unknown {
  if (err instanceof HonkerError) return err;
  const e = err as SqliteLike;
  if (!e || typeof e.code !== "string" || !e.code.startsWith("SQLITE_")) return err;
  const message = typeof e.message === "string" ? e.message : String(err);
  for (const [re, code, advice] of SQLITE_CODES) {
    if (re.test(e.code))
      return new HonkerError(code, `${doing}: ${message}. ${advice}`, { cause: err });
  }
  // honker_bootstrap refuses a file written by a newer kit, writing nothing.
  const newer = /format version (\d+) is newer than this extension supports \((\d+)\)/.exec(
    message,
  );
  if (newer) {
    return new HonkerError(
      "HONKER_FORMAT_VERSION",
      `${doing}: the file's honker-electron format version is ${newer[1]}, newer than this ` +
        `version of the kit understands (${newer[2]}); it was written by a newer ` +
        "honker-electron. Upgrade the package; this one refuses to write it.",
      { cause: err },
    );
  }
  if (/: argument \d+ \(|must be|is not valid JSON/.test(message)) {
    return new HonkerError("HONKER_INVALID_ARGUMENT", `${doing}: ${message}`, { cause: err });
  }
  return new HonkerError("HONKER_SQLITE", `${doing}: ${message}`, { cause: err });
}

export function invalid(message: string): HonkerError {
  return new HonkerError("HONKER_INVALID_ARGUMENT", message);
}
