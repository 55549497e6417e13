/**
 * A child abort signal for one batch or one request: aborted when its
 * parent is, when its own timeout passes, or by hand. Used instead of
 * `AbortSignal.any()`, which registers every child with its parent for
 * garbage collection: on the relay's long-lived stop signal that made each
 * collected child scan all the others (measured: the largest single cost
 * of relaying one message per request). `dispose()` unlinks the child
 * once the work is done.
 */
export interface LinkedAbort {
  readonly signal: AbortSignal;
  /** True once the timeout (not the parent, not abort()) aborted it. */
  readonly timedOut: boolean;
  abort(reason: unknown): void;
  /** Unlinks from the parent and clears the timer; the signal stays as it is. */
  dispose(): void;
}

/** A signal aborted with `parent`, after `timeoutMs` (if given), or by `abort()`. */
export function linkedAbort(parent: AbortSignal, timeoutMs?: number): LinkedAbort {
  const controller = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const onParent = () => controller.abort(parent.reason);
  const dispose = () => {
    parent.removeEventListener("abort", onParent);
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  };
  if (parent.aborted) {
    controller.abort(parent.reason);
  } else {
    parent.addEventListener("abort", onParent, { once: true });
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort(new DOMException("The operation timed out.", "TimeoutError"));
        dispose();
      }, timeoutMs);
      timer.unref(); // as AbortSignal.timeout(): the work itself keeps the process alive
    }
  }
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    abort(reason) {
      controller.abort(reason);
      dispose();
    },
    dispose,
  };
}
