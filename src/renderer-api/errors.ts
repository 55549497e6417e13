import type { WireError } from "../protocol/index.ts";

/** An error from the main process, with its stable `code` (e.g. HONKER_FORBIDDEN). */
export class HonkerError extends Error {
  override readonly name = "HonkerError";
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
  static from(wire: WireError): HonkerError {
    return new HonkerError(String(wire.code), String(wire.message));
  }
}

export function isHonkerError(err: unknown, code?: string): err is HonkerError {
  return err instanceof HonkerError && (code === undefined || err.code === code);
}
