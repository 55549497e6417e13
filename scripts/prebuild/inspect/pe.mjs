// Reads what the structural checks need from a PE32+ DLL: machine, the
// export directory's names and the imported DLLs.

const MACHINES = { 34404: "x64", 43620: "arm64" };
const IMAGE_FILE_DLL = 0x2000;

/**
 * @param {Buffer} buf the whole file
 * @returns {{ format: "pe", arch: string, type: string, exports: string[], imports: string[] }}
 */
export function inspectPe(buf) {
  if (buf.toString("latin1", 0, 2) !== "MZ") throw new Error("not a PE file (no MZ header)");
  const pe = buf.readUInt32LE(0x3c);
  if (buf.readUInt32LE(pe) !== 0x4550) throw new Error("not a PE file (no PE signature)");
  const machine = buf.readUInt16LE(pe + 4);
  const nsections = buf.readUInt16LE(pe + 6);
  const optSize = buf.readUInt16LE(pe + 20);
  const characteristics = buf.readUInt16LE(pe + 22);
  const opt = pe + 24;
  if (buf.readUInt16LE(opt) !== 0x20b) throw new Error("not a PE32+ (64-bit) image");
  const dir = (i) => ({
    rva: buf.readUInt32LE(opt + 112 + i * 8),
    size: buf.readUInt32LE(opt + 112 + i * 8 + 4),
  });
  const sections = Array.from({ length: nsections }, (_, i) => {
    const s = opt + optSize + i * 40;
    return {
      va: buf.readUInt32LE(s + 12),
      vsize: Math.max(buf.readUInt32LE(s + 8), buf.readUInt32LE(s + 16)),
      raw: buf.readUInt32LE(s + 20),
    };
  });
  const off = (rva) => {
    const s = sections.find((x) => rva >= x.va && rva < x.va + x.vsize);
    if (!s) throw new Error(`RVA 0x${rva.toString(16)} is in no section`);
    return rva - s.va + s.raw;
  };
  const cstr = (rva) => {
    const start = off(rva);
    return buf.toString("latin1", start, buf.indexOf(0, start));
  };

  const exports = [];
  const exp = dir(0);
  if (exp.rva) {
    const e = off(exp.rva);
    const count = buf.readUInt32LE(e + 24);
    const names = off(buf.readUInt32LE(e + 32));
    for (let i = 0; i < count; i++) exports.push(cstr(buf.readUInt32LE(names + i * 4)));
  }
  const imports = [];
  const imp = dir(1);
  if (imp.rva) {
    for (let d = off(imp.rva); buf.readUInt32LE(d + 12) !== 0; d += 20) {
      imports.push(cstr(buf.readUInt32LE(d + 12)));
    }
  }
  return {
    format: "pe",
    arch: MACHINES[machine] ?? `machine 0x${machine.toString(16)}`,
    type: characteristics & IMAGE_FILE_DLL ? "DLL" : "not a DLL",
    exports,
    imports,
  };
}
