/**
 * Child processes for the multi-process tests: each fixture prints one JSON
 * object per line on stdout ({"event": ...}); the parent awaits lines by
 * predicate with a bounded wait, writes command lines to stdin, and can
 * SIGKILL. Every child still running when a test ends is killed.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { TS_FLAGS } from "../helpers/db.ts";

export type Line = { event: string } & Record<string, unknown>;

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures");

/** Absolute path of a fixture in test/fixtures. */
export function fixture(name: string): string {
  return join(fixtures, name);
}

interface Waiter {
  match: (line: Line) => boolean;
  resolve: (line: Line) => void;
}

export class Child {
  readonly name: string;
  readonly proc: ChildProcess;
  /** Every line received so far, in order. */
  readonly lines: Line[] = [];
  /** Resolves with the exit code (null) and signal when the process ends. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private stderrText = "";
  private readonly waiters = new Set<Waiter>();
  private consumed = 0;
  private ended = false;

  constructor(name: string, script: string, args: string[]) {
    this.name = name;
    this.proc = spawn(process.execPath, [...TS_FLAGS, script, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.exited = new Promise((resolve) => {
      this.proc.once("exit", (code, signal) => {
        this.ended = true;
        resolve({ code, signal });
      });
    });
    this.proc.stderr?.setEncoding("utf8");
    this.proc.stderr?.on("data", (chunk: string) => {
      this.stderrText += chunk;
    });
    // A child killed while we write to it must not crash the test process.
    this.proc.stdin?.on("error", () => {});
    const rl = createInterface({ input: this.proc.stdout as NodeJS.ReadableStream });
    rl.on("line", (text) => {
      let line: Line;
      try {
        line = JSON.parse(text) as Line;
      } catch {
        line = { event: "text", text };
      }
      this.lines.push(line);
      for (const w of [...this.waiters]) {
        if (w.match(line)) {
          this.waiters.delete(w);
          w.resolve(line);
        }
      }
    });
  }

  get stderr(): string {
    return this.stderrText;
  }

  get running(): boolean {
    return !this.ended;
  }

  /**
   * The next line (after the ones already taken by next()) for which
   * `match` holds; rejects after `ms` or if the child exits first.
   */
  next(match: (line: Line) => boolean, ms: number, what: string): Promise<Line> {
    for (let i = this.consumed; i < this.lines.length; i++) {
      const line = this.lines[i] as Line;
      if (match(line)) {
        this.consumed = i + 1;
        return Promise.resolve(line);
      }
    }
    return new Promise<Line>((resolve, reject) => {
      const finish = (err: Error | null, line?: Line) => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
        if (err) reject(err);
        else {
          this.consumed = this.lines.length;
          resolve(line as Line);
        }
      };
      const waiter: Waiter = { match, resolve: (line) => finish(null, line) };
      this.waiters.add(waiter);
      const timer = setTimeout(
        () => finish(new Error(`${this.name}: no ${what} within ${ms} ms${this.describe()}`)),
        ms,
      );
      void this.exited.then(({ code, signal }) => {
        // Let lines already read reach the waiter first.
        setImmediate(() => {
          if (this.waiters.has(waiter)) {
            finish(
              new Error(
                `${this.name}: exited (code ${code}, signal ${signal}) before ${what}${this.describe()}`,
              ),
            );
          }
        });
      });
    });
  }

  /** The next line whose event is `event`. */
  event(event: string, ms: number): Promise<Line> {
    return this.next((l) => l.event === event, ms, `"${event}" line`);
  }

  /** Writes one command line to stdin. */
  send(line: string): void {
    this.proc.stdin?.write(`${line}\n`);
  }

  /** SIGKILLs the child and waits until it is gone. */
  async kill(): Promise<void> {
    if (this.ended) return;
    this.proc.kill("SIGKILL");
    const { signal } = await this.exited;
    if (signal !== "SIGKILL" && signal !== null) {
      throw new Error(`${this.name}: expected SIGKILL, got ${signal}`);
    }
  }

  /** Waits for a clean exit (code 0) within `ms`. */
  async waitExit(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<"timeout">((r) => {
      timer = setTimeout(() => r("timeout"), ms);
    });
    const out = await Promise.race([this.exited, timeout]);
    clearTimeout(timer);
    if (out === "timeout") throw new Error(`${this.name}: did not exit within ${ms} ms`);
    if (out.code !== 0) {
      throw new Error(
        `${this.name}: exited with code ${out.code} signal ${out.signal}${this.describe()}`,
      );
    }
  }

  private describe(): string {
    const tail = this.stderrText.trim().split("\n").slice(-15).join("\n");
    return tail ? `\n--- ${this.name} stderr ---\n${tail}` : "";
  }
}

const running = new Set<Child>();

/** Starts `node <fixture> ...args`; it is SIGKILLed by killAll() if still running. */
export function startChild(name: string, fixtureName: string, args: string[]): Child {
  const child = new Child(name, fixture(fixtureName), args);
  running.add(child);
  void child.exited.then(() => running.delete(child));
  return child;
}

/** SIGKILLs every child still running (use in afterEach). */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((c) => c.kill()));
}

export { within } from "../helpers/wait.ts";
