/**
 * Findings of the host API fuzz still open (see FINDINGS.md). While this
 * list is not empty, host-api.test.ts runs as `todo`; empty it once the
 * host is fixed so the fuzz fails on any new violation.
 */
export const OPEN_FINDINGS: string[] = ["pending"];
