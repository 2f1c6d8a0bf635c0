/*
 * logd.h: loom-log's state and what its files ask of each other.
 *
 *   main.c       arguments, configuration, logd_run()
 *   opts.c       the logd.* keys of loom.conf(5) (struct logd_opts)
 *   proto.c      one line of the socket protocol into a record or an
 *                error, and a record back into a line (pure: no I/O)
 *   fastlog.c    the same for a good "log" line, five times faster
 *   server.c     the Unix socket: listening (or socket activation),
 *                peers checked with SO_PEERCRED, lines in, replies out
 *   logd.c       the daemon: the queue of records, the flush into the
 *                store, the spool when the store is slow or away,
 *                retention, signals
 *   spool.c      the bounded spool file
 *   store_pg.c   the PostgreSQL store (task_logs)
 *   store_mongo.c the MongoDB store (collection execution_logs)
 *
 * Records flow: a connection's line is parsed (proto.c) into a struct
 * ld_rec and queued; the queue is written to the store in batches
 * (at most logd.batch records, at most logd.flush_delay after the first
 * one came); a batch the store cannot take goes to the spool, and while
 * the spool holds anything every new batch goes there too, so the store
 * sees records in the order they came.  The spool is written into the
 * store as soon as it answers again.  "sync" messages are answered once
 * every record that came before them is in the store or the spool.
 *
 * Everything runs on the one loop thread.  The ld_ prefix keeps these
 * names apart from the other programs' in the tests' link.
 */
#ifndef LOOM_LOGD_H
#define LOOM_LOGD_H

#include <stddef.h>
#include <stdint.h>

#include <jv.h>

#include "core/buf.h"
#include "util/config.h"
#include "util/loop.h"

#define LD_LINE_MAX (1024 * 1024) /* a line's bytes, without its newline */
#define LD_DEFAULT_SOCKET "/run/loom/log.sock"

/* One log record; every string is owned (malloc'd). */
struct ld_rec {
	char *execution;
	char *task;
	int attempt;
	char *level;  /* debug, info, warn, error */
	char *stream; /* stdout, stderr, backend, loom, or the writer's word */
	char *msg;
	int64_t ts_ms; /* ms since the epoch */
};

/*
 * A parsed line: a record, a sync request, a ping, a control request
 * (status, reload: loom-ipc(7) "Control sockets"), or an error.
 */
enum ld_kind { LD_LOG, LD_SYNC, LD_PING, LD_STATUS, LD_RELOAD, LD_ERROR };

struct ld_msg {
	enum ld_kind kind;
	struct ld_rec rec; /* LD_LOG */
	jv id;		   /* LD_SYNC, LD_PING: the id to answer with */
	char err[160];	   /* LD_ERROR */
};

/*
 * proto.c: parses line[0..len) (no newline).  now_ms stamps a record
 * without "ts".  Always fills m; the caller frees it with ld_msg_clear().
 */
void ld_parse(const char *line, size_t len, int64_t now_ms, struct ld_msg *m);
void ld_msg_clear(struct ld_msg *m);
void ld_rec_clear(struct ld_rec *r);
/* Appends r as one envelope line with its newline (the spool's format). */
void ld_rec_line(struct buf *b, const struct ld_rec *r);
/* "debug" 0, "info" 1, "warn" 2, "error" 3; -1 for anything else. */
int ld_level_rank(const char *level);
/* proto.c's checks, shared with fastlog.c: 0 when good. */
int ld_ts_string(const char *s, int64_t *ms);
int ld_ts_number(double d, int64_t *ms);
int ld_stream_ok(const char *s); /* 1 when good */
/*
 * fastlog.c: the common case of ld_parse() without building a jv: a flat
 * "log" object that is right in every way.  Returns 0 with r filled (the
 * caller owns its strings), or -1 for anything else (r untouched), which
 * ld_parse() then parses the thorough way, with its error messages.
 */
int ld_fast_log(const char *p, size_t len, int64_t now_ms, struct ld_rec *r);

struct logd_opts {
	const char *socket;   /* logd.socket */
	unsigned socket_mode; /* logd.socket_mode */
	char *allow_uids;     /* logd.allow_uids, or NULL; owned */
	const char *store;    /* "postgresql" or "mongodb" */
	const char *url;      /* database.url */
	const char *mongo_uri;
	const char *mongo_db;
	const char *spool;
	int64_t spool_max;
	int batch;
	int64_t flush_ms;
	int64_t store_timeout_ms;
	int64_t retention_ms; /* 0: keep everything */
	int64_t retention_every_ms;
};

int logd_opts_load(struct logd_opts *o, const struct config *cfg);
void logd_opts_clear(struct logd_opts *o);

/*
 * The store: PostgreSQL or MongoDB behind one set of calls.  A batch is
 * written in two steps so that the loop reads the sockets while the
 * store works: begin() sends it, and once fd() is readable (at once when
 * fd() is -1) finish() says how it went.  One batch at a time.
 */
struct ld_store;
struct ld_store_ops {
	/*
	 * Sends n records (r stays the caller's until finish() said done).
	 * Returns 0; 1 when the store is away (nothing sent: spool the
	 * batch and try again later); -1 when it refused (*err says why).
	 */
	int (*begin)(
	    struct ld_store *s, const struct ld_rec *r, size_t n, char **err);
	/* The socket to wait on for the answer, or -1: call finish() now. */
	int (*fd)(struct ld_store *s);
	/*
	 * How the batch went: 0 written; 1 the store went away or took
	 * longer than logd.store_timeout (spool it); -1 refused for good
	 * (*err); 2 not yet (only when block is 0: wait on fd() again).
	 */
	int (*finish)(struct ld_store *s, int block, char **err);
	/* Deletes records older than cutoff_ms; returns the count or -1. */
	long (*expire)(struct ld_store *s, int64_t cutoff_ms, char **err);
	/* Connects again after a failure; 0 when the store answers. */
	int (*reconnect)(struct ld_store *s, char **err);
	void (*free)(struct ld_store *s);
	const char *name;
};
struct ld_store {
	const struct ld_store_ops *ops;
};

/* store_pg.c, store_mongo.c: NULL with *err when the store cannot start. */
struct ld_store *ld_store_pg_new(const struct logd_opts *o, char **err);
struct ld_store *ld_store_mongo_new(const struct logd_opts *o, char **err);

/* spool.c: a file of envelope lines, with the offset read so far. */
struct ld_spool;
struct ld_spool *ld_spool_open(const char *path, int64_t max, char **err);
void ld_spool_close(struct ld_spool *sp);
/* Appends n records; returns how many fit (the rest is dropped). */
size_t ld_spool_put(struct ld_spool *sp, const struct ld_rec *r, size_t n);
int ld_spool_empty(const struct ld_spool *sp);
int64_t ld_spool_bytes(const struct ld_spool *sp);
/*
 * Reads up to max records from the read offset into r (the caller clears
 * them); ld_spool_done() moves the offset past what the last read took,
 * and empties the file once everything was taken.  Returns the count
 * (0: empty), or -1 on a read error.
 */
long ld_spool_take(struct ld_spool *sp, struct ld_rec *r, size_t max);
void ld_spool_done(struct ld_spool *sp);

/* server.c: the socket and its connections. */
struct logd;
struct ld_server;
struct ld_server *ld_server_new(
    struct logd *d, const struct logd_opts *o, char **err);
void ld_server_free(struct ld_server *s);
size_t ld_server_conns(const struct ld_server *s);
/* Stops reading the connections (on), or reads them again (0). */
void ld_server_pause(struct ld_server *s, int on);
/* Answers every sync request whose records are all written (seq <= done). */
void ld_server_synced(struct ld_server *s, uint64_t done);

/* logd.c: what the server hands in. */
void logd_record(struct logd *d, struct ld_rec *r); /* takes r's strings */
uint64_t logd_seq(const struct logd *d);	    /* records queued so far */
uint64_t logd_done(const struct logd *d);	    /* ... and written since */
/* A writer waits for what is queued: write it without flush_delay. */
void logd_flush_soon(struct logd *d);
struct loop *logd_loop(struct logd *d);
/* The status of the control protocol (util/ctl.h), with the figures. */
jv logd_status(struct logd *d);
int logd_run(const struct logd_opts *o, const char *config_path, int cli_debug);

#endif
