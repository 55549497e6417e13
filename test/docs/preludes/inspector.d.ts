// What docs/inspector.md's fragments take from the text around them.
import type { HonkerDatabase } from "honker-electron";

declare global {
  const db: HonkerDatabase;
}
