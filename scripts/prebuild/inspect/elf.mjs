// Reads what the structural checks need from a 64-bit little-endian ELF
// shared object: machine, exported dynamic symbols, DT_NEEDED libraries.

const MACHINES = { 62: "x64", 183: "arm64" };
const SHT_DYNSYM = 11;
const SHT_DYNAMIC = 6;
const DT_NEEDED = 1n;

/**
 * @param {Buffer} buf the whole file
 * @returns {{ format: "elf", arch: string, type: string, exports: string[], imports: string[] }}
 */
export function inspectElf(buf) {
  if (buf.readUInt32BE(0) !== 0x7f454c46) throw new Error("not an ELF file");
  if (buf[4] !== 2 || buf[5] !== 1) throw new Error("not a 64-bit little-endian ELF file");
  const type = buf.readUInt16LE(16) === 3 ? "shared object" : `e_type ${buf.readUInt16LE(16)}`;
  const machine = buf.readUInt16LE(18);
  const shoff = Number(buf.readBigUInt64LE(0x28));
  const shentsize = buf.readUInt16LE(0x3a);
  const shnum = buf.readUInt16LE(0x3c);
  const sections = Array.from({ length: shnum }, (_, i) => {
    const o = shoff + i * shentsize;
    return {
      type: buf.readUInt32LE(o + 4),
      offset: Number(buf.readBigUInt64LE(o + 0x18)),
      size: Number(buf.readBigUInt64LE(o + 0x20)),
      link: buf.readUInt32LE(o + 0x28),
      entsize: Number(buf.readBigUInt64LE(o + 0x38)),
    };
  });
  const cstr = (sec, off) => {
    const start = sec.offset + off;
    return buf.toString("latin1", start, buf.indexOf(0, start));
  };
  const exports = [];
  const imports = [];
  for (const sec of sections) {
    const strtab = sections[sec.link];
    if (sec.type === SHT_DYNSYM && strtab) {
      for (let o = sec.offset + sec.entsize; o < sec.offset + sec.size; o += sec.entsize) {
        const bind = buf[o + 4] >> 4; // 1 GLOBAL, 2 WEAK
        const shndx = buf.readUInt16LE(o + 6);
        if ((bind === 1 || bind === 2) && shndx !== 0)
          exports.push(cstr(strtab, buf.readUInt32LE(o)));
      }
    } else if (sec.type === SHT_DYNAMIC && strtab) {
      for (let o = sec.offset; o < sec.offset + sec.size; o += 16) {
        if (buf.readBigUInt64LE(o) === DT_NEEDED) {
          imports.push(cstr(strtab, Number(buf.readBigUInt64LE(o + 8))));
        }
      }
    }
  }
  return {
    format: "elf",
    arch: MACHINES[machine] ?? `machine 0x${machine.toString(16)}`,
    type,
    exports,
    imports,
  };
}
