/**
 * `electronConnectivity({ net, powerMonitor })`: Electron's view of the
 * network for an outbox, with Electron injected (structural types, no
 * import of `electron`, so the host runs in plain Node too). The main
 * process has no "online" event: `net.isOnline()` is checked every
 * `pollMs` (an in-memory flag, no I/O) and at once when the machine wakes
 * from sleep or the screen is unlocked; listeners hear only changes.
 *
 * Renderer windows know sooner: Chromium fires `online`/`offline` there.
 * Served with `db.serve(win, { connectivity: true, ... }, { connectivity })`,
 * a page's `navigator.onLine` reaches `hint()`, which re-reads
 * `net.isOnline()` at once. A page only hints: `net` decides.
 */
import * as args from "../args.ts";
import type { Connectivity } from "./outbox.ts";

/** What we use of Electron's `net` module. */
export interface ElectronNetLike {
  isOnline(): boolean;
}

/** What we use of Electron's `powerMonitor` (an EventEmitter). */
export interface ElectronPowerMonitorLike {
  on(event: "resume" | "unlock-screen", listener: () => void): unknown;
  removeListener(event: "resume" | "unlock-screen", listener: () => void): unknown;
}

export interface ElectronConnectivityOptions {
  net: ElectronNetLike;
  powerMonitor?: ElectronPowerMonitorLike;
  /** How often `net.isOnline()` is read while someone listens (default 2000 ms). */
  pollMs?: number;
}

/** Least time between two "online again" nudges caused by hints. */
const NUDGE_MIN_MS = 1000;

/** `electronConnectivity()`'s result: a Connectivity that also takes hints from pages. */
export interface ElectronConnectivity extends Connectivity {
  /**
   * A renderer said it is online (or offline): `net.isOnline()` is read at
   * once and listeners hear a change. A hint `true` that `net` confirms
   * while nothing changed still tells listeners `true` (at most once a
   * second), so an outbox that went offline after a network error tries
   * again now. What `net` does not confirm is ignored.
   */
  hint(online: boolean): void;
}

export function electronConnectivity(options: ElectronConnectivityOptions): ElectronConnectivity {
  const fn = "electronConnectivity(options)";
  const o = args.options<ElectronConnectivityOptions>(fn, options);
  const net = o.net as Partial<ElectronNetLike> | undefined;
  if (!net || typeof net.isOnline !== "function") {
    throw args.refuse(fn, "options.net", "Electron's net module (with isOnline())", o.net);
  }
  const pm = o.powerMonitor as Partial<ElectronPowerMonitorLike> | undefined;
  if (
    pm !== undefined &&
    (typeof pm?.on !== "function" || typeof pm.removeListener !== "function")
  ) {
    throw args.refuse(fn, "options.powerMonitor", "Electron's powerMonitor", o.powerMonitor);
  }
  const pollMs = args.optInt(fn, "options.pollMs", o.pollMs, 10, args.MAX_TIMER_MS, 2000);
  const isOnline = () => (net as ElectronNetLike).isOnline() === true;
  const listeners = new Set<(online: boolean) => void>();
  let last = isOnline();
  let timer: NodeJS.Timeout | null = null;
  let nudgedAt = 0;
  const tell = (online: boolean) => {
    for (const l of [...listeners]) l(online);
  };
  const check = () => {
    const now = isOnline();
    if (now === last) return;
    last = now;
    tell(now);
  };
  const start = () => {
    last = isOnline();
    timer = setInterval(check, pollMs);
    timer.unref();
    pm?.on?.("resume", check);
    pm?.on?.("unlock-screen", check);
  };
  const stop = () => {
    if (timer) clearInterval(timer);
    timer = null;
    pm?.removeListener?.("resume", check);
    pm?.removeListener?.("unlock-screen", check);
  };
  return {
    get online() {
      return isOnline();
    },
    hint(online) {
      if (typeof online !== "boolean") {
        throw args.refuse(`${fn}.hint`, "online", "true or false", online);
      }
      if (listeners.size === 0) return;
      const before = last;
      check();
      if (online && last && before && Date.now() - nudgedAt >= NUDGE_MIN_MS) {
        nudgedAt = Date.now();
        tell(true);
      }
    },
    subscribe(listener) {
      args.func(`${fn}.subscribe`, "listener", listener);
      if (listeners.size === 0) start();
      listeners.add(listener);
      return () => {
        if (listeners.delete(listener) && listeners.size === 0) stop();
      };
    },
  };
}
