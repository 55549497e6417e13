// Structural checks of one prebuild, read from its own headers: object
// format and architecture, the entry point exported (for macOS the only
// export), no library needed beyond the system C library, and for macOS the
// @rpath install name, minimum OS and (arm64) a valid ad-hoc signature.
import { readFileSync } from "node:fs";
import { MACOS_MIN } from "./compile.mjs";
import { inspectElf } from "./inspect/elf.mjs";
import { inspectMachO } from "./inspect/macho.mjs";
import { inspectPe } from "./inspect/pe.mjs";

/** Libraries each target may need: the system C library and nothing else. */
const ALLOWED_IMPORTS = {
  glibc: /^(libc\.so\.6|libm\.so\.6)$/,
  musl: /^libc\.so$/,
  win32: /^(kernel32\.dll|msvcrt\.dll|api-ms-win-crt-[a-z0-9-]+\.dll)$/i,
  darwin: /^\/usr\/lib\/libSystem\.B\.dylib$/,
};

/**
 * @param {import("./targets.mjs").Target} target
 * @param {string} path the prebuild
 * @returns {{ problems: string[], summary: string }} no problems means it passed
 */
export function checkStructure(target, path) {
  const buf = readFileSync(path);
  const problems = [];
  let info;
  try {
    if (target.platform === "linux") info = inspectElf(buf);
    else if (target.platform === "win32") info = inspectPe(buf);
    else info = inspectMachO(buf);
  } catch (err) {
    return { problems: [err.message], summary: "unreadable" };
  }
  const kind = { linux: "shared object", win32: "DLL", darwin: "dylib" }[target.platform];
  if (info.arch !== target.arch) problems.push(`architecture is ${info.arch}, want ${target.arch}`);
  if (info.type !== kind) problems.push(`file type is ${info.type}, want ${kind}`);

  const entry = target.platform === "darwin" ? "_sqlite3_honker_init" : "sqlite3_honker_init";
  if (!info.exports.includes(entry)) problems.push(`${entry} is not exported`);
  if (target.platform === "darwin" && info.exports.length !== 1) {
    problems.push(`exports ${info.exports.length} symbols, want only ${entry}`);
  }
  const allowed = ALLOWED_IMPORTS[target.libc ?? target.platform];
  const foreign = info.imports.filter((lib) => !allowed.test(lib));
  if (foreign.length > 0) problems.push(`needs libraries beyond the C library: ${foreign}`);

  const facts = [
    `${info.format.toUpperCase()} ${info.arch} ${info.type}`,
    `exports ${info.exports.includes(entry) ? entry : "?"}${info.exports.length === 1 ? " only" : ""}`,
    `needs ${info.imports.join("+") || "nothing"}`,
  ];
  if (info.format === "mach-o") {
    const want = `@rpath/${target.file}`;
    if (info.installName !== want) problems.push(`install name ${info.installName}, want ${want}`);
    const min = MACOS_MIN[target.arch];
    if (info.minos !== min) problems.push(`minimum macOS ${info.minos}, want ${min}`);
    facts.push(`install name ${info.installName}`, `macOS >= ${info.minos}`);
    const sig = info.signature;
    if (target.arch === "arm64") {
      if (!sig.present) problems.push("no LC_CODE_SIGNATURE (arm64 macOS refuses unsigned code)");
      else if (sig.error) problems.push(`code signature: ${sig.error}`);
      else if (!sig.adhoc) problems.push("code signature is not ad-hoc");
      else facts.push(`ad-hoc signed (${sig.pagesChecked} page hashes match)`);
    }
  }
  return { problems, summary: facts.join(", ") };
}
