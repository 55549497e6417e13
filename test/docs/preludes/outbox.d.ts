// What docs/outbox.md's fragments take from the text around them.
import type { HonkerDatabase, OutboxStatus, Transport } from "honker-electron";

declare global {
  const db: HonkerDatabase<{ outboxes: { sync: { op: string; id?: string; note?: unknown } } }>;
  const transport: Transport<{ op: string; id?: string; note?: unknown }>;
  function token(): Promise<string>;
  function render(status: OutboxStatus): void;
  const myApi: {
    push(
      items: unknown[],
      options: { signal: AbortSignal },
    ): Promise<{
      ok(key: string): boolean;
      permanent(key: string): boolean;
      reason(key: string): string;
    }>;
    ping(options: { signal: AbortSignal }): Promise<boolean>;
  };
}
