#!/usr/bin/env node
/**
 * The `honker-electron` command:
 *
 *   honker-electron inspect <file> [--port N] [--read-only] [--open]
 *   honker-electron demo [--port N] [--open]
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { startDemo } from "./demo.ts";
import { type Inspector, inspectFile, inspector } from "./index.ts";

const USAGE = `Usage:
  honker-electron inspect <file> [--port N] [--read-only] [--open]
      Serves the inspector for a database file on 127.0.0.1 and prints its URL.
  honker-electron demo [--port N] [--open]
      Creates a demo database with live traffic in a temp folder and inspects it.
`;

interface Flags {
  positional: string[];
  port: number | undefined;
  readOnly: boolean;
  open: boolean;
}

function parse(argv: string[]): Flags {
  const flags: Flags = { positional: [], port: undefined, readOnly: false, open: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--read-only") flags.readOnly = true;
    else if (a === "--open") flags.open = true;
    else if (a === "--port" || a.startsWith("--port=")) {
      const v = a === "--port" ? argv[++i] : a.slice("--port=".length);
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) fail(`--port must be 0-65535, got ${v}`);
      flags.port = n;
    } else if (a === "-h" || a === "--help") {
      process.stdout.write(USAGE);
      process.exit(0);
    } else if (a.startsWith("-")) fail(`unknown option ${a}`);
    else flags.positional.push(a);
  }
  return flags;
}

function fail(message: string): never {
  process.stderr.write(`honker-electron: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function openBrowser(url: string): void {
  const [cmd, args] =
    process.platform === "darwin"
      ? ["open", [url]]
      : process.platform === "win32"
        ? ["cmd", ["/c", "start", "", url]]
        : ["xdg-open", [url]];
  const child = spawn(cmd, args, { stdio: "ignore", detached: true });
  child.on("error", () => process.stderr.write(`(could not start a browser; open ${url})\n`));
  child.unref();
}

function onExit(close: () => Promise<void>): void {
  let done = false;
  const stop = () => {
    if (done) process.exit(130);
    done = true;
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  const flags = parse(rest);
  if (command === "inspect") {
    const file = flags.positional[0];
    if (!file || flags.positional.length > 1) fail("inspect needs exactly one database file");
    if (!existsSync(file)) fail(`${file} does not exist`);
    const ui: Inspector = await inspectFile(file, { port: flags.port, readOnly: flags.readOnly });
    process.stdout.write(
      `honker inspector for ${file}${flags.readOnly ? " (read-only)" : ""}\n${ui.url}\n`,
    );
    if (flags.open) openBrowser(ui.url);
    onExit(() => ui.close());
  } else if (command === "demo") {
    if (flags.positional.length) fail("demo takes no file");
    const demo = startDemo();
    const ui = await inspector(demo.db, { port: flags.port, readOnly: flags.readOnly });
    process.stdout.write(`honker demo database: ${demo.path}\nhonker inspector: ${ui.url}\n`);
    if (flags.open) openBrowser(ui.url);
    onExit(async () => {
      await ui.close();
      await demo.stop();
    });
  } else if (command === undefined || command === "-h" || command === "--help") {
    process.stdout.write(USAGE);
  } else {
    fail(`unknown command ${command}`);
  }
}

main().catch((err: unknown) => {
  // Errors of the kit already start with "honker-electron: ".
  const message = String((err as Error).message ?? err).replace(/^honker-electron: /, "");
  process.stderr.write(`honker-electron: ${message}\n`);
  process.exit(1);
});
