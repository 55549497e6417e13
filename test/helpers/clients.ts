/**
 * Drives the extension from clients other than better-sqlite3: Debian's
 * `sqlite3` shell and Python's `sqlite3` module (both SQLite 3.40.1 there).
 * Each applies busy_timeout=5000 and WAL before doing anything else.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export const SQLITE3_SHELL = "/usr/bin/sqlite3";
export const PYTHON3 = "/usr/bin/python3";

export type RunResult = { stdout: string; stderr: string; status: number | null };

/** A skip reason for node:test, or false when the shell is usable. */
export function shellSkipReason(): string | false {
  if (!existsSync(SQLITE3_SHELL)) return `${SQLITE3_SHELL} is not installed`;
  // macOS's /usr/bin/sqlite3 is built without extension loading.
  const probe = spawnSync(SQLITE3_SHELL, [":memory:", ".load /nonexistent/honker-probe"], {
    encoding: "utf8",
    timeout: 10_000,
  });
  if (/unknown command|not authorized|not enabled/i.test(`${probe.stderr}${probe.stdout}`)) {
    return `${SQLITE3_SHELL} cannot load extensions`;
  }
  return false;
}

/** A skip reason for node:test, or false when Python can load extensions. */
export function pythonSkipReason(): string | false {
  if (!existsSync(PYTHON3)) return `${PYTHON3} is not installed`;
  const probe = spawnSync(
    PYTHON3,
    ["-c", "import sqlite3; sqlite3.connect(':memory:').enable_load_extension(True)"],
    { encoding: "utf8", timeout: 10_000 },
  );
  if (probe.status !== 0) return `${PYTHON3}'s sqlite3 module cannot load extensions`;
  return false;
}

/**
 * Runs `sql` (read from stdin, so line numbers in errors count from 1) in the
 * sqlite3 shell on `dbPath`. The settings and `.load <load>` run first as
 * -cmd options; their output is discarded.
 */
export function runShell(dbPath: string, load: string, sql: string): RunResult {
  const res = spawnSync(
    SQLITE3_SHELL,
    [
      "-batch",
      "-cmd",
      ".timeout 5000",
      "-cmd",
      `.load ${load}`,
      "-cmd",
      ".output /dev/null",
      "-cmd",
      "PRAGMA journal_mode=WAL",
      "-cmd",
      ".output stdout",
      dbPath,
    ],
    { input: sql, encoding: "utf8", timeout: 20_000 },
  );
  if (res.error) throw res.error;
  return { stdout: res.stdout, stderr: res.stderr, status: res.status };
}

/** The non-empty lines the shell printed. */
export function lines(out: string): string[] {
  return out.split("\n").filter((l) => l !== "");
}

const PY_PRELUDE = `
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=5)
db.execute("PRAGMA busy_timeout=5000")
db.execute("PRAGMA journal_mode=WAL")
db.enable_load_extension(True)
db.load_extension(sys.argv[2])
db.enable_load_extension(False)
def one(sql, *params):
    return db.execute(sql, params).fetchone()[0]
def out(value):
    print(json.dumps(value))
`;

/**
 * Runs a Python body with `db` (autocommit; use BEGIN/COMMIT yourself), `one`
 * (first column of the first row) and `out` (prints JSON) in scope. Returns
 * what `out` printed, parsed, one entry per call.
 */
export function runPython(dbPath: string, extension: string, body: string): unknown[] {
  const res = spawnSync(
    PYTHON3,
    ["-c", `${PY_PRELUDE}\n${body}\ndb.close()\n`, dbPath, extension],
    {
      encoding: "utf8",
      timeout: 20_000,
    },
  );
  if (res.error) throw res.error;
  if (res.status !== 0) throw new Error(`python exited with ${res.status}: ${res.stderr}`);
  return lines(res.stdout).map((l) => JSON.parse(l) as unknown);
}
