/**
 * honker-electron/renderer: the typed page-side client.
 *
 * ```ts
 * import { connect } from "honker-electron/renderer";
 * const honker = await connect<AppSchema, typeof grants>();
 * const id = await honker.queue("sync").enqueue({ folder: "inbox" });
 * const result = await honker.queue("sync").job(id).waitResult();
 * ```
 * @module
 */

export type {
  WireCapabilities,
  WireEnqueueOptions,
  WireOutboxStatus,
  WireStats,
} from "../protocol/index.ts";
export {
  type ConnectivitySource,
  type ConnectOptions,
  connect,
  type PortLike,
} from "./client.ts";
export { HonkerError, isHonkerError } from "./errors.ts";
export type {
  AllGranted,
  ClientSchema,
  ClientSubscription,
  DeadMessageView,
  GrantShape,
  HonkerClient,
  JobClient,
  JobView,
  Notification,
  OutboxClient,
  OutboxStatusView,
  QueueClient,
  StreamClient,
  StreamEvent,
  StreamSubscribeOptions,
} from "./types.ts";
