/**
 * Type tests, checked by `tsc -p tsconfig.json --noEmit` (never run): every
 * `@ts-expect-error` line must fail to compile, every other line must pass.
 * One schema drives the host API and the renderer client; the grants (as a
 * type) decide which client methods exist at all.
 */
import type { Grants } from "../../src/main/bridge/grants.ts";
import type { HonkerDatabase } from "../../src/main/database.ts";
import type { connect } from "../../src/renderer-api/index.ts";
import type { HonkerHooks } from "../../src/renderer-api/react.ts";

type Schema = {
  queues: { jobs: { n: number }; mail: { to: string } };
  streams: { feed: { text: string }; audit: { who: string } };
  channels: { pings: { at: number }; chat: { msg: string } };
};

declare const db: HonkerDatabase<Schema>;

// ---- The host API (open<Schema>()) -------------------------------------
db.queue("jobs").enqueue({ n: 1 });
db.queue("jobs").enqueue({ n: 1 }, { delay: 5, priority: 2, key: "k" });
db.queue("mail").enqueueMany([{ to: "a" }, { to: "b" }]);
db.stream("feed").publish({ text: "hi" });
db.notify("pings", { at: 1 });
db.listen("chat");

// @ts-expect-error wrong payload type
db.queue("jobs").enqueue({ n: "1" });
// @ts-expect-error missing payload field
db.queue("mail").enqueue({});
// @ts-expect-error a payload of another queue
db.queue("jobs").enqueue({ to: "a" });
// @ts-expect-error unknown queue
db.queue("nope");
// @ts-expect-error unknown stream
db.stream("nope");
// @ts-expect-error wrong stream payload
db.stream("feed").publish({ text: 5 });
// @ts-expect-error unknown channel
db.notify("nope", { at: 1 });
// @ts-expect-error wrong channel payload
db.notify("pings", { at: "now" });
// @ts-expect-error unknown channel to listen on
db.listen("nope");
// @ts-expect-error enqueueMany of wrong items
db.queue("jobs").enqueueMany([{ n: 1 }, { n: "2" }]);

// ---- Grants checked against the schema ----------------------------------
const grants = {
  queues: { jobs: { enqueue: true }, mail: { read: true, stats: true, cancel: true } },
  streams: { feed: { subscribe: true }, audit: { publish: true } },
  channels: { pings: { listen: true }, chat: { notify: true } },
} as const satisfies Grants<Schema>;

// @ts-expect-error grants may only name the schema's queues
const badGrants: Grants<Schema> = { queues: { nope: { enqueue: true } } };
void badGrants;

// ---- The renderer client (connect<Schema, typeof grants>()) -------------
declare const connectTyped: typeof connect<Schema, typeof grants>;
async function client(): Promise<void> {
  const honker = await connectTyped();

  // Positive: what was granted compiles, with payloads checked.
  const id: number = await honker.queue("jobs").enqueue({ n: 1 });
  await honker.queue("jobs").enqueueMany([{ n: 1 }], { delay: 1 });
  const job = await honker.queue("mail").job(id).get();
  const to: string | undefined = job?.payload?.to;
  void to;
  await honker.queue("mail").stats();
  await honker.queue("mail").cancel(id);
  const sub = honker.stream("feed").subscribe({ from: "beginning" });
  for await (const e of sub) {
    const text: string = e.payload.text;
    void text;
  }
  honker.stream("feed").subscribe((e) => void e.payload.text);
  await honker.stream("audit").publish({ who: "me" });
  await honker.notify("chat", { msg: "hi" });
  for await (const n of honker.listen("pings")) {
    const at: number = n.payload.at;
    void at;
  }

  // Wrong payloads.
  // @ts-expect-error wrong queue payload
  await honker.queue("jobs").enqueue({ n: "1" });
  // @ts-expect-error wrong stream payload
  await honker.stream("audit").publish({ who: 1 });
  // @ts-expect-error wrong channel payload
  await honker.notify("chat", { msg: 1 });

  // Unknown names.
  // @ts-expect-error unknown queue
  honker.queue("nope");
  // @ts-expect-error unknown stream
  honker.stream("nope");
  // @ts-expect-error unknown channel
  await honker.notify("nope", { msg: "x" });
  // @ts-expect-error unknown channel
  honker.listen("nope");

  // Beyond the grants.
  // @ts-expect-error jobs grants only enqueue: no cancel
  await honker.queue("jobs").cancel(1);
  // @ts-expect-error jobs grants only enqueue: no job reads
  honker.queue("jobs").job(1);
  // @ts-expect-error jobs grants only enqueue: no stats
  await honker.queue("jobs").stats();
  // @ts-expect-error mail grants read/stats/cancel but not enqueue
  await honker.queue("mail").enqueue({ to: "a" });
  // @ts-expect-error feed grants only subscribe: no publish
  await honker.stream("feed").publish({ text: "x" });
  // @ts-expect-error audit grants only publish: no subscribe
  honker.stream("audit").subscribe();
  // @ts-expect-error pings is listen-only: no notify
  await honker.notify("pings", { at: 1 });
  // @ts-expect-error chat is notify-only: no listen
  honker.listen("chat");
}
void client;

// ---- Partial grants: a name left out is not there at all -----------------
const narrow = { queues: { jobs: { enqueue: true } } } as const satisfies Grants<Schema>;
declare const connectNarrow: typeof connect<Schema, typeof narrow>;
async function narrowClient(): Promise<void> {
  const honker = await connectNarrow();
  await honker.queue("jobs").enqueue({ n: 1 });
  // @ts-expect-error mail is not granted at all
  honker.queue("mail");
  // @ts-expect-error no stream is granted
  honker.stream("feed");
  // @ts-expect-error no channel is granted
  await honker.notify("pings", { at: 1 });
  // @ts-expect-error no channel is granted
  honker.listen("pings");
}
void narrowClient;

const partial = { channels: { pings: { listen: true } } } as const satisfies Grants<Schema>;
declare const connectPartial: typeof connect<Schema, typeof partial>;
async function partialClient(): Promise<void> {
  const honker = await connectPartial();
  for await (const n of honker.listen("pings")) void n.payload.at;
  // @ts-expect-error pings is listen-only
  await honker.notify("pings", { at: 1 });
  // @ts-expect-error chat is not named in the grants
  await honker.notify("chat", { msg: "x" });
  // @ts-expect-error chat is not named in the grants
  honker.listen("chat");
  // @ts-expect-error no queue is granted
  honker.queue("jobs");
}
void partialClient;

// ---- Without grants, the client allows every schema name (payloads still checked)
declare const connectAll: typeof connect<Schema>;
async function allClient(): Promise<void> {
  const honker = await connectAll();
  await honker.queue("mail").enqueue({ to: "a" });
  await honker.queue("jobs").cancel(1);
  await honker.notify("pings", { at: 1 });
  // @ts-expect-error payloads are still checked
  await honker.queue("mail").enqueue({ to: 1 });
  // @ts-expect-error names are still checked
  honker.queue("nope");
}
void allClient;

// ---- Outboxes: names from the schema, methods from the grants ------------
type OutboxSchema = Schema & { outboxes: { sync: { op: string }; audit: { who: string } } };
const outboxGrants = {
  outboxes: { sync: { status: true, control: true }, audit: { status: true } },
  connectivity: true,
} as const satisfies Grants<OutboxSchema>;
// @ts-expect-error grants may only name the schema's outboxes
const badOutboxGrants: Grants<OutboxSchema> = { outboxes: { nope: { status: true } } };
void badOutboxGrants;

declare const connectOutboxes: typeof connect<OutboxSchema, typeof outboxGrants>;
async function outboxClient(): Promise<void> {
  const honker = await connectOutboxes();
  const s = await honker.outbox("sync").status();
  const pending: number = s.pending;
  const online: boolean | null = s.online;
  void pending;
  void online;
  const stop: () => void = honker.outbox("audit").watchStatus((st) => void st.dead);
  stop();
  await honker.outbox("sync").pause();
  await honker.outbox("sync").resume();
  const flushed: number = await honker.outbox("sync").flush();
  void flushed;
  const dead = await honker.outbox("sync").dead({ limit: 10 });
  const op: string | undefined = dead[0]?.payload.op;
  void op;
  await honker.outbox("sync").redrive([1, 2]);
  await honker.outbox("sync").redrive();
  // @ts-expect-error audit grants only status: no control
  await honker.outbox("audit").pause();
  // @ts-expect-error audit grants only status: no redrive
  await honker.outbox("audit").redrive();
  // @ts-expect-error unknown outbox
  honker.outbox("nope");
  // @ts-expect-error pages never add: writes stay in main
  honker.outbox("sync").add({ op: "put" });
}
void outboxClient;

// Outboxes not granted at all are not there.
declare const connectNoOutbox: typeof connect<OutboxSchema, typeof narrow>;
async function noOutboxClient(): Promise<void> {
  const honker = await connectNoOutbox();
  // @ts-expect-error no outbox is granted
  honker.outbox("sync");
}
void noOutboxClient;

// The hooks take the same names.
declare const outboxHooks: HonkerHooks<OutboxSchema, typeof outboxGrants>;
function OutboxBadge(): void {
  const { outbox, status } = outboxHooks.useOutbox("sync");
  const n: number | undefined = outbox?.pending;
  const st: "connecting" | "live" | "error" = status;
  void n;
  void st;
  outboxHooks.useOutbox("audit");
  // @ts-expect-error unknown outbox
  outboxHooks.useOutbox("nope");
}
void OutboxBadge;
declare const noOutboxHooks: HonkerHooks<OutboxSchema, typeof narrow>;
function NoOutboxBadge(): void {
  // @ts-expect-error no outbox status is granted
  noOutboxHooks.useOutbox("sync");
}
void NoOutboxBadge;
