/**
 * One clock for "how long has this turn of the event loop been busy", shared
 * by everything that hands out a backlog (stream subscriptions, listeners,
 * the bridge's subscription ports), so together they give the loop back to
 * timers and I/O after about TURN_BUDGET_MS.
 */

/**
 * The budget of one turn. Shorter budgets made a publisher in the same
 * process outrun its subscribers under load (bench/bridge.bench.ts fan-out:
 * p99 doubled at 10 ms); 20 ms still splits a 5,000-event replay into
 * several turns.
 */
export const TURN_BUDGET_MS = 20;

let turnStartedAt = 0;
let turnMarked = false;

/**
 * Milliseconds since the first call in the current turn of the event loop
 * (a setImmediate marks the turn's end).
 */
export function turnAgeMs(): number {
  const t = performance.now();
  if (!turnMarked) {
    turnMarked = true;
    turnStartedAt = t;
    setImmediate(() => {
      turnMarked = false;
    });
  }
  return t - turnStartedAt;
}
