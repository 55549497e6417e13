/*
 * The dead-letter table, operated on (our addition; honker only fills it):
 *
 *   honker_x_dead_redrive(queue, ids_json, limit)  -> jobs moved back to live
 *   honker_x_dead_purge(queue, ids_json, limit)    -> dead jobs deleted
 *
 * ids_json is a JSON array of job ids, or NULL for every dead job of the
 * queue; ids of another queue are ignored. At most `limit` jobs per call,
 * lowest id (oldest job) first, through _honker_x_dead_queue or the
 * primary key. Redrive keeps the id, payload, priority and max_attempts,
 * and makes the job pending now with attempts 0. Not hot: prepared per call.
 */
#include "honker.h"

/* The dead jobs a call works on: ?1 queue, ?2 ids JSON or NULL, ?3 limit. */
#define PICK_IDS                                                                      \
  "SELECT id FROM _honker_dead WHERE queue = ?1 AND id IN (SELECT value FROM "        \
  "json_each(?2)) ORDER BY id LIMIT +?3"
#define PICK_ALL "SELECT id FROM _honker_dead WHERE queue = ?1 ORDER BY id LIMIT +?3"

#define REDRIVE(PICK)                                                                       \
  "INSERT INTO _honker_live (id, queue, payload, state, priority, run_at, worker_id, "      \
  "claim_expires_at, attempts, max_attempts, created_at, expires_at) "                     \
  "SELECT id, queue, payload, 'pending', priority, ?4, NULL, NULL, 0, max_attempts, "      \
  "created_at, NULL FROM _honker_dead WHERE id IN (" PICK ") ORDER BY id"
#define PURGE(PICK) "DELETE FROM _honker_dead WHERE id IN (" PICK ")"

static const hk_step REDRIVE_IDS[] = {{HK_UNCACHED, REDRIVE(PICK_IDS)},
                                      {HK_UNCACHED, PURGE(PICK_IDS)}};
static const hk_step REDRIVE_ALL[] = {{HK_UNCACHED, REDRIVE(PICK_ALL)},
                                      {HK_UNCACHED, PURGE(PICK_ALL)}};
static const hk_step PURGE_IDS[] = {{HK_UNCACHED, PURGE(PICK_IDS)}};
static const hk_step PURGE_ALL[] = {{HK_UNCACHED, PURGE(PICK_ALL)}};

static void dead_op(sqlite3_context *ctx, sqlite3_value **argv, const char *fn, int redrive) {
  const char *queue, *ids_json;
  int qlen, jlen;
  int64_t limit;
  if (hk_args_dead_pick(ctx, argv, fn, "queue", &queue, &qlen, &ids_json, &jlen, &limit)) return;
  if (limit == 0) {
    sqlite3_result_int(ctx, 0);
    return;
  }
  const hk_bind binds[4] = {{'t', 0, queue, qlen},
                            {'t', 0, ids_json, jlen},
                            {'i', limit, NULL, 0},
                            {'i', hk_now(), NULL, 0}};
  const hk_step *steps = redrive ? (ids_json ? REDRIVE_IDS : REDRIVE_ALL)
                                 : (ids_json ? PURGE_IDS : PURGE_ALL);
  int gate, last;
  if (hk_run_steps(ctx, fn, steps, redrive ? 2 : 1, binds, 4, &gate, &last)) return;
  sqlite3_result_int(ctx, gate);
}

static void redrive_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  dead_op(ctx, argv, "honker_x_dead_redrive", 1);
}

static void purge_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  dead_op(ctx, argv, "honker_x_dead_purge", 0);
}

int hk_register_dead(sqlite3 *db, hk_conn *c) {
  int rc = hk_fn(db, c, "honker_x_dead_redrive", 3, redrive_fn);
  if (rc == SQLITE_OK) rc = hk_fn(db, c, "honker_x_dead_purge", 3, purge_fn);
  return rc;
}
