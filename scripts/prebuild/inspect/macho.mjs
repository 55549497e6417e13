// Reads what the structural checks need from a thin 64-bit Mach-O dylib:
// CPU, install name, exports (from the export trie), linked dylibs, the
// minimum macOS, and the code signature, whose page hashes are recomputed.
import { createHash } from "node:crypto";

const CPUS = { 16777223: "x64", 16777228: "arm64" };
const MH_DYLIB = 6;
const LC_LOAD_DYLIB = 0xc;
const LC_ID_DYLIB = 0xd;
const LC_CODE_SIGNATURE = 0x1d;
const LC_BUILD_VERSION = 0x32;
const LC_DYLD_INFO_ONLY = 0x80000022;
const LC_DYLD_EXPORTS_TRIE = 0x80000033;
const CS_ADHOC = 0x2;

/**
 * @typedef {{ present: boolean, adhoc: boolean, pagesChecked: number, error: string | null }} Signature
 * @param {Buffer} buf the whole file
 * @returns {{ format: "mach-o", arch: string, type: string, installName: string | null,
 *   exports: string[], imports: string[], minos: string | null, signature: Signature }}
 */
export function inspectMachO(buf) {
  if (buf.readUInt32LE(0) !== 0xfeedfacf) throw new Error("not a thin 64-bit Mach-O file");
  const cpu = buf.readUInt32LE(4);
  const filetype = buf.readUInt32LE(12);
  const ncmds = buf.readUInt32LE(16);
  const cstr = (start) => buf.toString("latin1", start, buf.indexOf(0, start));
  let installName = null;
  let minos = null;
  let exports = [];
  const imports = [];
  /** @type {Signature} */
  let signature = { present: false, adhoc: false, pagesChecked: 0, error: null };
  for (let i = 0, lc = 32; i < ncmds; i++) {
    const cmd = buf.readUInt32LE(lc);
    const size = buf.readUInt32LE(lc + 4);
    if (cmd === LC_ID_DYLIB) installName = cstr(lc + buf.readUInt32LE(lc + 8));
    else if (cmd === LC_LOAD_DYLIB) imports.push(cstr(lc + buf.readUInt32LE(lc + 8)));
    else if (cmd === LC_BUILD_VERSION) minos = version(buf.readUInt32LE(lc + 12));
    else if (cmd === LC_DYLD_INFO_ONLY) {
      exports = readTrie(buf, buf.readUInt32LE(lc + 40), buf.readUInt32LE(lc + 44));
    } else if (cmd === LC_DYLD_EXPORTS_TRIE) {
      exports = readTrie(buf, buf.readUInt32LE(lc + 8), buf.readUInt32LE(lc + 12));
    } else if (cmd === LC_CODE_SIGNATURE) {
      signature = checkSignature(buf, buf.readUInt32LE(lc + 8));
    }
    lc += size;
  }
  return {
    format: "mach-o",
    arch: CPUS[cpu] ?? `cputype 0x${cpu.toString(16)}`,
    type: filetype === MH_DYLIB ? "dylib" : `filetype ${filetype}`,
    installName,
    exports,
    imports,
    minos,
    signature,
  };
}

function version(v) {
  return `${v >>> 16}.${(v >> 8) & 0xff}${v & 0xff ? `.${v & 0xff}` : ""}`;
}

/** Walks the export trie: every terminal node is an exported symbol. */
function readTrie(buf, start, size) {
  const names = [];
  if (size === 0) return names;
  const uleb = (pos) => {
    let value = 0;
    let shift = 0;
    let p = pos;
    for (;;) {
      const b = buf[p++];
      value += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) return [value, p];
    }
  };
  const walk = (node, prefix, depth) => {
    if (depth > 64) throw new Error("export trie too deep");
    const [terminal, p0] = uleb(start + node);
    if (terminal > 0) names.push(prefix);
    let p = p0 + terminal;
    const children = buf[p++];
    for (let c = 0; c < children; c++) {
      const end = buf.indexOf(0, p);
      const label = buf.toString("latin1", p, end);
      const [child, next] = uleb(end + 1);
      p = next;
      walk(child, prefix + label, depth + 1);
    }
  };
  walk(0, "", 0);
  return names;
}

/** Finds the CodeDirectory and recomputes every page hash it lists. */
function checkSignature(buf, dataoff) {
  const result = { present: true, adhoc: false, pagesChecked: 0, error: null };
  if (buf.readUInt32BE(dataoff) !== 0xfade0cc0) {
    return { ...result, error: "no embedded signature SuperBlob" };
  }
  const count = buf.readUInt32BE(dataoff + 8);
  for (let i = 0; i < count; i++) {
    const type = buf.readUInt32BE(dataoff + 12 + i * 8);
    if (type !== 0) continue; // CSSLOT_CODEDIRECTORY
    const cd = dataoff + buf.readUInt32BE(dataoff + 12 + i * 8 + 4);
    if (buf.readUInt32BE(cd) !== 0xfade0c02) return { ...result, error: "bad CodeDirectory" };
    const flags = buf.readUInt32BE(cd + 12);
    const hashOffset = buf.readUInt32BE(cd + 16);
    const nCodeSlots = buf.readUInt32BE(cd + 28);
    const codeLimit = buf.readUInt32BE(cd + 32);
    const hashSize = buf[cd + 36];
    const hashType = buf[cd + 37];
    const pageSize = 2 ** buf[cd + 39];
    const algo = hashType === 2 ? "sha256" : hashType === 1 ? "sha1" : null;
    if (!algo) return { ...result, error: `unknown hash type ${hashType}` };
    for (let page = 0; page < nCodeSlots; page++) {
      const from = page * pageSize;
      const data = buf.subarray(from, Math.min(from + pageSize, codeLimit));
      const want = buf.subarray(
        cd + hashOffset + page * hashSize,
        cd + hashOffset + (page + 1) * hashSize,
      );
      if (!createHash(algo).update(data).digest().equals(want)) {
        return { ...result, adhoc: Boolean(flags & CS_ADHOC), error: `page ${page} hash differs` };
      }
    }
    return { ...result, adhoc: Boolean(flags & CS_ADHOC), pagesChecked: nCodeSlots };
  }
  return { ...result, error: "no CodeDirectory" };
}
