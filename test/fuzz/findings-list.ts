/**
 * Findings of the host API fuzz still open (see FINDINGS.md). Each case id
 * is a test of findings.test.ts that fails today and runs as `todo`; remove
 * an id once the host is fixed (the test then must pass). While any case is
 * open, host-api.test.ts (the random fuzz) runs as `todo` too.
 */
export const OPEN_CASES: ReadonlySet<string> = new Set<string>([]);

/** The finding groups (F1, F2...) that still have open cases. */
export const OPEN_FINDINGS: string[] = [
  ...new Set([...OPEN_CASES].map((id) => id.split(".")[0] ?? id)),
].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
