/**
 * Everything a renderer sends is untrusted. These checks run before any
 * database work: JSON-shaped data only, no prototype-polluting keys, bounded
 * size and depth, then the app's own Standard Schema validator if any.
 */
import { HonkerError } from "../errors.ts";
import { checkJson } from "../values.ts";

/**
 * The Standard Schema interface (https://standardschema.dev), as zod,
 * valibot and arktype implement it. Declared here so no package is needed.
 */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly "~standard": {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

export type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | {
      readonly issues: ReadonlyArray<{
        readonly message: string;
        readonly path?: ReadonlyArray<unknown>;
      }>;
    };

const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);
const MAX_DEPTH = 64;

export function invalidArg(message: string): HonkerError {
  return new HonkerError("HONKER_INVALID_ARGUMENT", message);
}

/**
 * Checks that `value` is plain JSON data (the host's one walk, values.ts)
 * without polluting keys, within a depth and size bound, and returns its
 * JSON size in bytes. Throws HONKER_INVALID_ARGUMENT otherwise.
 */
export function checkJsonData(value: unknown, what: string, maxBytes: number): number {
  // Structured clone keeps shared references, so a 300-byte message can
  // describe a tree of millions of nodes. Every JSON node but the last costs
  // at least two bytes ("0,"), so more nodes than that cannot fit the limit.
  checkJson(value, `${what}: payload`, {
    forbiddenKeys: FORBIDDEN_KEYS,
    maxDepth: MAX_DEPTH,
    maxNodes: Math.floor(maxBytes / 2) + 1,
  });
  const bytes = Buffer.byteLength(JSON.stringify(value), "utf8");
  if (bytes > maxBytes) {
    throw invalidArg(`${what}: payload is ${bytes} bytes; the limit is ${maxBytes} bytes`);
  }
  return bytes;
}

/** Runs a Standard Schema validator; returns the (possibly transformed) value. */
export async function runValidator(
  schema: StandardSchemaV1 | undefined,
  value: unknown,
  what: string,
): Promise<unknown> {
  if (!schema) return value;
  const result = await schema["~standard"].validate(value);
  if (result.issues) {
    const detail = result.issues
      .slice(0, 5)
      .map((i) => (i.path?.length ? `${i.path.map(String).join(".")}: ${i.message}` : i.message))
      .join("; ");
    throw invalidArg(`${what}: payload rejected by the schema: ${detail}`);
  }
  return result.value;
}

export function checkName(value: unknown, what: string): string {
  if (typeof value !== "string" || value.length === 0 || value.length > 256) {
    throw invalidArg(`${what}: name must be a string of 1 to 256 characters`);
  }
  return value;
}

export function checkId(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value <= 0) {
    throw invalidArg(`${what}: id must be a positive whole number`);
  }
  return value;
}

export function checkOptionalInt(
  value: unknown,
  what: string,
  min: number,
  max: number,
): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw invalidArg(`${what} must be a whole number from ${min} to ${max}`);
  }
  return value;
}
