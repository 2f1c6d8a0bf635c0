/*
 * logq: loom-exec's queue of task output lines on their way to the
 * task_logs table (schema/005_task_logs.sql), for the database mode.
 *
 * The runner hands every stdout/stderr line of a shell or java task to
 * logq_line(); an HTTP backend's "logs" text comes with its result
 * (logq_result()).  Lines wait in memory and are written in batches by
 * logq_flush(), one INSERT per batch that also rings
 * pg_notify('loom_log', execution id) for each run in it.  The caller
 * flushes them with its own database work (before writing results, so a
 * run never ends before its lines are in), and the queue asks for that
 * work itself, through kick(), at most LOGQ_DELAY_MS after a line came,
 * so the lines of a long task flow while it runs.  When the database is
 * away lines are kept up to a cap; past it new lines are counted and
 * dropped, and the next flush says how many.
 */
#ifndef LOOM_EXEC_LOGQ_H
#define LOOM_EXEC_LOGQ_H

#include <stddef.h>

#include <jv.h>
#include <libpq-fe.h>

#include "core/buf.h"
#include "util/loop.h"

#define LOGQ_DELAY_MS 100     /* a queued line waits at most this long */
#define LOGQ_BATCH 1000	      /* lines per statement (and: flush now) */
#define LOGQ_MAX_LINES 100000 /* kept while the database is away */

struct logq;

/* kick(arg) asks the caller to run its database work (logq_flush). */
struct logq *logq_new(struct loop *loop, void (*kick)(void *), void *arg);
void logq_free(struct logq *q); /* NULL-safe; queued lines are lost */

/*
 * A runner output line {"execution","task","attempt","stream","msg"}
 * (consumed; "level" optional), stamped with the time now.  Streams
 * stdout, stderr, backend and loom are kept, any other is stdout; the
 * level is "level" when known, else warn for stderr and info otherwise.
 */
void logq_line(struct logq *q, jv line);
/*
 * The "logs" text of an HTTP task's result (borrowed; nothing for other
 * results: a process's lines came through logq_line already), one line
 * per line, stream "backend".
 */
void logq_result(struct logq *q, const char *execution_id, const char *task_id,
    int attempt, jv result);

size_t logq_len(const struct logq *q);

/*
 * Writes every queued line.  Returns 0, or -1 with *err (malloc'd) when
 * a statement failed: a broken connection keeps the lines for the next
 * time; a statement the server refused drops that batch (it would fail
 * again) and is reported the same way.
 */
int logq_flush(struct logq *q, PGconn *c, char **err);

/*
 * One batch as a statement for a pipeline (lib/store/db.h), so that it can go
 * in the same round trip and transaction as the results it belongs to:
 * logq_batch() fills b and st with the next batch and returns its number
 * of lines (0: nothing queued); logq_batch_end() frees b and, when the
 * batch was consumed (written, or refused for good), removes its lines.
 */
struct logq_batch {
	struct buf a[7];
	const char *p[7];
	size_t k;
};
struct db_stmt;
size_t logq_batch(struct logq *q, struct logq_batch *b, struct db_stmt *st);
void logq_batch_end(struct logq *q, struct logq_batch *b, int consumed);

#endif
