/*
 * wf_int: what the files of the workflow loader share, and nothing else
 * includes (the public interface is workflow.h).
 *
 * The loader is split by concern: workflow.c (loading, the public API),
 * wf_top.c (the workflow's own keys), wf_task.c (one task), wf_retry.c
 * (retry policies), wf_jq.c (conditions and templates), wf_get.c (typed
 * getters), wf_keys.c (key tables and "did you mean"), wf_dag.c
 * (dependencies and the DAG) and wf_json.c (the canonical form).
 *
 * They all work on one struct wctx, the state of one load, made and freed
 * by load() in workflow.c.  It borrows the YAML tree; the model it fills
 * (wctx.wf) owns every string and jv in it.  A function here that finds a
 * problem reports it with report() and returns; the walk goes on, and the
 * load fails at the end when any problem was reported.
 */
#ifndef LOOM_WF_INT_H
#define LOOM_WF_INT_H

#include <stddef.h>
#include <stdint.h>

#include <jv.h>

#include "retry.h"
#include "workflow.h"
#include "yamlnode.h"

#define ID_MAX 128

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- key tables (wf_keys.c) ------------------------------------------ */

/* clang-format off */

enum wkey {
	WK_ID, WK_NAME, WK_DESCRIPTION, WK_SCHEDULE, WK_TIMEZONE,
	WK_RETRYSTRATEGY, WK_RETRYPOLICY, WK_DEFAULTS, WK_PARAMS, WK_TIMEOUT,
	WK_CONCURRENCY, WK_TASKS, WK_SIGNING, WK_CATCHUP, WK_CATCHUPWINDOW,
	WK_CATCHUPMAX, WK_JITTER, WK_PAUSEONFAILURE, WK_TRIGGERS, WK__COUNT
};

enum tkey {
	TK_ID, TK_NAME, TK_DESCRIPTION, TK_TYPE, TK_DEPENDSON, TK_TIMEOUT,
	TK_MAXATTEMPTS, TK_RETRYON, TK_DONTRETRYON, TK_RETRYPOLICY, TK_WHEN,
	TK_INPUT,
	TK_METHOD, TK_URL, TK_HEADERS, TK_BODY, TK_SIGNING, /* http */
	TK_COMMAND, TK_ENV, TK_WORKDIR,			/* shell */
	TK_CLASS, TK_CLASSPATH, TK_ARGS, TK_JVMOPTIONS, /* java */
	TK__COUNT
};

#define TK_FIRST_TYPED TK_METHOD

enum rkey {
	RK_MAXATTEMPTS, RK_BACKOFF, RK_INITIAL, RK_MAXDELAY, RK_MULTIPLIER,
	RK_JITTER, RK_RETRYON, RK_DONTRETRYON, RK__COUNT
};

enum dkey {
	DK_TIMEOUT, DK_MAXATTEMPTS, DK_RETRYON, DK_DONTRETRYON,
	DK_RETRYPOLICY, DK_HEADERS, DK__COUNT
};

enum ckey { CK_MAX, CK_POLICY, CK__COUNT };
enum tgkey { TGK_FILE, TGK_MESSAGE, TGK_DELAY, TGK_DEBOUNCE, TGK__COUNT };
enum ftkey { FTK_PATH, FTK_EVENTS, FTK__COUNT };

/* clang-format on */

extern const char *const wf_keys[WK__COUNT];
extern const char *const task_keys[TK__COUNT];
extern const char *const retry_keys[RK__COUNT];
extern const char *const defaults_keys[DK__COUNT];
extern const char *const conc_keys[CK__COUNT];
/* Indexed by enum task_type, concurrency_policy, backoff_strategy. */
extern const char *const type_names[3];
extern const char *const policy_names[6];
extern const char *const catchup_names[3];
extern const char *const file_event_names[5];
extern const char *const trigger_keys[TGK__COUNT];
extern const char *const file_trigger_keys[FTK__COUNT];
extern const char *const backoff_names[3];

/* ---- the loader's state ----------------------------------------------- */

/* A partial retry policy: the fields one level of the file sets. */
enum {
	RP_MAX = 1 << 0,
	RP_STRATEGY = 1 << 1,
	RP_INITIAL = 1 << 2,
	RP_MAXDELAY = 1 << 3,
	RP_MULTIPLIER = 1 << 4,
	RP_JITTER = 1 << 5,
	RP_ON = 1 << 6,
	RP_DONT = 1 << 7,
};

struct rp_over {
	unsigned set;
	struct retry_policy p;
};

struct wctx {
	const char *file;
	const struct workflow_opts *opts; /* or NULL */
	struct diags *d;
	size_t nerr;	/* diagnostics this load produced */
	struct jqx *jq; /* made on first use */
	struct workflow *wf;

	/* per task, borrowed from the YAML tree */
	const struct ynode **task_nodes;
	const struct ynode **id_nodes;
	size_t *dep_first; /* task i's dependsOn nodes: dep_nodes[...] */
	const struct ynode **dep_nodes;
	size_t ndep_nodes, dep_nodes_cap;

	jv default_headers; /* defaults.headers, or null */

	/* jq programs and templates, checked together after the walk */
	struct jqitem *jqitems;
	size_t njqitems, jqitems_cap;
	int defaults_ok; /* workflow retry defaults are consistent */
	int nhints;	 /* dangling dependencies given a hint */
	int stored;	 /* a stored spec, accepted when it was applied */
};

/* A `when:` program or a template string to compile-check. */
struct jqitem {
	const struct ynode *node; /* the string, for its text and place */
	const char *key;	  /* "when", "input", "headers", "body" */
};

/* workflow.c: records a diagnostic at the node's place (at may be NULL). */
void report(struct wctx *c, const struct ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* wf_keys.c */
int dym_score(const char *s, const char *cand);
const char *dym_best(const char *s, const char *const *cands, size_t n);
char *join_or(const char *const *names, size_t n);
size_t map_slots(const struct ynode *m, const char *const *names, size_t nnames,
    const struct ynode **slots, const struct ynode **keys,
    const struct ynode **unknown, size_t max);
void report_unknown(struct wctx *c, const struct ynode *k, const char *here,
    const char *const *cands, size_t ncands);

/*
 * wf_get.c: the value of n under key, or NULL / -1 / jv_invalid after
 * reporting.  Strings are borrowed from the tree unless the function
 * returns char * (then they are the caller's).
 */
void expect(struct wctx *c, const struct ynode *n, const char *want,
    const char *key, int item);
const char *get_str(
    struct wctx *c, const struct ynode *n, const char *key, int item);
const char *get_nonempty(
    struct wctx *c, const struct ynode *n, const char *key);
const char *get_text(
    struct wctx *c, const struct ynode *n, const char *key, int item);
int get_int(struct wctx *c, const struct ynode *n, const char *key, int64_t lo,
    int64_t hi, int64_t *out);
int get_double(struct wctx *c, const struct ynode *n, const char *key,
    double lo, double hi, double *out);
int get_duration(struct wctx *c, const struct ynode *n, const char *key,
    int positive, int64_t *out);
int get_enum(struct wctx *c, const struct ynode *n, const char *key,
    const char *const *names, size_t nnames, int fold_case);
char *get_id(struct wctx *c, const struct ynode *n, const char *what);
char **get_text_list(struct wctx *c, const struct ynode *n, const char *key,
    int single_ok, size_t *count);
void free_strv(char **v, size_t n);
int expect_map(struct wctx *c, const struct ynode *n, const char *key);
jv node_json(struct wctx *c, const struct ynode *n, const char *key);
jv get_string_map(
    struct wctx *c, const struct ynode *n, const char *key, int header_names);

/* wf_retry.c */
void parse_retry_keys(struct wctx *c, const struct ynode *maxn,
    const struct ynode *onn, const struct ynode *dontn, struct rp_over *o);
void parse_retry_policy(
    struct wctx *c, const struct ynode *n, struct rp_over *o);
void rp_apply(struct retry_policy *p, const struct rp_over *o);
int rp_check(struct wctx *c, const struct ynode *at,
    const struct retry_policy *p, const char *whose);

/* wf_jq.c */
void jq_queue(struct wctx *c, const struct ynode *n, const char *key);
void queue_templates(struct wctx *c, const struct ynode *n, const char *key);
void jq_check_all(struct wctx *c);

/* wf_task.c */
void task_init(struct task *t);
void task_clear(struct task *t);
char *parse_signing(struct wctx *c, const struct ynode *n);
void parse_task(struct wctx *c, size_t idx, const struct ynode *tn);

/* wf_top.c */
void parse_workflow(struct wctx *c, const struct ynode *root);

/* wf_sched.c: catchup*, jitter, pauseOnFailure, triggers */
void parse_sched_keys(struct wctx *c, const struct ynode *const *s);

/* wf_dag.c */
int resolve_deps(struct wctx *c);
void build_dag(struct wctx *c);

#endif
