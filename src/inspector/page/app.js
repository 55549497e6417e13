// The inspector page: plain browser JavaScript, no framework, no network
// beyond its own server. Every value from the database is put into the DOM
// as text (textContent), never as HTML.

import { outboxSection, viewOutbox } from "./outbox.js";

const $ = (sel) => document.querySelector(sel);
const SVG = "http://www.w3.org/2000/svg";

/** h("div", { class: "x", onclick: fn }, child, "text") */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const state = { info: { readOnly: true, label: "" }, route: null, renderSeq: 0, tail: true };

// ---- formatting -------------------------------------------------------------

const nf = new Intl.NumberFormat();
const num = (n) => nf.format(n);

function ago(unix, now) {
  const s = Math.round((now ?? Date.now() / 1000) - unix);
  return s >= 0 ? `${dur(s)} ago` : `in ${dur(-s)}`;
}

function dur(s) {
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

function when(unix, now) {
  if (unix === null || unix === undefined) return h("span", { class: "muted" }, "—");
  return h("time", { title: new Date(unix * 1000).toLocaleString() }, ago(unix, now));
}

/** A stored JSON text, pretty-printed when it parses. */
function pretty(text) {
  if (text === null || text === undefined) return "";
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return String(text);
  }
}

function preview(text, max = 90) {
  const s = String(text ?? "");
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

// ---- server -----------------------------------------------------------------

async function get(path, params) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(params ?? {})) {
    if (v !== undefined && v !== null && v !== "") qs.set(k, String(v));
  }
  const res = await fetch(`${path}?${qs}`, { credentials: "same-origin" });
  const body = await res.json();
  if (!res.ok) throw Object.assign(new Error(body.error ?? res.statusText), { status: res.status });
  return body;
}

async function act(body) {
  if (state.info.readOnly) {
    toast("Read-only: this inspector opened the database read-only.", true);
    return null;
  }
  try {
    const res = await fetch("/api/action", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Honker-Inspector": "1" },
      body: JSON.stringify(body),
    });
    const out = await res.json();
    if (!res.ok) throw new Error(out.error ?? res.statusText);
    toast(out.message);
    refresh();
    return out;
  } catch (err) {
    toast(err.message, true);
    return null;
  }
}

let toastTimer = null;
function toast(message, error = false) {
  const el = $("#toast");
  el.textContent = message;
  el.className = error ? "toast error" : "toast";
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    el.hidden = true;
  }, 3500);
}

function button(label, onclick, opts = {}) {
  const ro = state.info.readOnly && !opts.safe;
  return h(
    "button",
    {
      class: opts.kind ? `btn ${opts.kind}` : "btn",
      disabled: ro,
      title: ro ? "Read-only: actions are disabled" : opts.title,
      "data-action": opts.id,
      onclick: ro ? undefined : onclick,
    },
    label,
  );
}

function confirmThen(question, fn) {
  return () => {
    if (window.confirm(question)) fn();
  };
}

// ---- routing ----------------------------------------------------------------

function parseRoute() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  const params = new URLSearchParams(query ?? "");
  return { name: parts[0] ?? "overview", arg: parts[1], params };
}

function link(href, ...children) {
  return h("a", { href }, ...children);
}
const queueHref = (q, st, extra = "") =>
  `#/queue/${encodeURIComponent(q)}${st ? `?state=${st}${extra}` : ""}`;
const jobHref = (id) => `#/job/${id}`;
const streamHref = (s) => `#/stream/${encodeURIComponent(s)}`;

/** The helpers the view modules (outbox.js) build with. */
const ui = {
  h,
  link,
  get,
  act,
  button,
  confirmThen,
  pauseToggle,
  table,
  section,
  stat,
  when,
  num,
  dur,
  preview,
  pretty,
};

const VIEWS = {
  overview: viewOverview,
  outbox: (route) => viewOutbox(ui, route),
  queue: viewQueue,
  job: viewJob,
  stream: viewStream,
  schedules: viewSchedules,
};

let loading = false;
let dirty = false;

/** Renders the current route; a change event during a render re-renders once after it. */
async function refresh() {
  if (loading) {
    dirty = true;
    return;
  }
  loading = true;
  const route = parseRoute();
  const seq = ++state.renderSeq;
  for (const a of document.querySelectorAll("[data-nav]")) {
    a.classList.toggle("active", a.dataset.nav === route.name);
  }
  try {
    const view = VIEWS[route.name] ?? viewOverview;
    const content = await view(route);
    if (seq === state.renderSeq && content) {
      const main = $("#view");
      // Keep focus and typed text in filter inputs across live updates.
      const active = document.activeElement;
      const focused = active?.id;
      const caret = [active?.selectionStart, active?.selectionEnd];
      const keep = {};
      for (const input of main.querySelectorAll("input[id], textarea[id]"))
        keep[input.id] = input.value;
      main.replaceChildren(content);
      for (const [id, value] of Object.entries(keep)) {
        const el = document.getElementById(id);
        if (el && el.dataset.keep !== undefined) el.value = value;
      }
      const again = focused ? document.getElementById(focused) : null;
      if (again) {
        again.focus();
        if (typeof caret[0] === "number" && again.setSelectionRange) {
          again.setSelectionRange(caret[0], caret[1]);
        }
      }
    }
  } catch (err) {
    $("#view").replaceChildren(
      h(
        "div",
        { class: "card error-card" },
        h("h2", {}, "Could not load"),
        h("p", {}, err.message),
      ),
    );
  } finally {
    loading = false;
    if (dirty) {
      dirty = false;
      refresh();
    }
  }
}

// ---- charts -----------------------------------------------------------------

function sparkBars(points) {
  const w = 150;
  const hgt = 36;
  const max = Math.max(1, ...points.map((p) => p.completed + p.dead));
  const bw = w / points.length;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${hgt}`);
  svg.setAttribute("width", String(w));
  svg.setAttribute("height", String(hgt));
  svg.setAttribute("class", "spark");
  svg.setAttribute("role", "img");
  const total = points.reduce((a, p) => a + p.completed, 0);
  svg.setAttribute("aria-label", `${total} completed in the last ${points.length} minutes`);
  points.forEach((p, i) => {
    const ch = (p.completed / max) * (hgt - 2);
    const dh = (p.dead / max) * (hgt - 2);
    const add = (y, height, cls) => {
      if (height <= 0) return;
      const r = document.createElementNS(SVG, "rect");
      r.setAttribute("x", String(i * bw + 1));
      r.setAttribute("y", String(y));
      r.setAttribute("width", String(Math.max(1, bw - 2)));
      r.setAttribute("height", String(Math.max(1, height)));
      r.setAttribute("class", cls);
      const t = document.createElementNS(SVG, "title");
      t.textContent = `${new Date(p.minute * 1000).toLocaleTimeString()}: ${p.completed} completed, ${p.dead} dead`;
      r.append(t);
      svg.append(r);
    };
    add(hgt - ch, ch, "bar-ok");
    add(hgt - ch - dh, dh, "bar-dead");
    if (p.completed + p.dead === 0) add(hgt - 1, 1, "bar-zero");
  });
  return svg;
}

// ---- views ------------------------------------------------------------------

function stat(label, value, cls, href) {
  const inner = [
    h("div", { class: "stat-value" }, num(value)),
    h("div", { class: "stat-label" }, label),
  ];
  return href
    ? h("a", { class: `stat ${cls ?? ""}`, href, "data-stat": label }, ...inner)
    : h("div", { class: `stat ${cls ?? ""}`, "data-stat": label }, ...inner);
}

function section(title, ...children) {
  return h("section", { class: "section" }, h("h2", {}, title), ...children);
}

function table(headers, rows, empty = "Nothing here yet.") {
  if (rows.length === 0) return h("p", { class: "empty" }, empty);
  return h(
    "table",
    {},
    h("thead", {}, h("tr", {}, ...headers.map((x) => h("th", {}, x)))),
    h("tbody", {}, ...rows),
  );
}

/** Pause (after a confirm) or Resume, for a queue or an outbox: `#pause-<id>` / `#resume-<id>`. */
function pauseToggle(o) {
  return o.paused
    ? button("Resume", o.resume, { id: `resume-${o.id}`, kind: "primary", title: o.resumeTitle })
    : button("Pause", confirmThen(o.confirm, o.pause), {
        id: `pause-${o.id}`,
        title: o.pauseTitle,
      });
}

function queueCard(q) {
  const total = q.throughput.reduce((a, p) => a + p.completed, 0);
  const died = q.throughput.reduce((a, p) => a + p.dead, 0);
  const last = q.throughput.at(-1)?.completed ?? 0;
  // Stored in the file: every worker of every process stops claiming.
  const pauseButton = pauseToggle({
    paused: q.paused,
    id: "queue",
    resume: () => act({ action: "resumeQueue", queue: q.name }),
    resumeTitle: "Workers in every process claim this queue's jobs again",
    pause: () => act({ action: "pauseQueue", queue: q.name }),
    pauseTitle: "Stop every worker from claiming this queue's jobs",
    confirm: `Pause ${q.name}? No worker (in any process) claims its jobs until it is resumed; running jobs finish.`,
  });
  return h(
    "article",
    {
      class: q.paused ? "card queue-card paused" : "card queue-card",
      "data-queue": q.name,
      "data-paused": q.paused ? "true" : "false",
    },
    h(
      "div",
      { class: "card-head" },
      link(queueHref(q.name), h("h3", {}, q.name)),
      q.paused
        ? h(
            "span",
            { class: "pill warn", "data-pill": "paused" },
            q.pausedAt ? `paused ${ago(q.pausedAt)}` : "paused",
          )
        : null,
      pauseButton,
      q.oldestPendingAgeS > 0
        ? h(
            "span",
            { class: q.oldestPendingAgeS > 60 ? "pill warn" : "pill" },
            `oldest waits ${dur(q.oldestPendingAgeS)}`,
          )
        : h("span", { class: "pill ok" }, "no backlog"),
    ),
    h(
      "div",
      { class: "stats" },
      stat("pending", q.pending, "s-pending", queueHref(q.name, "pending")),
      stat("delayed", q.delayed, "s-delayed", queueHref(q.name, "delayed")),
      stat("processing", q.processing, "s-processing", queueHref(q.name, "processing")),
      stat("dead", q.dead, q.dead > 0 ? "s-dead hot" : "s-dead", queueHref(q.name, "dead")),
    ),
    h(
      "div",
      { class: "card-foot" },
      sparkBars(q.throughput),
      h(
        "div",
        { class: "tp" },
        h("strong", {}, num(last)),
        h("span", { class: "muted" }, " done this minute"),
        h("br"),
        h(
          "span",
          { class: "muted" },
          `${num(total)} done${died ? `, ${num(died)} died` : ""} in ${q.throughput.length} min`,
        ),
      ),
    ),
  );
}

async function viewOverview() {
  const o = await get("/api/overview");
  const now = o.now;
  const queues = o.queues.length
    ? h("div", { class: "grid" }, ...o.queues.map((q) => queueCard(q)))
    : h("p", { class: "empty" }, "No queues in this file yet.");
  const streams = table(
    ["Stream", "Head offset", "Consumers (offset · lag)"],
    o.streams.map((s) =>
      h(
        "tr",
        { "data-stream": s.name },
        h("td", {}, link(streamHref(s.name), s.name)),
        h("td", { class: "num" }, num(s.head)),
        h(
          "td",
          {},
          s.consumers.length
            ? s.consumers.map((c) =>
                h(
                  "span",
                  { class: c.lag > 0 ? "chip lagging" : "chip" },
                  `${c.name} · ${num(c.offset)} · lag ${c.lagCapped ? `${num(c.lag)}+` : num(c.lag)}`,
                ),
              )
            : h("span", { class: "muted" }, "no consumers"),
        ),
      ),
    ),
    "No streams yet.",
  );
  const channels = table(
    ["Channel", "Last notification"],
    o.channels.map((c) =>
      h("tr", {}, h("td", {}, c.name), h("td", {}, `#${c.lastId} `, when(c.lastAt, now))),
    ),
    "No notifications.",
  );
  const notes = table(
    ["#", "Channel", "Payload", "At"],
    o.notifications.map((n) =>
      h(
        "tr",
        {},
        h("td", { class: "num" }, n.id),
        h("td", {}, n.channel),
        h("td", {}, h("code", {}, preview(n.payload, 60))),
        h("td", {}, when(n.createdAt, now)),
      ),
    ),
    "No notifications.",
  );
  const locks = table(
    ["Lock", "Holder", "Expires"],
    o.locks.map((l) =>
      h(
        "tr",
        {},
        h("td", {}, l.name),
        h("td", {}, h("code", {}, l.owner)),
        h("td", {}, when(l.expiresAt, now)),
      ),
    ),
    "No locks held.",
  );
  const limits = table(
    ["Rate limit", "Window start", "Count"],
    o.rateLimits.map((r) =>
      h(
        "tr",
        {},
        h("td", {}, r.name),
        h("td", {}, when(r.windowStart, now)),
        h("td", { class: "num" }, num(r.count)),
      ),
    ),
    "No rate-limit windows in the last hour.",
  );
  return h(
    "div",
    { class: "overview" },
    section("Queues", queues),
    section("Outboxes", outboxSection(ui, o.outboxes, now)),
    h(
      "div",
      { class: "two" },
      section("Streams", h("div", { class: "card" }, streams)),
      section("Schedules", h("div", { class: "card" }, scheduleTable(o.schedules, now, true))),
    ),
    h(
      "div",
      { class: "two" },
      section(
        "Channels",
        h("div", { class: "card" }, channels, h("h4", {}, "Recent notifications"), notes),
      ),
      h(
        "div",
        {},
        section("Locks", h("div", { class: "card" }, locks)),
        section("Rate limits", h("div", { class: "card" }, limits)),
      ),
    ),
  );
}

function scheduleTable(schedules, now, compact) {
  return table(
    compact
      ? ["Schedule", "Queue", "Cron", "Next fire", ""]
      : ["Schedule", "Queue", "Cron", "Payload", "Next fire", ""],
    schedules.map((s) =>
      h(
        "tr",
        { "data-schedule": s.name, class: s.enabled ? "" : "paused" },
        h("td", {}, s.name, s.enabled ? null : h("span", { class: "pill warn" }, "paused")),
        h("td", {}, link(queueHref(s.queue), s.queue)),
        h("td", {}, h("code", {}, s.cron)),
        compact ? null : h("td", {}, h("code", {}, preview(s.payload, 60))),
        h("td", {}, s.enabled ? when(s.nextFireAt, now) : h("span", { class: "muted" }, "—")),
        h(
          "td",
          { class: "actions" },
          s.enabled
            ? button("Pause", () => act({ action: "pauseSchedule", name: s.name }), { id: "pause" })
            : button("Resume", () => act({ action: "resumeSchedule", name: s.name }), {
                id: "resume",
              }),
          button("Run now", () => act({ action: "runSchedule", name: s.name }), { id: "run" }),
        ),
      ),
    ),
    "No schedules.",
  );
}

async function viewSchedules() {
  const o = await get("/api/overview");
  return h(
    "div",
    {},
    section("Schedules", h("div", { class: "card" }, scheduleTable(o.schedules, o.now, false))),
  );
}

const STATES = ["pending", "delayed", "processing", "dead", "completed", "cancelled"];

async function viewQueue(route) {
  const name = route.arg;
  const st = route.params.get("state") ?? "pending";
  const page = Number(route.params.get("page") ?? 0);
  const filter = route.params.get("q") ?? "";
  const idFilter = /^#?\d+$/.test(filter.trim());
  const {
    overview: q,
    finished,
    list,
  } = await get("/api/queue", {
    name,
    state: st,
    page,
    q: idFilter ? "" : filter,
  });
  const counts = {
    pending: q.pending,
    delayed: q.delayed,
    processing: q.processing,
    dead: q.dead,
    completed: finished.completed,
    cancelled: finished.cancelled,
  };
  const tabs = h(
    "div",
    { class: "tabs" },
    ...STATES.map((s) =>
      h(
        "a",
        { class: s === st ? "tab active" : "tab", href: queueHref(name, s), "data-tab": s },
        s,
        counts[s] !== undefined ? h("span", { class: "count" }, num(counts[s])) : null,
      ),
    ),
  );
  const applyFilter = (ev) => {
    ev.preventDefault();
    const v = $("#filter").value.trim();
    if (/^#?\d+$/.test(v)) {
      location.hash = jobHref(v.replace("#", ""));
      return;
    }
    location.hash = queueHref(name, st, v ? `&q=${encodeURIComponent(v)}` : "");
  };
  const form = h(
    "form",
    { class: "filter", onsubmit: applyFilter },
    h("input", {
      id: "filter",
      "data-keep": "",
      type: "search",
      placeholder: "Job id, or text in the payload",
      value: filter,
      "aria-label": "Filter",
    }),
    h("button", { class: "btn", type: "submit" }, "Filter"),
    filter ? link(queueHref(name, st), "clear") : null,
  );
  const bulk =
    st === "dead"
      ? h(
          "div",
          { class: "bulk" },
          button(
            "Redrive all",
            confirmThen(`Move every dead job of ${name} back to pending?`, () =>
              act({ action: "redrive", queue: name }),
            ),
            { id: "redrive-all", kind: "primary" },
          ),
          button(
            "Purge dead",
            confirmThen(`Delete every dead job of ${name}? This cannot be undone.`, () =>
              act({ action: "purgeDead", queue: name }),
            ),
            { id: "purge", kind: "danger" },
          ),
        )
      : null;
  const rows = list.jobs.map((j) =>
    h(
      "tr",
      { "data-job": j.id },
      h("td", { class: "num" }, link(jobHref(j.id), `#${j.id}`)),
      h("td", {}, h("code", { class: "payload" }, preview(j.payload))),
      h("td", { class: "num" }, `${j.attempts}/${j.maxAttempts}`),
      h("td", {}, when(j.createdAt)),
      h(
        "td",
        {},
        st === "processing"
          ? when(j.at)
          : st === "pending" || st === "delayed"
            ? when(j.runAt)
            : when(j.at),
      ),
      st === "dead" || st === "cancelled" || st === "completed"
        ? h("td", { class: "err" }, preview(j.error ?? "", 70))
        : h("td", { class: "muted" }, j.workerId ?? ""),
      h(
        "td",
        { class: "actions" },
        st === "dead"
          ? button("Redrive", () => act({ action: "redrive", queue: name, ids: [j.id] }), {
              id: "redrive",
            })
          : null,
        st === "pending" || st === "delayed" || st === "processing"
          ? button("Cancel", () => act({ action: "cancel", queue: name, id: j.id }), {
              id: "cancel",
            })
          : null,
      ),
    ),
  );
  const extra = filter && !idFilter ? `&q=${encodeURIComponent(filter)}` : "";
  const first = page * list.pageSize + 1;
  const last = page * list.pageSize + list.jobs.length;
  const summary =
    list.total === null
      ? list.jobs.length
        ? `matches ${num(first)}–${num(last)}${list.more ? " (more on the next page)" : ""}`
        : "no matches"
      : `${num(list.total)}${list.totalCapped ? "+" : ""} job${list.total === 1 ? "" : "s"} · page ${page + 1} of ${num(Math.max(1, Math.ceil(list.total / list.pageSize)))}${list.totalCapped ? "+" : ""}`;
  const pager = h(
    "div",
    { class: "pager" },
    page > 0 ? link(queueHref(name, st, `&page=${page - 1}${extra}`), "← Previous") : h("span", {}),
    h("span", { class: "muted" }, summary),
    list.more ? link(queueHref(name, st, `&page=${page + 1}${extra}`), "Next →") : h("span", {}),
  );
  const enqueue = h(
    "form",
    {
      class: "enqueue",
      onsubmit: async (ev) => {
        ev.preventDefault();
        let payload;
        try {
          payload = JSON.parse($("#payload").value);
        } catch (err) {
          toast(`The payload is not JSON: ${err.message}`, true);
          return;
        }
        const out = await act({ action: "enqueue", queue: name, payload });
        if (out) $("#payload").value = "";
      },
    },
    h("label", { for: "payload" }, "Enqueue a job (JSON payload)"),
    h("textarea", {
      id: "payload",
      "data-keep": "",
      rows: 3,
      placeholder: '{"hello": "world"}',
      disabled: state.info.readOnly,
    }),
    button("Enqueue", undefined, { id: "enqueue", kind: "primary" }),
  );
  enqueue.querySelector("button").type = "submit";
  return h(
    "div",
    {},
    h("div", { class: "crumbs" }, link("#/", "Overview"), " / ", h("strong", {}, name)),
    h("div", { class: "queue-head" }, queueCard(q), enqueue),
    tabs,
    h("div", { class: "toolbar" }, form, bulk),
    h(
      "div",
      { class: "card" },
      table(
        [
          "Id",
          "Payload",
          "Attempts",
          "Created",
          st === "processing"
            ? "Claim ends"
            : st === "pending" || st === "delayed"
              ? "Runs"
              : st === "dead"
                ? "Died"
                : "Finished",
          st === "dead" || st === "completed" || st === "cancelled" ? "Error" : "Worker",
          "",
        ],
        rows,
        filter ? "No job matches the filter." : `No ${st} jobs.`,
      ),
      pager,
    ),
  );
}

function kv(rows) {
  return h(
    "dl",
    { class: "kv" },
    ...rows.flatMap(([k, v]) => [
      h("dt", {}, k),
      h("dd", {}, v ?? h("span", { class: "muted" }, "—")),
    ]),
  );
}

async function viewJob(route) {
  const id = Number(route.arg);
  const j = await get("/api/job", { id });
  const live = j.state === "pending" || j.state === "processing";
  const block = (title, text, cls) =>
    text === null || text === undefined
      ? null
      : h(
          "div",
          { class: "card" },
          h("h3", {}, title),
          h("pre", { class: cls ?? "" }, pretty(text)),
        );
  return h(
    "div",
    {},
    h(
      "div",
      { class: "crumbs" },
      link("#/", "Overview"),
      " / ",
      j.queue
        ? link(
            queueHref(
              j.queue,
              j.state === "processing" ||
                j.state === "dead" ||
                j.state === "completed" ||
                j.state === "cancelled"
                ? j.state
                : "pending",
            ),
            j.queue,
          )
        : "?",
      " / ",
      h("strong", {}, `job #${id}`),
    ),
    h(
      "div",
      { class: "job-head" },
      h(
        "h1",
        {},
        `Job #${id} `,
        h("span", { class: `state st-${j.state}`, id: "job-state" }, j.state),
      ),
      h(
        "div",
        { class: "actions" },
        j.state === "dead" && j.queue
          ? button("Redrive", () => act({ action: "redrive", queue: j.queue, ids: [id] }), {
              id: "redrive",
              kind: "primary",
            })
          : null,
        live && j.queue
          ? button(
              "Cancel",
              confirmThen(`Cancel job #${id}?`, () =>
                act({ action: "cancel", queue: j.queue, id }),
              ),
              { id: "cancel", kind: "danger" },
            )
          : null,
      ),
    ),
    h(
      "div",
      { class: "two" },
      h(
        "div",
        { class: "card" },
        kv([
          ["Queue", j.queue],
          ["State", j.state],
          ["Attempts", j.attempts === null ? null : `${j.attempts} of ${j.max_attempts ?? "?"}`],
          ["Priority", j.priority],
          ["Created", j.created_at ? when(j.created_at) : null],
          ["Runs at", j.run_at ? when(j.run_at) : null],
          ["Worker", j.worker_id],
          ["Claim expires", j.claim_expires_at ? when(j.claim_expires_at) : null],
          ["Finished", j.finished_at ? when(j.finished_at) : null],
        ]),
      ),
      h(
        "div",
        {},
        j.error
          ? h("div", { class: "card error-card" }, h("h3", {}, "Error"), h("pre", {}, j.error))
          : null,
        block("Progress", j.progress),
        block("Result", j.result),
      ),
    ),
    block("Payload", j.payload ?? "null", "payload-full"),
  );
}

async function viewStream(route) {
  const name = route.arg;
  const fromText = route.params.get("from");
  const from = fromText === null ? null : Number(fromText);
  const { stream: s, events } = await get("/api/stream", { name, from, limit: 100 });
  const goto = (ev) => {
    ev.preventDefault();
    const v = $("#from").value.trim();
    location.hash = `${streamHref(name)}${v === "" ? "" : `?from=${encodeURIComponent(v)}`}`;
  };
  return h(
    "div",
    {},
    h("div", { class: "crumbs" }, link("#/", "Overview"), " / stream ", h("strong", {}, name)),
    h(
      "div",
      { class: "two" },
      h(
        "div",
        { class: "card" },
        h("h3", {}, "Head offset"),
        h("div", { class: "big", id: "head" }, num(s.head)),
      ),
      h(
        "div",
        { class: "card" },
        h("h3", {}, "Consumers"),
        table(
          ["Consumer", "Offset", "Lag"],
          s.consumers.map((c) =>
            h(
              "tr",
              {},
              h("td", {}, c.name),
              h("td", { class: "num" }, num(c.offset)),
              h("td", { class: "num" }, c.lagCapped ? `${num(c.lag)}+` : num(c.lag)),
            ),
          ),
          "No consumers.",
        ),
      ),
    ),
    h(
      "form",
      { class: "filter", onsubmit: goto },
      h("input", {
        id: "from",
        "data-keep": "",
        type: "search",
        inputmode: "numeric",
        placeholder: "Read after offset (empty: newest)",
        value: fromText ?? "",
      }),
      h("button", { class: "btn", type: "submit" }, "Read"),
      from === null
        ? h("span", { class: "pill ok" }, "live tail")
        : link(streamHref(name), "back to live tail"),
    ),
    h(
      "div",
      { class: "card" },
      table(
        ["Offset", "Key", "Payload", "At"],
        (from === null ? [...events].reverse() : events).map((e) =>
          h(
            "tr",
            { "data-offset": e.offset },
            h("td", { class: "num" }, num(e.offset)),
            h("td", {}, e.key ?? h("span", { class: "muted" }, "—")),
            h("td", {}, h("code", { class: "payload" }, preview(e.payload, 120))),
            h("td", {}, when(e.createdAt)),
          ),
        ),
        "No events.",
      ),
      from !== null && events.length
        ? h(
            "div",
            { class: "pager" },
            h("span", {}),
            link(`${streamHref(name)}?from=${events.at(-1).offset}`, "Next →"),
          )
        : null,
    ),
  );
}

// ---- start --------------------------------------------------------------------

function connectLive() {
  const live = $("#live");
  const es = new EventSource("/api/events");
  es.addEventListener("open", () => {
    live.textContent = "live";
    live.className = "live on";
    live.title = "Updates are pushed when the database commits";
  });
  es.addEventListener("change", () => refresh());
  es.addEventListener("error", () => {
    live.textContent = "reconnecting";
    live.className = "live off";
  });
}

async function main() {
  try {
    state.info = await get("/api/info");
  } catch (err) {
    $("#view").replaceChildren(
      h("div", { class: "card error-card" }, h("h2", {}, "Not signed in"), h("p", {}, err.message)),
    );
    return;
  }
  $("#file").textContent = state.info.label;
  document.title = `${state.info.label} · honker inspector`;
  if (state.info.readOnly) {
    $("#mode").hidden = false;
    const banner = $("#banner");
    banner.hidden = false;
    banner.textContent =
      "Read-only: this inspector opened the database read-only, so actions (redrive, purge, cancel, enqueue, pausing queues and outboxes, schedules, outbox flush) are disabled.";
  }
  window.addEventListener("hashchange", () => {
    state.renderSeq++;
    refresh();
  });
  connectLive();
  refresh();
}

main();
