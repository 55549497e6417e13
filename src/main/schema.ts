/**
 * The one schema type that names every queue, stream and channel and its
 * payload type. The host, workers, renderer client and hooks are all
 * checked against it.
 *
 * ```ts
 * type AppSchema = {
 *   queues: { sync: { folder: string } };
 *   streams: { activity: { user: string; action: string } };
 *   channels: { "settings-changed": { key: string } };
 * };
 * const db = open<AppSchema>("app.db");
 * db.queue("sync").enqueue({ folder: "inbox" }); // checked
 * ```
 */
export interface HonkerSchema {
  queues: Record<string, unknown>;
  streams: Record<string, unknown>;
  channels: Record<string, unknown>;
}

/** A schema that allows any name and any JSON payload. */
export interface AnySchema extends HonkerSchema {
  queues: Record<string, unknown>;
  streams: Record<string, unknown>;
  channels: Record<string, unknown>;
}

export type QueueName<S extends HonkerSchema> = Extract<keyof S["queues"], string>;
export type StreamName<S extends HonkerSchema> = Extract<keyof S["streams"], string>;
export type ChannelName<S extends HonkerSchema> = Extract<keyof S["channels"], string>;
export type QueuePayload<S extends HonkerSchema, Q extends QueueName<S>> = S["queues"][Q];
export type StreamPayload<S extends HonkerSchema, T extends StreamName<S>> = S["streams"][T];
export type ChannelPayload<S extends HonkerSchema, C extends ChannelName<S>> = S["channels"][C];
