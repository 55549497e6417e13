// What docs/host.md's fragments take from the text around them: the `db`
// of its first example, and the app's own functions and values.
import type { HonkerDatabase } from "honker-electron";

declare global {
  type AppSchema = {
    queues: { sync: { folder: string } };
    streams: { activity: { user: string; action: string } };
    channels: { "settings-changed": { key: string } };
  };
  const db: HonkerDatabase<AppSchema>;
  const body: string;
  const user: string;
  const url: string;
  function index(event: { user: string; action: string }): Promise<void>;
  function apply(setting: { key: string }): void;
  function compact(signal: AbortSignal): Promise<void>;
  function callApi(): void;
  const log: { warn(message: string, error?: unknown): void };
}
