// The page: plain ES modules, no bundler. "comlink" resolves through the
// import map in index.html. In your own app: import { connect } from
// "honker-electron/renderer" and let your bundler resolve it.
import { connect } from "/dist/renderer-api/index.js";

const status = document.getElementById("status");
const input = document.getElementById("n");
const button = document.getElementById("enqueue");
const jobs = document.getElementById("jobs");
const activity = document.getElementById("activity");

function item(list, text) {
  const li = document.createElement("li");
  li.textContent = text;
  list.prepend(li);
  return li;
}

async function main() {
  // Asks the preload for a port; main checks this frame and hands one over.
  const honker = await connect();
  status.textContent = "connected";
  status.dataset.state = "connected";
  button.disabled = false;

  button.addEventListener("click", async () => {
    const n = Number(input.value);
    const row = item(jobs, `n = ${n}: enqueuing…`);
    try {
      const id = await honker.queue("jobs").enqueue({ n });
      row.dataset.id = String(id);
      row.textContent = `job #${id} (n = ${n}): waiting…`;
      const result = await honker.queue("jobs").job(id).waitResult(30_000);
      row.textContent = `job #${id} (n = ${n}): done, result ${result}`;
      row.dataset.state = "done";
    } catch (err) {
      row.textContent = `n = ${n}: failed: ${err.code ?? ""} ${err.message}`;
      row.dataset.state = "failed";
    }
  });

  // Live events, pushed through their own port with credit-based flow control.
  for await (const e of honker.stream("activity").subscribe()) {
    const p = e.payload;
    const li = item(activity, `#${e.offset} job ${p.job}: ${p.n} × 2 = ${p.doubled}`);
    li.dataset.job = String(p.job);
  }
}

main().catch((err) => {
  status.textContent = `error: ${err.code ?? ""} ${err.message}`;
  status.dataset.state = "error";
});
