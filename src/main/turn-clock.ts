/**
 * One clock for the turns of the event loop. "How long has this turn been
 * busy" is shared by everything that hands out a backlog (stream
 * subscriptions, listeners, the bridge's subscription ports), so together
 * they give the loop back to timers and I/O after about TURN_BUDGET_MS;
 * "which turn is this" by the watcher and the checkpointer.
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
let turn = 0;

/** Marks the current turn (once): a setImmediate ends it. */
function markTurn(t: number): void {
  if (turnMarked) return;
  turnMarked = true;
  turnStartedAt = t;
  setImmediate(() => {
    turnMarked = false;
    turn++;
  });
}

/**
 * Milliseconds since the first call in the current turn of the event loop
 * (a setImmediate marks the turn's end).
 */
export function turnAgeMs(): number {
  const t = performance.now();
  markTurn(t);
  return t - turnStartedAt;
}

/**
 * A number that changes with every turn of the event loop: for work done
 * once per turn (an identity check before writes) and for counting what one
 * turn did (commits of a synchronous burst). Microtasks are the same turn.
 */
export function currentTurn(): number {
  if (!turnMarked) markTurn(performance.now());
  return turn;
}
