/*
 * workflow: the workflow model and its loader (YAML/JSON -> model).
 *
 * workflow_load_*() parse with libyaml (so every node keeps its line and
 * column; JSON is accepted because it is YAML), check every field, resolve
 * workflow-level defaults into each task, build the DAG, and return the
 * model only when the whole file is valid: on any error they return NULL
 * and every problem found is in the diags list.  A caller never sees a
 * half-valid workflow.
 *
 * The model owns all its memory; workflow_free() releases it.  jv members
 * are owned by the model (use jv_copy to keep one).
 */
#ifndef LOOM_WORKFLOW_H
#define LOOM_WORKFLOW_H

#include <stddef.h>
#include <stdint.h>

#include <jv.h>

#include "diag.h"
#include "retry.h"

/* Files over this are refused. */
#define WORKFLOW_MAX_BYTES (16u * 1024 * 1024)
#define WORKFLOW_MAX_ALIASES 10000 /* alias expansions per file */
#define WF_DEFAULT_CATCHUP_WINDOW_MS (3600 * 1000LL)
#define WF_DEFAULT_CATCHUP_MAX 100
#define WF_MAX_TRIGGERS 32

enum task_type {
	TASK_HTTP = 0,
	TASK_SHELL,
	TASK_JAVA,
};

/* What a start past concurrency.max does (loom-workflow(5)). */
enum concurrency_policy {
	CONC_QUEUE = 0,	   /* waits for a slot, in order */
	CONC_SKIP,	   /* is not started (an event says so) */
	CONC_BUFFER_ONE,   /* waits, but at most one waits; others skip */
	CONC_CANCEL_OTHER, /* the oldest active run is cancelled; it waits */
	CONC_ALLOW,	   /* starts anyway: no limit */
	CONC__COUNT
};

/* Which fires missed while no scheduler ran are made up for. */
enum catchup_policy {
	CATCHUP_LATEST = 0, /* one run, for the most recent missed fire */
	CATCHUP_NONE,	    /* none */
	CATCHUP_ALL,	    /* every one in the window, up to catchupMax */
	CATCHUP__COUNT
};

/* file trigger events (inotify's names) */
#define WF_FILE_CREATE 0x1u
#define WF_FILE_CLOSE_WRITE 0x2u
#define WF_FILE_MOVED_TO 0x4u
#define WF_FILE_DELETE 0x8u
#define WF_FILE_MODIFY 0x10u

enum wf_trigger_kind {
	WF_TRIGGER_FILE = 0,
	WF_TRIGGER_MESSAGE,
};

/* One entry of `triggers:`. */
struct wf_trigger {
	enum wf_trigger_kind kind;
	char *path;	     /* file: an absolute glob, "/srv/in/\*.csv" */
	unsigned events;     /* file: WF_FILE_* bits */
	int64_t delay_ms;    /* the run starts this long after the event */
	int64_t debounce_ms; /* events this close together make one run */
};

struct srcpos {
	int line; /* 1-based, 0 unknown */
	int col;
};

struct task {
	char *id;
	char *name;	   /* defaults to id */
	char *description; /* may be NULL */
	enum task_type type;
	struct srcpos pos; /* of the task's mapping */

	char **depends_on; /* task ids, as written */
	size_t ndepends;
	size_t *dep_index; /* resolved indices into workflow.tasks */

	int64_t timeout_ms;	   /* per attempt; resolved (never 0) */
	struct retry_policy retry; /* resolved with workflow defaults */
	char *when;		   /* jq condition or NULL */
	jv input; /* object (string values may be jq), or null */

	/* http */
	char *method; /* upper case; default POST */
	char *url;
	jv headers; /* object of string -> string, or null */
	jv body; /* custom body (sent instead of the envelope), or invalid when
		    absent */
	char *signing_env; /* signing.secretEnv (the task's, else the
			      workflow's): the executor's environment
			      variable holding the HMAC secret; or NULL */

	/* shell: exactly one of argv / command is set */
	char **argv; /* NULL-terminated, or NULL */
	size_t argc;
	char *command; /* run with /bin/sh -c, or NULL */
	jv env;	       /* object of string -> string, or null */
	char *workdir; /* or NULL */

	/* java */
	char *class_name;
	char *classpath; /* joined with ':' */
	char **args;	 /* NULL-terminated, may be empty */
	size_t nargs;
	char **jvm_options; /* NULL-terminated, may be empty */
	size_t njvm_options;
};

struct workflow {
	char *file; /* name used in diagnostics */
	char *id;
	char *name;	     /* defaults to id */
	char *description;   /* or NULL */
	char *schedule;	     /* cron expression or NULL */
	char *timezone;	     /* IANA zone; default "UTC" */
	int64_t timeout_ms;  /* whole run; 0 = none */
	jv params;	     /* object: name -> default value */
	int concurrency_max; /* 0 = unlimited */
	enum concurrency_policy concurrency_policy;
	enum catchup_policy catchup;
	int64_t catchup_window_ms; /* default 1h */
	int catchup_max;	   /* runs one catch-up makes at most */
	int64_t jitter_ms;	   /* a scheduled start waits up to this */
	int pause_on_failure;	   /* a FAILED run pauses the workflow */
	struct wf_trigger *triggers;
	size_t ntriggers;

	struct retry_policy retry_defaults; /* after retryStrategy/defaults */
	int64_t default_timeout_ms; /* task timeout when unset (default 5m) */

	struct task *tasks;
	size_t ntasks;
	char *signing_env; /* signing.secretEnv for http tasks, or NULL */
	struct dag *dag;   /* built on load; owned */
	struct hmap
	    *task_ids; /* task id -> index (keys borrowed from tasks); owned */
};

/*
 * What loading needs from outside the pure core.  zone_known(name) says
 * whether a `timezone:` names a zone this machine has (tzload_known() of
 * util/tzload.h); a NULL opts or zone_known takes any name unchecked, as
 * for a stored spec that was checked when it was applied.
 */
struct workflow_opts {
	int (*zone_known)(const char *name);
};

/*
 * name is used in diagnostics and as workflow.file.  Reading a file is
 * lib/util/workflow_file.h's (workflow_load_file(), workflow_load_fd()).
 */
struct workflow *workflow_load_buf(
    const char *name, const char *buf, size_t len, struct diags *d);
/* The same with options (o may be NULL). */
struct workflow *workflow_load_buf_opts(const char *name, const char *buf,
    size_t len, const struct workflow_opts *o, struct diags *d);

/*
 * The same for a workflow already in canonical JSON text (len bytes), such
 * as workflow_versions.spec: no YAML parser, no positions in messages.
 * These two load stored specs, accepted when they were applied, so they
 * skip the checks that refuse what an earlier version accepted and did
 * nothing with: a schedule that never fires, a template in a shell or
 * java task's command line or env.
 */
struct workflow *workflow_load_json(
    const char *name, const char *text, size_t len, struct diags *d);
/* The same from a tree the caller parsed (borrowed: wf keeps no node). */
struct ydoc;
struct workflow *workflow_load_doc(
    const char *name, const struct ydoc *doc, struct diags *d);
void workflow_free(struct workflow *wf);

/* Index of the task with this id, or -1.  O(1). */
long workflow_task_index(const struct workflow *wf, const char *id);
const char *task_type_name(enum task_type t);
const char *concurrency_policy_name(enum concurrency_policy p);
const char *catchup_policy_name(enum catchup_policy p);
/* "create,close_write" for WF_FILE_* bits; into buf of size n. */
const char *wf_file_events_str(unsigned events, char *buf, size_t n);

/*
 * The canonical JSON form of the model, with every default filled in, for
 * storage and for the API.  Loading it back gives an equal model.
 */
jv workflow_to_jv(const struct workflow *wf);

#endif
