/*
 * enginedb_int: what the files of enginedb (the PostgreSQL driver of the
 * engine core, see enginedb.h) share: the handle, its two caches, what a
 * pass reads and what it writes, and the functions one file calls in
 * another.  Private to lib/store/enginedb*.c.
 *
 *   enginedb.c        the handle: new, free, connection, settings, stats
 *   enginedb_cache.c  the workflow version and run caches
 *   enginedb_read.c   a pass's first round trip and reading a run
 *   enginedb_apply.c  feeding the engine core: reports, requests, clock
 *   enginedb_write.c  writing a pass's outcome, in chunks when large
 *   enginedb_sweep.c  the sweep's queries over all runs
 *
 * Ownership: struct enginedb owns its caches; a cached run
 * (struct runentry) owns its run_rt and holds its version (struct
 * wfentry, counted in nruns).  A pass owns its reports and requests.
 */
#ifndef LOOM_ENGINEDB_INT_H
#define LOOM_ENGINEDB_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jv.h>
#include <libpq-fe.h>

#include "core/engine.h"
#include "enginedb.h"

struct wfentry {
	char *id;
	int version;
	struct workflow *wf;
	jv tasks;	  /* canonical task objects, by task index */
	char **spec_text; /* the same as JSON text, NULL when templated */
	size_t nruns;	  /* cached runs of this version */
	struct wfentry *next;
};

struct runentry {
	char *id;
	struct wfentry *w;
	struct run_rt rt;
	long long gen; /* executions.engine_gen the cache matches */
	struct runentry *next;
};

struct enginedb {
	PGconn *conn;
	struct jqx *jq;
	struct wfentry *wfs; /* most recently used first */
	size_t nwfs;
	size_t wf_tasks; /* tasks of the cached versions */
	struct runentry *runs;
	size_t run_tasks; /* tasks of the cached runs */
	struct enginedb_stats st;
	unsigned long long rng;
	int64_t wake_ms; /* of the last pass: see enginedb_pass_wakeup() */
	int retrying;	 /* the last pass left a task in RETRY */
	enginedb_writer *writer; /* see enginedb_set_writer() */
	void *writer_arg;
	int quiet_ready; /* no loom_task_ready (the writer claims) */
	enginedb_run_end_cb *run_end; /* see enginedb_set_run_end() */
	void *run_end_arg;
};

/* A result reported by an executor or a callback, not yet seen. */
struct report {
	size_t task;
	int success;
	jv output;
	enum errclass error;
	char *message;
	int attempt;
};

/* A control request of loom-api (a run_requests row) for this pass. */
struct request {
	char *id;	   /* run_requests.id */
	char *kind;	   /* retry, rerun, replay */
	char *task;	   /* rerun, replay: the task id; else NULL */
	int downstream;	   /* rerun: and what is downstream */
	char *dead_letter; /* replay: dead_letters.id; else NULL */
	char *error;	   /* why it was refused; NULL when applied */
	char *result;	   /* applied: {"reset":[task ids]} as JSON */
};

/* What a pass writes for one task. */
struct change {
	const char *request; /* NULL: keep the stored one */
	const char *error_type;
	const char *error_message;
	int dead;
};

/* enginedb_cache.c */
void edb_run_drop(struct enginedb *e, struct runentry *r);
void edb_runs_drop_all(struct enginedb *e);
void edb_wfs_drop_all(struct enginedb *e);
void edb_wfs_trim(struct enginedb *e, const struct wfentry *keep);
struct wfentry *edb_wf_get(
    struct enginedb *e, const char *id, int version, char **err);
struct runentry *edb_run_find(struct enginedb *e, const char *id);
void edb_runs_trim(struct enginedb *e, size_t ntasks);

/*
 * enginedb_read.c.  What a pass reads of a run_tasks row and of the
 * executions row (in this order: edb_rows_load() and edb_run_cache_new()
 * read them by position).
 */
#define EDB_TASK_FIELDS \
	"task_id, state, attempt, settled, skip_reason, " \
	"output::text, error_type, error_message, " \
	"(extract(epoch FROM not_before) * 1000)::bigint, attempt_base"
#define EDB_RUN_FIELDS \
	"workflow_id, workflow_version, status, " \
	"params::text, cancel_requested, " \
	"(extract(epoch FROM deadline_at) * 1000)::bigint, engine_gen, " \
	"(extract(epoch FROM started_at) * 1000)::bigint, " \
	"pass_incomplete, " SQL_ISO_SECONDS("scheduled_at") ", trigger"
#define EDB_RUN_NFIELDS 11
/* A timestamp column in ms (0 for NULL). */
int64_t edb_ms_value(const PGresult *r, int row, int col);
void edb_rows_load(struct runentry *run, const PGresult *r, int lo, int hi,
    int c0, struct report *reps, size_t *nreps);
void edb_reports_free(struct report *reps, size_t n);
struct runentry *edb_run_cache_new(struct enginedb *e, const char *id,
    const PGresult *r, int row, enum run_state status, struct runentry *old,
    char **err);

/* enginedb_apply.c */
void edb_note_wakeup(struct enginedb *e, const struct runentry *run);
int edb_pass_apply(struct enginedb *e, const char *id, struct runentry *run,
    long long gen, int full, int cancel_requested, struct report *reps,
    size_t nreps, struct request *rq, size_t nrq, int64_t now_ms, char **err);

struct batchwrite;
int edb_pass_batch_apply(struct enginedb *e, const char *id,
    struct runentry *run, int full, int cancel_requested, struct report *reps,
    size_t nreps, int64_t now_ms, struct batchwrite *b);

/* enginedb_write.c */
int edb_write_pass(struct enginedb *e, const char *id, struct runentry *run,
    const struct engine_result *res, const unsigned char *changed,
    struct change *ch, const struct request *rq, size_t nrq,
    long long gen_after, char **err);
/* Several runs' passes in one transaction: see enginedb_many.c. */
struct batchwrite;
struct batchwrite *edb_batch_new(size_t nmax);
void edb_batch_free(struct batchwrite *b);
size_t edb_batch_runs(const struct batchwrite *b);
void edb_batch_add(struct batchwrite *b, const char *id, struct runentry *run,
    const struct engine_result *res, const unsigned char *changed,
    struct change *ch);
int edb_batch_send(struct enginedb *e, struct batchwrite *b, char **err);

#endif
