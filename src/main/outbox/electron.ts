/**
 * `electronConnectivity({ net, powerMonitor })`: Electron's view of the
 * network for an outbox, with Electron injected (structural types, no
 * import of `electron`, so the host runs in plain Node too). The main
 * process has no "online" event: `net.isOnline()` is checked every
 * `pollMs` (an in-memory flag, no I/O) and at once when the machine wakes
 * from sleep or the screen is unlocked; listeners hear only changes.
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

export function electronConnectivity(options: ElectronConnectivityOptions): Connectivity {
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
  const check = () => {
    const now = isOnline();
    if (now === last) return;
    last = now;
    for (const l of [...listeners]) l(now);
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
