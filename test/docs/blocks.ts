/**
 * Code blocks of the Markdown docs, as the docs test sees them. An HTML
 * comment on the line before a fence steers it:
 *
 *   <!-- fragment -->                type-checked, never run (needs Electron, a
 *                                    page, or names from the doc's prelude)
 *   <!-- file: src/main/main.ts -->  the block's file name (other blocks of
 *                                    the same doc import it by that path)
 *   <!-- expect: order 1 shipped --> a run must print this
 *
 * Several share one comment, split by `;`: `<!-- fragment; file: src/page.ts -->`.
 */
export interface Block {
  /** The Markdown file, relative to the repository root. */
  doc: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: "ts" | "tsx" | "sql";
  code: string;
  fragment: boolean;
  /** From `file:`; otherwise `block-<line>.<ext>`. */
  file: string;
  /** From `expect:`: text a run must print. */
  expect?: string;
}

const LANGS: Record<string, Block["lang"]> = {
  ts: "ts",
  typescript: "ts",
  tsx: "tsx",
  sql: "sql",
};

export function extractBlocks(markdown: string, doc: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w+)\s*$/.exec(lines[i] ?? "");
    if (!open) continue;
    const end = lines.findIndex((l, j) => j > i && /^```\s*$/.test(l));
    if (end < 0) throw new Error(`${doc}:${i + 1}: unclosed code fence`);
    const lang = LANGS[(open[1] ?? "").toLowerCase()];
    if (lang) {
      let k = i - 1;
      while (k >= 0 && (lines[k] ?? "").trim() === "") k--;
      const marker = /^<!--(.*)-->\s*$/.exec((lines[k] ?? "").trim())?.[1] ?? "";
      const file = /file:\s*([^\s;]+)/.exec(marker)?.[1];
      const expect = /expect:\s*([^;]+?)\s*(;|$)/.exec(marker)?.[1];
      blocks.push({
        doc,
        line: i + 1,
        lang,
        code: `${lines.slice(i + 1, end).join("\n")}\n`,
        fragment: /\bfragment\b/.test(marker),
        file: file ?? `block-${i + 1}.${lang}`,
        ...(expect ? { expect } : {}),
      });
    }
    i = end;
  }
  return blocks;
}
