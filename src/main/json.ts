import { invalid } from "./errors.ts";

/**
 * Payloads are stored as JSON text. `undefined`, functions, symbols,
 * BigInt and cycles cannot be, so they are refused here with a clear error
 * instead of being silently dropped or crashing later.
 */
export function toJson(value: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw invalid(`${what} is not JSON-serialisable: ${(err as Error).message}`);
  }
  if (text === undefined) {
    throw invalid(`${what} is not JSON-serialisable (got ${typeof value}); pass null instead`);
  }
  return text;
}

/** Parses JSON written by us or by honker; non-JSON text (old honker rows) comes back as-is. */
export function fromJson<T>(text: string | null): T {
  if (text === null) return null as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    return text as T;
  }
}
