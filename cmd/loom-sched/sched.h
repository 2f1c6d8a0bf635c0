/*
 * loom-sched: decides when runs start -- schedules, catch-up, triggers
 * from messages, rows and files (see loom-sched(8)).  The map:
 *
 *   main.c       arguments, configuration, -n, then sched_run()
 *   sched.c      the daemon: loop, signals, the database connection, the
 *                doorbells (loom_sched, loom_trigger_queue, and
 *                loom_trigger for the one scheduler holding its lock),
 *                the wall-clock timer and clock-jump detection
 *   workflows.c  the workflows it watches: each one's model, cron, zone,
 *                next due time; read again on a doorbell
 *   fire.c       one workflow's due fires: plan (lib/core/schedule),
 *                start (lib/store/runstart), move the cursor, in one
 *                transaction
 *   triggers.c   trigger_queue rows become runs; NOTIFY loom_trigger
 *                messages and file events become rows
 *   files.c      inotify watches of file triggers, under sched.file_roots
 *   check.c      loom-sched -n: the configuration and every stored
 *                schedule and trigger
 *
 * One thread; the database connection is used synchronously, as
 * loom-engine does; every wait is a loop watch.  Exactly once: a fire is
 * claimed in schedule_fires and the cursor moves in the same transaction,
 * under the workflow's schedule_state row (FOR UPDATE SKIP LOCKED), so
 * any number of schedulers may run.
 */
#ifndef LOOM_SCHED_H
#define LOOM_SCHED_H

#include <stdint.h>

#include <jv.h>
#include <libpq-fe.h>

#include "util/config.h"

struct loop;
struct workflow;
struct cron;
struct tz;

struct sched_opts {
	const char *db_url;
	int64_t grace_ms;  /* sched.misfire_grace */
	int64_t sweep_ms;  /* sched.sweep */
	char **file_roots; /* sched.file_roots, NULL-terminated */
	const char *name;  /* in logs and application_name */
	char *ctl_path;	   /* the control socket (main.c owns it), or NULL */
};

int sched_opts_load(struct sched_opts *o, const struct config *cfg);
void sched_opts_free(struct sched_opts *o);
/* Runs until SIGTERM/SIGINT; returns the process exit status. */
int sched_run(const struct sched_opts *o);
/* loom-sched -n after the configuration: every stored workflow. */
int sched_check(const struct sched_opts *o);

/* One workflow with a schedule or triggers (workflows.c). */
struct ctl;

struct swf {
	char *id;
	int version;
	int paused;
	struct workflow *wf;
	struct cron *cron;   /* or NULL: no schedule */
	const struct tz *tz; /* tzload's, released on free */
	int64_t due_ms;	     /* next fire's due time; -1 none */
	int retry;	     /* locked by another scheduler: look again */
	int *watches;	     /* inotify wd per trigger, -1 none */
};

struct sched {
	const struct sched_opts *o;
	struct loop *loop;
	PGconn *conn;
	struct pglisten *listen, *leader;
	struct loop_io *clock_io;
	int clock_fd; /* timerfd, CLOCK_REALTIME, cancelled on clock set */
	int64_t clock_target_ms;
	struct loop_timer *queue_t, *sweep_t, *reconnect_t, *retry_t;
	struct loop_defer *work;
	struct loop_signal *sig[3];
	struct swf **wfs;
	size_t nwfs;
	int inotify_fd;
	struct loop_io *inotify_io;
	int64_t backoff_ms;
	int queue_dirty;	/* trigger_queue may have due rows */
	int64_t file_pruned_ms; /* last prune of trigger_file_events */
	/* figures (loom-sched(8)) */
	unsigned long fires, skipped, missed, messages, bad_messages,
	    file_events, trigger_runs;
	struct ctl *ctl;
};

/* sched.c */
void sched_db_lost(struct sched *s, const char *why);
void sched_rearm(struct sched *s); /* the clock timer: earliest due */
void sched_kick(struct sched *s);  /* run the work soon */

/* workflows.c */
int wfs_load_all(struct sched *s, char **err);
int wfs_reload(struct sched *s, const char *id, char **err);
struct swf *wfs_find(struct sched *s, const char *id);
/* A model of the current version of any workflow (for a message to a
 * workflow without schedule or triggers): borrowed, cached. */
struct swf *wfs_get(struct sched *s, const char *id, char **err);
void wfs_free_all(struct sched *s);
/* The params a start with input (consumed) gets, as JSON text in *out
 * (malloc'd): 0, or -1 with *why (malloc'd) for an input refused. */
int wfs_params(const struct swf *w, jv input, char **out, char **why);

/* fire.c: the due fires of every workflow; 0 or -1 (database). */
int fire_due(struct sched *s, int64_t now_ms);

/* triggers.c */
int triggers_consume(struct sched *s);
void triggers_message(struct sched *s, const char *payload);
/*
 * Queues a row: 1, 0 when event_key (a file event's identity, or NULL)
 * was claimed already by another scheduler, or -1 (database).
 */
int triggers_enqueue(struct sched *s, const char *workflow, const char *input,
    const char *source, int64_t delay_ms, const char *debounce_key,
    int64_t debounce_ms, const char *event_key);
void triggers_prune_file_events(struct sched *s, int64_t now_ms);
void triggers_arm_queue(struct sched *s);

/* files.c */
int files_init(struct sched *s);
void files_watch(struct sched *s, struct swf *w);
void files_unwatch(struct sched *s, struct swf *w);
void files_fini(struct sched *s);
int files_root_ok(const struct sched_opts *o, const char *dir);

#endif
