// A node:test reporter that writes one JSON line per finished test (and per
// skipped suite) to its destination file. scripts/run-tests.mjs adds it next
// to the usual reporter and prints the totals and every skip reason at the end.
export default async function* summaryReporter(source) {
  for await (const event of source) {
    if (event.type !== "test:pass" && event.type !== "test:fail") continue;
    const { name, file, skip, details } = event.data;
    const kind = details?.type ?? "test";
    if (kind === "suite" && skip === undefined) continue; // its tests are counted
    yield `${JSON.stringify({
      outcome: skip !== undefined ? "skipped" : event.type === "test:pass" ? "passed" : "failed",
      kind,
      name,
      file,
      reason: typeof skip === "string" ? skip : skip ? "skipped" : undefined,
    })}\n`;
  }
}
