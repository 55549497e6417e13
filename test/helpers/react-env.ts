/**
 * A happy-dom window as the global DOM, for rendering React in Node tests.
 * Import it before React, react-dom or @testing-library/react.
 *
 * Only names Node does not already define are copied from the window, so
 * Node's own MessageChannel, EventTarget, timers and fetch stay in place
 * (the bridge runs over node:worker_threads ports).
 */
import { Window } from "happy-dom";

const window = new Window({ url: "http://localhost/" });
const g = globalThis as Record<string, unknown>;

const w = window as unknown as Record<string, unknown>;
const names = new Set<string>();
for (let o: object | null = window; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
  for (const name of Object.getOwnPropertyNames(o)) names.add(name);
}
for (const name of names) {
  if (name in globalThis || name.startsWith("_") || name === "constructor") continue;
  let value: unknown;
  try {
    value = w[name];
  } catch {
    continue;
  }
  // Methods (getComputedStyle, scrollTo...) need the window as `this`; classes do not.
  if (typeof value === "function" && /^[a-z]/.test(name)) value = value.bind(window);
  Object.defineProperty(globalThis, name, { value, configurable: true, writable: true });
}
// Node 21+ has its own navigator; the DOM one wins for React and testing-library.
for (const name of ["window", "document", "navigator"] as const) {
  Object.defineProperty(globalThis, name, {
    value: name === "window" ? window : window[name],
    configurable: true,
    writable: true,
  });
}
g.IS_REACT_ACT_ENVIRONMENT = true;

/** Closes the happy-dom window (its timers and pending work). */
export async function closeDom(): Promise<void> {
  await window.happyDOM.close();
}

export { window as domWindow };
