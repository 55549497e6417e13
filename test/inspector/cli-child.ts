/**
 * The `honker-electron` command in a child process, for the CLI tests:
 * start it and read the URL it prints; stop it with SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { resolve } from "node:path";
import { TS_FLAGS } from "../helpers/db.ts";

export const CLI = resolve(import.meta.dirname, "..", "..", "src", "inspector", "cli.ts");

/** Starts the CLI; resolves with the child and the lines printed until the URL. */
export function startCli(
  args: string[],
): Promise<{ child: ChildProcess; lines: string[]; url: string }> {
  const child = spawn(process.execPath, [...TS_FLAGS, CLI, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  return new Promise((resolvePromise, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`no URL in 30 s: ${out} ${err}`)), 30_000);
    child.stderr?.on("data", (d) => {
      err += d;
    });
    child.stdout?.on("data", (d) => {
      out += d;
      const m = out.match(/http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+/);
      if (m) {
        clearTimeout(timer);
        resolvePromise({ child, lines: out.trim().split("\n"), url: m[0] });
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}: ${out} ${err}`));
    });
  });
}

/** Stops the CLI with SIGTERM; resolves with its exit code. */
export function stopCli(child: ChildProcess): Promise<number | null> {
  return new Promise((resolvePromise) => {
    if (child.exitCode !== null) return resolvePromise(child.exitCode);
    child.removeAllListeners("exit");
    child.on("exit", (code) => resolvePromise(code));
    child.kill("SIGTERM");
  });
}
