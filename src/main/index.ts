/**
 * honker-electron (main process / Node): durable queues, streams,
 * notify/listen, a scheduler, locks and rate limits inside your SQLite file.
 *
 * ```ts
 * import { open } from "honker-electron";
 * const db = open<AppSchema>("app.db");
 * db.queue("sync").work(async (job) => upload(job.payload), { concurrency: 4 });
 * db.transaction(() => {
 *   db.raw.prepare("INSERT INTO notes (body) VALUES (?)").run(body);
 *   db.queue("sync").enqueue({ note: body });
 * });
 * ```
 * @module
 */
// First: refuses a too-old Node before better-sqlite3 is ever loaded.
import "./node-version.ts";

export { getLoadablePath, load } from "../extension/index.ts";
export { type ElectronMain, type ServedWindow, serveWindow } from "./bridge/electron.ts";
export type {
  BrowserWindowLike,
  IpcMainEventLike,
  MessageChannelMainLike,
  WebContentsLike,
  WebFrameMainLike,
} from "./bridge/electron-types.ts";
export type {
  ChannelGrant,
  ConnectivityHints,
  Grants,
  OutboxGrant,
  QueueGrant,
  ServeOptions,
  StreamGrant,
} from "./bridge/grants.ts";
export { serveNodePort } from "./bridge/node.ts";

import "./bridge/serve.ts";

export { BridgeSession } from "./bridge/session.ts";
export type { StandardSchemaV1 } from "./bridge/validate.ts";
export { HonkerDatabase, makeOwnerId, type OpenOptions, open } from "./database.ts";
export { HonkerError, type HonkerErrorCode, isHonkerError } from "./errors.ts";
export {
  type Listener,
  type ListenOptions,
  type Notification,
  pruneNotifications,
} from "./listen.ts";
export type { Lock, WithLockOptions } from "./lock.ts";
export {
  type ElectronConnectivity,
  type ElectronConnectivityOptions,
  type ElectronNetLike,
  type ElectronPowerMonitorLike,
  electronConnectivity,
} from "./outbox/electron.ts";
export {
  type Connectivity,
  type DeadMessage,
  Outbox,
  type OutboxOptions,
  type OutboxStatus,
} from "./outbox/outbox.ts";
export {
  type DeliveryOutcome,
  type HttpTransportOptions,
  httpTransport,
  type OutboxMessage,
  type Transport,
  type TransportContext,
  TransportError,
} from "./outbox/transport.ts";
export type {
  ClaimedJob,
  DeadJob,
  EnqueueOptions,
  JobInfo,
  JobState,
  Queue,
  QueueStats,
} from "./queue.ts";
export type { RateLimitOptions } from "./ratelimit.ts";
export { Retention, type RetentionOptions, type RetentionReport } from "./retention.ts";
export {
  type ScheduleFire,
  type ScheduleInfo,
  type ScheduleOptions,
  Scheduler,
  type SchedulerOptions,
  type ScheduleUpdate,
} from "./scheduler.ts";
export type {
  AnySchema,
  ChannelName,
  ChannelPayload,
  HonkerSchema,
  OutboxName,
  OutboxPayload,
  QueueName,
  QueuePayload,
  StreamName,
  StreamPayload,
} from "./schema.ts";
export type {
  Stream,
  StreamEvent,
  StreamHandle,
  StreamSubscription,
  SubscribeOptions,
} from "./stream.ts";
export { type WakeReason, Watcher, type WatcherOptions } from "./watcher.ts";
export {
  type BackoffOptions,
  backoffSeconds,
  DoNotRetry,
  type JobContext,
  RetryAfter,
  Worker,
  type WorkHandler,
  type WorkOptions,
} from "./worker.ts";
