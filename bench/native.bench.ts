/**
 * The extension against raw better-sqlite3 doing the same SQL, same run.
 *   node --experimental-strip-types bench/native.bench.ts
 */
import {
  benchDb,
  comparePair,
  type Db,
  type PairResult,
  printResults,
  RAW_CLAIM,
  RAW_INSERT,
  rate,
  rawAcker,
  repeat,
} from "./harness.ts";

const PAYLOAD = JSON.stringify({ user: 42, action: "sync", items: [1, 2, 3] });

function fill(db: Db, queue: string, n: number): void {
  const ins = db.prepare("SELECT honker_enqueue(?, ?, NULL, NULL, 0, 3, NULL)");
  db.transaction(() => {
    for (let i = 0; i < n; i++) ins.get(queue, PAYLOAD);
  })();
}

function enqueueCases(db: Db): PairResult[] {
  const raw = db.prepare(RAW_INSERT);
  const ours = db.prepare("SELECT honker_enqueue(?, ?, NULL, NULL, 0, 3, NULL)");
  const clear = () => db.exec("DELETE FROM _honker_live");
  const now = () => Math.floor(Date.now() / 1000);
  const rawOne = db.transaction(() => raw.run("e", PAYLOAD, now(), 0, 3, null));
  const oursOne = db.transaction(() => ours.get("e", PAYLOAD));
  const rawHundred = db.transaction(() => {
    const t = now();
    for (let i = 0; i < 100; i++) raw.run("e", PAYLOAD, t, 0, 3, null);
  });
  const oursHundred = db.transaction(() => {
    for (let i = 0; i < 100; i++) ours.get("e", PAYLOAD);
  });
  return [
    comparePair({
      name: "enqueue, 1 job per transaction",
      ops: 5000,
      goal: 0.9,
      setup: clear,
      floor: repeat(rawOne),
      ours: repeat(oursOne),
    }),
    comparePair({
      name: "enqueue, 100 jobs per transaction (jobs/s)",
      ops: 20000,
      goal: 0.8,
      setup: clear,
      floor: repeat(rawHundred, 100),
      ours: repeat(oursHundred, 100),
    }),
  ];
}

function claimCases(db: Db): PairResult[] {
  const rawClaim = db.prepare(RAW_CLAIM);
  // The floor writes what an ack writes: history row, progress and key clean-up.
  const rawAcks = rawAcker(db);
  const claim = db.prepare("SELECT honker_claim_batch(?, ?, ?, 30)").pluck();
  const ack = db.prepare("SELECT honker_ack(?, ?)");
  const ackMany = db.prepare("SELECT honker_ack_batch(?, ?)");
  const now = () => Math.floor(Date.now() / 1000);
  const refill = (n: number) => () => {
    db.exec("DELETE FROM _honker_live");
    fill(db, "c", n);
  };
  const results: PairResult[] = [];
  results.push(
    comparePair({
      name: "claim + ack, one job at a time",
      ops: 3000,
      goal: 0.8,
      setup: refill(4000),
      floor: (n) => {
        for (let i = 0; i < n; i++) {
          const t = now();
          const rows = rawClaim.all("w", t, "c", t, t, 1) as { id: number; payload: string }[];
          for (const r of rows) {
            JSON.parse(r.payload);
            rawAcks.one(r.id, "w", now());
          }
        }
      },
      ours: (n) => {
        for (let i = 0; i < n; i++) {
          const jobs = JSON.parse(claim.get("c", "w", 1) as string) as {
            id: number;
            payload: string;
          }[];
          for (const j of jobs) {
            JSON.parse(j.payload);
            ack.get(j.id, "w");
          }
        }
      },
    }),
  );
  results.push(
    comparePair({
      name: "claim + ack, batches of 32 (jobs/s)",
      ops: 3200,
      goal: 0.8,
      setup: refill(4000),
      floor: (n) => {
        for (let i = 0; i < n / 32; i++) {
          const t = now();
          const rows = rawClaim.all("w", t, "c", t, t, 32) as { id: number; payload: string }[];
          for (const r of rows) JSON.parse(r.payload);
          rawAcks.many(JSON.stringify(rows.map((r) => r.id)), "w", now());
        }
      },
      ours: (n) => {
        for (let i = 0; i < n / 32; i++) {
          const jobs = JSON.parse(claim.get("c", "w", 32) as string) as {
            id: number;
            payload: string;
          }[];
          for (const j of jobs) JSON.parse(j.payload);
          ackMany.get(JSON.stringify(jobs.map((j) => j.id)), "w");
        }
      },
    }),
  );
  return results;
}

function backlogCase(db: Db): PairResult {
  const claim = db.prepare("SELECT honker_claim_batch(?, ?, 1, 30)").pluck();
  const ack = db.prepare("SELECT honker_ack(?, ?)");
  const loop = (n: number) => {
    for (let i = 0; i < n; i++) {
      const jobs = JSON.parse(claim.get("b", "w") as string) as { id: number }[];
      for (const j of jobs) ack.get(j.id, "w");
    }
  };
  const measure = (backlog: number) => {
    db.exec("DELETE FROM _honker_live");
    fill(db, "b", backlog);
    db.pragma("wal_checkpoint(TRUNCATE)");
    loop(100);
    return rate(1000, loop);
  };
  const small: number[] = [];
  const big: number[] = [];
  for (let r = 0; r < 5; r++) {
    small.push(measure(1_000));
    big.push(measure(100_000));
  }
  const med = (xs: number[]) => xs.sort((a, b) => a - b)[2] ?? 0;
  return {
    name: "claim + ack at 100k backlog vs 1k backlog",
    floorRate: med(small),
    oursRate: med(big),
    ratio: med(big) / med(small),
    goal: 0.8,
  };
}

const { db, dispose } = benchDb();
try {
  console.log(
    `SQLite ${db.prepare("SELECT sqlite_version()").pluck().get()}, node ${process.version}`,
  );
  const results = [...enqueueCases(db), ...claimCases(db), backlogCase(db)];
  printResults("native extension vs raw better-sqlite3 (median of 7 interleaved rounds)", results);
  console.log("(last row: 'raw' column is the 1k-backlog rate, 'ours' the 100k-backlog rate)");
} finally {
  dispose();
}
