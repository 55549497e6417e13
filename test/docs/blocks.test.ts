/** How the docs test reads code blocks and the markers before them. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { extractBlocks } from "./blocks.ts";

const doc = [
  "# Title",
  "",
  "```ts",
  "const a = 1;",
  "```",
  "",
  "<!-- fragment; file: src/page.ts -->",
  "```tsx",
  "<p />;",
  "```",
  "",
  "<!-- expect: hello world -->",
  "",
  "```typescript",
  "console.log('hello world');",
  "```",
  "",
  "```sh",
  "npm test",
  "```",
  "```sql",
  "SELECT 1;",
  "```",
].join("\n");

describe("extractBlocks", () => {
  const blocks = extractBlocks(doc, "docs/x.md");

  it("finds ts, tsx, typescript and sql blocks, not shell", () => {
    assert.deepEqual(
      blocks.map((b) => [b.lang, b.line]),
      [
        ["ts", 3],
        ["tsx", 8],
        ["ts", 14],
        ["sql", 21],
      ],
    );
    assert.equal(blocks[0]?.code, "const a = 1;\n");
  });

  it("reads fragment, file and expect from the comment before the fence", () => {
    assert.deepEqual(
      blocks.map((b) => ({ fragment: b.fragment, file: b.file, expect: b.expect })),
      [
        { fragment: false, file: "block-3.ts", expect: undefined },
        { fragment: true, file: "src/page.ts", expect: undefined },
        { fragment: false, file: "block-14.ts", expect: "hello world" },
        { fragment: false, file: "block-21.sql", expect: undefined },
      ],
    );
  });

  it("refuses an unclosed fence", () => {
    assert.throws(() => extractBlocks("```ts\nconst a = 1;\n", "docs/y.md"), /docs\/y\.md:1/);
  });
});
