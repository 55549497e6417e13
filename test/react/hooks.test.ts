import assert from "node:assert/strict";
import { after, afterEach, beforeEach, describe, it } from "node:test";
import { MessageChannel, type MessagePort } from "node:worker_threads";
import * as React from "react";
import type { Grants } from "../../src/main/bridge/grants.ts";
import { serveNodePort } from "../../src/main/bridge/node.ts";
import type { BridgeSession } from "../../src/main/bridge/session.ts";
import type { AnySchema } from "../../src/main/schema.ts";
import { connect, type PortLike } from "../../src/renderer-api/client.ts";
import {
  type AnyHonkerClient,
  HonkerProvider,
  type StreamState,
  useJob,
  useListen,
  useOutbox,
  useQueueStats,
  useStream,
} from "../../src/renderer-api/react.ts";
import { freshHost, type Host } from "../helpers/host.ts";
import { closeDom } from "../helpers/react-env.ts";

// react-dom reads the DOM globals when it loads: load it after react-env (static
// imports, which import sorting may reorder, all run before this line).
const { cleanup, render, screen, waitFor } = await import("@testing-library/react");

const h = React.createElement;
const WAIT = { timeout: 8000 };

const grants: Grants = {
  queues: { jobs: { enqueue: true, read: true, stats: true }, quiet: { enqueue: true } },
  streams: { feed: { publish: true, subscribe: true }, other: { subscribe: true } },
  channels: { pings: { listen: true } },
  outboxes: { sync: { status: true } },
};

let host: Host<AnySchema>;
let session: BridgeSession;
let mainPort: MessagePort;
let client: AnyHonkerClient;

beforeEach(async () => {
  host = freshHost();
  const { port1, port2 } = new MessageChannel();
  mainPort = port1;
  session = serveNodePort(host.db, port1, grants);
  client = await connect({ port: port2 as unknown as PortLike });
});

afterEach(async () => {
  cleanup();
  await client.close();
  session.close();
  mainPort.close();
  await host.close();
});

after(() => closeDom());

function mount(...children: React.ReactNode[]) {
  return render(h(React.StrictMode, null, h(HonkerProvider, { client }, ...children)));
}

type Text = { text: string };

function Feed(props: {
  label: string;
  topic?: string;
  limit?: number;
  from?: number | "latest" | "beginning";
  seen?: StreamState<Text>[];
}) {
  const opts: { limit?: number; from?: number | "latest" | "beginning" } = {};
  if (props.limit !== undefined) opts.limit = props.limit;
  if (props.from !== undefined) opts.from = props.from;
  const state = useStream<Text>(props.topic ?? "feed", opts);
  props.seen?.push(state);
  return h(
    "section",
    null,
    h("p", null, `${props.label} status:${state.status}`),
    state.error ? h("p", null, `${props.label} error:${state.error.code}`) : null,
    h(
      "ul",
      { "data-testid": `${props.label}-list` },
      state.events.map((e) => h("li", { key: e.offset }, `${props.label}:${e.payload.text}`)),
    ),
  );
}

function JobView(props: { id: number | undefined; label: string }) {
  const j = useJob<{ n: number }, { doubled: number }>("jobs", props.id);
  return h(
    "p",
    null,
    `${props.label} status:${j.status} state:${j.state} attempts:${j.attempts} result:${JSON.stringify(j.result)}`,
  );
}

function Stats(props: { queue: string }) {
  const { stats, status, error } = useQueueStats(props.queue);
  return h(
    "p",
    null,
    `${props.queue} ${status} pending:${stats?.pending ?? "-"} error:${error?.code ?? "-"}`,
  );
}

function OutboxView(props: { name: string }) {
  const { outbox, status, error } = useOutbox(props.name);
  return h(
    "p",
    null,
    `${props.name} ${status} pending:${outbox?.pending ?? "-"} online:${outbox?.online ?? "-"} paused:${outbox?.paused ?? "-"} error:${error?.code ?? "-"}`,
  );
}

function Pings() {
  const { notifications, last, status } = useListen<Text>("pings", { limit: 2 });
  return h("p", null, `${status} count:${notifications.length} last:${last?.payload.text ?? "-"}`);
}

function items(label: string): string[] {
  return Array.from(screen.getByTestId(`${label}-list`).querySelectorAll("li")).map(
    (li) => li.textContent ?? "",
  );
}

/** Waits until main's session holds exactly `n` subscriptions. */
async function subscriptions(n: number): Promise<void> {
  await waitFor(() => assert.equal(session.subscriptionCount, n), WAIT);
}

describe("React hooks against a real host (StrictMode)", () => {
  it("useStream renders events as main publishes them, keeping the last `limit`", async () => {
    mount(h(Feed, { label: "a", limit: 3 }));
    await screen.findByText("a status:live", {}, WAIT);
    const feed = host.db.stream("feed");
    for (let i = 1; i <= 5; i++) feed.publish({ text: `e${i}` });
    await screen.findByText("a:e5", {}, WAIT);
    assert.deepEqual(items("a"), ["a:e3", "a:e4", "a:e5"]);
    feed.publish({ text: "e6" });
    await screen.findByText("a:e6", {}, WAIT);
    assert.deepEqual(items("a"), ["a:e4", "a:e5", "a:e6"]);
  });

  it("useStream replays from 'beginning' and from an offset", async () => {
    const feed = host.db.stream("feed");
    const first = feed.publish({ text: "old1" });
    feed.publish({ text: "old2" });
    mount(h(Feed, { label: "b", from: "beginning" }), h(Feed, { label: "c", from: first }));
    await screen.findByText("b:old2", {}, WAIT);
    await screen.findByText("c:old2", {}, WAIT);
    assert.deepEqual(items("b"), ["b:old1", "b:old2"]);
    assert.deepEqual(items("c"), ["c:old2"]);
    feed.publish({ text: "new" });
    await screen.findByText("b:new", {}, WAIT);
    await screen.findByText("c:new", {}, WAIT);
  });

  it("two components with the same key share one main subscription; unmount frees it", async () => {
    const before = session.stats.calls;
    const view = mount(h(Feed, { label: "a" }), h(Feed, { label: "b" }));
    await screen.findByText("a status:live", {}, WAIT);
    await screen.findByText("b status:live", {}, WAIT);
    assert.equal(session.subscriptionCount, 1);
    // StrictMode's mount, unmount, mount made exactly one subscribe call.
    assert.equal(session.stats.calls - before, 1);
    host.db.stream("feed").publish({ text: "both" });
    await screen.findByText("a:both", {}, WAIT);
    await screen.findByText("b:both", {}, WAIT);

    // A different window size is a different key: a second subscription.
    view.rerender(
      h(
        React.StrictMode,
        null,
        h(
          HonkerProvider,
          { client },
          h(Feed, { label: "a" }),
          h(Feed, { label: "b" }),
          h(Feed, { label: "d", limit: 5 }),
        ),
      ),
    );
    await screen.findByText("d status:live", {}, WAIT);
    assert.equal(session.subscriptionCount, 2);
    assert.equal(session.stats.calls - before, 2);

    view.unmount();
    await subscriptions(0);
  });

  it("changing a hook's key moves its subscription", async () => {
    const ui = (topic: string) =>
      h(
        React.StrictMode,
        null,
        h(HonkerProvider, { client }, h(Feed, { label: "x", topic, from: "beginning" })),
      );
    host.db.stream("feed").publish({ text: "first" });
    host.db.stream("other").publish({ text: "moved" });
    const view = render(ui("feed"));
    await screen.findByText("x:first", {}, WAIT);
    const before = session.stats.calls;
    view.rerender(ui("other"));
    await screen.findByText("x:moved", {}, WAIT);
    assert.deepEqual(items("x"), ["x:moved"]);
    await subscriptions(1);
    // One subscribe call for the new key; the old one closed over its own port.
    assert.equal(session.stats.calls - before, 1);
    view.unmount();
    await subscriptions(0);
  });

  it("snapshots are frozen and stable between changes", async () => {
    const seen: StreamState<Text>[] = [];
    const ui = () => h(HonkerProvider, { client }, h(Feed, { label: "s", seen }));
    const view = render(ui());
    await screen.findByText("s status:live", {}, WAIT);
    const live = seen[seen.length - 1];
    // Without these, an empty `seen` would pass every check below (isFrozen(undefined) is true).
    assert.ok(live, "the component recorded its snapshots");
    assert.ok(Array.isArray(live.events));
    view.rerender(ui());
    view.rerender(ui());
    assert.equal(seen[seen.length - 1], live);
    assert.ok(Object.isFrozen(live));
    assert.ok(Object.isFrozen(live?.events));
    host.db.stream("feed").publish({ text: "change" });
    await screen.findByText("s:change", {}, WAIT);
    const changed = seen[seen.length - 1];
    assert.notEqual(changed, live);
    view.rerender(ui());
    assert.equal(seen[seen.length - 1], changed);
  });

  it("useJob goes from pending to completed with the result a main worker saves", async () => {
    const jobs = host.db.queue("jobs");
    const id = jobs.enqueue({ n: 21 });
    const before = session.stats.calls;
    mount(h(JobView, { id, label: "j" }), h(JobView, { id: undefined, label: "idle" }));
    await screen.findByText("j status:live state:pending attempts:0 result:null", {}, WAIT);
    screen.getByText("idle status:idle state:null attempts:0 result:null");
    // The idle hook subscribed to nothing.
    assert.equal(session.subscriptionCount, 1);
    assert.equal(session.stats.calls - before, 1);
    jobs.work(async (job) => ({ doubled: (job.payload as { n: number }).n * 2 }));
    // A completed job is its saved result: main no longer knows its attempts.
    await screen.findByText(
      'j status:live state:completed attempts:1 result:{"doubled":42}',
      {},
      WAIT,
    );
  });

  it("useQueueStats follows the queue's counts", async () => {
    mount(h(Stats, { queue: "jobs" }), h(Stats, { queue: "quiet" }));
    await screen.findByText("jobs live pending:0 error:-", {}, WAIT);
    // 'quiet' is not granted stats: refused from the capabilities, no subscription.
    await screen.findByText("quiet error pending:- error:HONKER_FORBIDDEN", {}, WAIT);
    assert.equal(session.subscriptionCount, 1);
    host.db.queue("jobs").enqueueMany([{ n: 1 }, { n: 2 }, { n: 3 }]);
    await screen.findByText("jobs live pending:3 error:-", {}, WAIT);
  });

  it("useOutbox follows the status of the outbox main has open, pushed on change", async () => {
    // Main only adds to it (no transport): nobody relays, so online is unknown.
    const sync = host.db.outbox("sync");
    const view = mount(
      h(OutboxView, { name: "sync" }),
      h(OutboxView, { name: "sync" }),
      h(OutboxView, { name: "other" }),
    );
    await screen.findAllByText("sync live pending:0 online:- paused:false error:-", {}, WAIT);
    // 'other' is not granted: refused from the capabilities, no subscription.
    await screen.findByText(
      "other error pending:- online:- paused:- error:HONKER_FORBIDDEN",
      {},
      WAIT,
    );
    // Two components, one subscription in main.
    assert.equal(session.subscriptionCount, 1);
    sync.add({ n: 1 });
    await screen.findAllByText("sync live pending:1 online:- paused:false error:-", {}, WAIT);
    sync.pause(); // stored in the file: the commit reaches the page
    const both = await screen.findAllByText(
      "sync live pending:1 online:- paused:true error:-",
      {},
      WAIT,
    );
    assert.equal(both.length, 2);
    view.unmount();
    await subscriptions(0);
  });

  it("useListen shows notifications and the last one", async () => {
    mount(h(Pings), h(Pings));
    await screen.findAllByText("live count:0 last:-", {}, WAIT);
    assert.equal(session.subscriptionCount, 1);
    host.db.notify("pings", { text: "one" });
    await screen.findAllByText("live count:1 last:one", {}, WAIT);
    host.db.notify("pings", { text: "two" });
    host.db.notify("pings", { text: "three" });
    const both = await screen.findAllByText("live count:2 last:three", {}, WAIT);
    assert.equal(both.length, 2);
  });

  it("reports refusals from main with their code, and frees everything on unmount", async () => {
    const view = mount(h(Feed, { label: "f", topic: "secret" }), h(Feed, { label: "ok" }));
    await screen.findByText("f error:HONKER_FORBIDDEN", {}, WAIT);
    screen.getByText("f status:error");
    await screen.findByText("ok status:live", {}, WAIT);
    assert.equal(session.subscriptionCount, 1);
    view.unmount();
    await subscriptions(0);
  });
});
