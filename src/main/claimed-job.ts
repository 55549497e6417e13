/**
 * A claimed job: what a claim returns and a worker holds. Its own module so
 * that queue.ts (which starts workers) and worker.ts (which claims through
 * a queue) do not import each other.
 */

/** A job as a worker holds it after a claim. */
export interface ClaimedJob<P> {
  id: number;
  queue: string;
  payload: P;
  attempts: number;
  workerId: string;
  /** Unix seconds when the claim lapses unless heartbeated. */
  claimExpiresAt: number;
}
