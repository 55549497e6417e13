// The inspector page's outboxes: a card per outbox on the overview and an
// outbox page (waiting, in-flight and dead messages; flush, redrive,
// purge). The page's helpers come in as `ui` (app.js owns them), so this
// module has no state of its own. Values from the database go into the DOM
// as text only.

const outboxHref = (name, st, extra = "") =>
  `#/outbox/${encodeURIComponent(name)}${st ? `?state=${st}${extra}` : ""}`;

/** The one-line health of an outbox, as a pill. */
function health(ui, o, now) {
  const { h, dur } = ui;
  if (o.paused) {
    return h(
      "span",
      { class: "pill warn", "data-pill": "paused" },
      o.pausedAt ? `paused ${dur(Math.max(0, now - o.pausedAt))} ago` : "paused",
    );
  }
  if (o.dead > 0) return h("span", { class: "pill warn" }, `${o.dead} dead`);
  if (o.pending === 0 && o.inFlight === 0) return h("span", { class: "pill ok" }, "all delivered");
  if (o.backoff > 0 && o.backoff === o.pending && o.nextAttemptAt !== null) {
    return h(
      "span",
      { class: "pill warn" },
      `retrying in ${dur(Math.max(0, o.nextAttemptAt - now))}`,
    );
  }
  return h("span", { class: "pill" }, "sending");
}

function outboxCard(ui, o, now) {
  const { h, link, stat, num, when, preview } = ui;
  return h(
    "article",
    {
      class: o.paused ? "card queue-card outbox-card paused" : "card queue-card outbox-card",
      "data-outbox": o.name,
      "data-paused": o.paused ? "true" : "false",
    },
    h(
      "div",
      { class: "card-head" },
      link(outboxHref(o.name), h("h3", {}, o.name)),
      health(ui, o, now),
      pauseButton(ui, o),
    ),
    h(
      "div",
      { class: "stats" },
      stat("waiting", o.pending, "s-pending", outboxHref(o.name, "waiting")),
      stat("in flight", o.inFlight, "s-processing", outboxHref(o.name, "inflight")),
      stat("dead", o.dead, o.dead > 0 ? "s-dead hot" : "s-dead", outboxHref(o.name, "dead")),
      stat("delivered", o.delivered, "s-delivered"),
    ),
    h(
      "div",
      { class: "card-foot outbox-foot" },
      h(
        "div",
        { class: "kv-line" },
        h("span", { class: "muted" }, "next attempt "),
        o.nextAttemptAt === null
          ? h("span", { class: "muted", "data-next": "" }, "—")
          : o.nextAttemptAt <= now
            ? h("strong", { "data-next": "" }, "now")
            : h("span", { "data-next": "" }, when(o.nextAttemptAt, now)),
        h("span", { class: "muted" }, " · last delivery "),
        when(o.lastDeliveredAt, now),
        o.backoff > 0 ? h("span", { class: "muted" }, ` · ${num(o.backoff)} in backoff`) : null,
      ),
      o.lastError
        ? h(
            "div",
            { class: "last-error", "data-last-error": "" },
            h("span", { class: "muted" }, o.lastError.dead ? "died of " : "last error "),
            h("code", { class: "err" }, preview(o.lastError.error, 80)),
            h("span", { class: "muted" }, ` (message #${o.lastError.messageId})`),
          )
        : h("div", { class: "last-error muted" }, "no errors recorded"),
    ),
  );
}

/** Pause / Resume: stored in the file, so every relay of every process obeys. */
function pauseButton(ui, o) {
  return ui.pauseToggle({
    paused: o.paused,
    id: "outbox",
    resume: () => ui.act({ action: "resumeOutbox", outbox: o.name }),
    resumeTitle: "Relays in every process send this outbox's messages again",
    pause: () => ui.act({ action: "pauseOutbox", outbox: o.name }),
    pauseTitle: "Stop every relay from sending this outbox's messages",
    confirm: `Pause ${o.name}? No relay (in any process) sends its messages until it is resumed; batches in flight finish.`,
  });
}

/** The overview's Outboxes section body. */
export function outboxSection(ui, outboxes, now) {
  const { h } = ui;
  if (!outboxes || outboxes.length === 0) {
    return h(
      "p",
      { class: "empty" },
      "No outboxes in this file yet. Messages added with db.outbox(name).add() show here.",
    );
  }
  return h("div", { class: "grid" }, ...outboxes.map((o) => outboxCard(ui, o, now)));
}

const STATES = [
  ["waiting", "waiting"],
  ["inflight", "in flight"],
  ["dead", "dead"],
];

/** #/outbox/NAME?state=waiting|inflight|dead&page=N */
export async function viewOutbox(ui, route) {
  const { h, link, get, act, button, confirmThen, table, when, num, preview } = ui;
  const name = route.arg;
  const st = route.params.get("state") ?? "waiting";
  const page = Number(route.params.get("page") ?? 0);
  const { now, overview: o, list } = await get("/api/outbox", { name, state: st, page });
  const counts = o ? { waiting: o.pending, inflight: o.inFlight, dead: o.dead } : {};
  const tabs = h(
    "div",
    { class: "tabs" },
    ...STATES.map(([s, label]) =>
      h(
        "a",
        { class: s === st ? "tab active" : "tab", href: outboxHref(name, s), "data-tab": s },
        label,
        counts[s] !== undefined ? h("span", { class: "count" }, num(counts[s])) : null,
      ),
    ),
  );
  const tools = h(
    "div",
    { class: "bulk" },
    o ? pauseButton(ui, o) : null,
    button("Flush (try now)", () => act({ action: "flushOutbox", outbox: name }), {
      id: "flush",
      kind: "primary",
      title: "Every waiting message in backoff becomes due now; the relay sends them at once",
    }),
    st === "dead"
      ? button(
          "Redrive all",
          confirmThen(`Move every dead message of ${name} back to waiting?`, () =>
            act({ action: "redriveOutbox", outbox: name }),
          ),
          { id: "redrive-all" },
        )
      : null,
    st === "dead"
      ? button(
          "Purge dead",
          confirmThen(`Delete every dead message of ${name}? They will never be sent.`, () =>
            act({ action: "purgeOutboxDead", outbox: name }),
          ),
          { id: "purge", kind: "danger" },
        )
      : null,
  );
  const rows = list.messages.map((m) =>
    h(
      "tr",
      { "data-message": m.id },
      h("td", { class: "num" }, `#${m.id}`),
      h("td", {}, m.key === null ? h("span", { class: "muted" }, "—") : h("code", {}, m.key)),
      h("td", {}, h("code", { class: "payload" }, preview(m.payload))),
      h("td", { class: "num" }, `${m.attempts}/${m.maxAttempts}`),
      h("td", {}, when(m.createdAt, now)),
      h(
        "td",
        {},
        st === "waiting" && m.at !== null && m.at <= now ? h("strong", {}, "now") : when(m.at, now),
      ),
      st === "inflight"
        ? h("td", { class: "muted" }, m.claimedBy ?? "")
        : h("td", { class: "err" }, preview(m.error ?? "", 70)),
      h(
        "td",
        { class: "actions" },
        st === "dead"
          ? button("Redrive", () => act({ action: "redriveOutbox", outbox: name, ids: [m.id] }), {
              id: "redrive",
            })
          : null,
      ),
    ),
  );
  const summary = `${num(list.total)}${list.totalCapped ? "+" : ""} message${list.total === 1 ? "" : "s"} · page ${page + 1} of ${num(Math.max(1, Math.ceil(list.total / list.pageSize)))}${list.totalCapped ? "+" : ""}`;
  const pager = h(
    "div",
    { class: "pager" },
    page > 0 ? link(outboxHref(name, st, `&page=${page - 1}`), "← Previous") : h("span", {}),
    h("span", { class: "muted" }, summary),
    list.more ? link(outboxHref(name, st, `&page=${page + 1}`), "Next →") : h("span", {}),
  );
  const empty = {
    waiting: "Nothing waiting: every message was handed over.",
    inflight: "No message is being sent right now.",
    dead: "No dead messages.",
  };
  return h(
    "div",
    {},
    h("div", { class: "crumbs" }, link("#/", "Overview"), " / outbox ", h("strong", {}, name)),
    o
      ? h("div", { class: "outbox-head" }, outboxCard(ui, o, now))
      : h("p", { class: "empty" }, "This file has no outbox tables."),
    tabs,
    h("div", { class: "toolbar" }, h("span", {}), tools),
    h(
      "div",
      { class: "card" },
      table(
        [
          "Id",
          "Key",
          "Payload",
          "Attempts",
          "Added",
          st === "waiting" ? "Due" : st === "inflight" ? "Claim ends" : "Died",
          st === "inflight" ? "Relay" : "Error",
          "",
        ],
        rows,
        empty[st] ?? "Nothing here.",
      ),
      pager,
    ),
  );
}
