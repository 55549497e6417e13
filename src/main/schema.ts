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
  /** Outbox names and message types (optional: without it any name and JSON payload). */
  outboxes?: Record<string, unknown>;
}

/** A schema that allows any name and any JSON payload. */
export interface AnySchema extends HonkerSchema {
  queues: Record<string, unknown>;
  streams: Record<string, unknown>;
  channels: Record<string, unknown>;
  outboxes: Record<string, unknown>;
}

export type QueueName<S extends HonkerSchema> = Extract<keyof S["queues"], string>;
export type StreamName<S extends HonkerSchema> = Extract<keyof S["streams"], string>;
export type ChannelName<S extends HonkerSchema> = Extract<keyof S["channels"], string>;
export type QueuePayload<S extends HonkerSchema, Q extends QueueName<S>> = S["queues"][Q];
export type StreamPayload<S extends HonkerSchema, T extends StreamName<S>> = S["streams"][T];
export type ChannelPayload<S extends HonkerSchema, C extends ChannelName<S>> = S["channels"][C];
/** Outbox names of a schema (any string when it declares no `outboxes`). */
export type OutboxName<S extends HonkerSchema> = S extends { outboxes: infer O }
  ? O extends Record<string, unknown>
    ? Extract<keyof O, string>
    : string
  : string;
/** The message type of an outbox (unknown when the schema declares none). */
export type OutboxPayload<S extends HonkerSchema, N extends string> = S extends {
  outboxes: infer O;
}
  ? O extends Record<string, unknown>
    ? N extends keyof O
      ? O[N]
      : unknown
    : unknown
  : unknown;
