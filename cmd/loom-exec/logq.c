/*
 * logq: see logq.h.  The queue is a growing array of lines with a read
 * index; a flush builds one PostgreSQL array per column for up to
 * LOGQ_BATCH lines (or about LOGQ_BATCH_BYTES of text) and inserts them
 * through unnest() WITH ORDINALITY, so ids follow the order the lines
 * were read.  Lines of a run that no longer exists are skipped by the
 * statement rather than failing the batch.
 */
#include "logq.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "store/db.h"
#include "util/log.h"
#include "core/xalloc.h"

#define LOGQ_BATCH_BYTES (4u * 1024 * 1024)

struct logline {
	char *execution_id;
	char *task_id;
	int attempt;
	const char *stream; /* static */
	const char *level;  /* static */
	char *line;
	int64_t ts_ms; /* wall clock */
};

struct logq {
	struct loop_timer *timer;
	void (*kick)(void *);
	void *arg;
	struct logline *v;
	size_t head, n, cap; /* lines v[head .. head + n) */
	uint64_t dropped;    /* since the last report */
};

static const char insert_sql[] =
    "WITH v AS (SELECT * FROM unnest($1::text[], $2::text[], $3::int[], "
    "$4::text[], $5::text[], $6::bigint[], $7::text[]) WITH ORDINALITY "
    "AS v(eid, tid, att, st, line, ms, lvl, n)), "
    "i AS (INSERT INTO task_logs (execution_id, task_id, attempt, stream, "
    "line, ts, level) SELECT eid, tid, att, st, line, "
    "to_timestamp(ms / 1000.0), lvl "
    "FROM v WHERE EXISTS (SELECT 1 FROM executions x WHERE x.id = v.eid) "
    "ORDER BY n RETURNING execution_id) "
    "SELECT pg_notify('loom_log', execution_id) "
    "FROM (SELECT DISTINCT execution_id FROM i) d";

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
on_timer(struct loop_timer *t, void *arg)
{
	struct logq *q = arg;

	if (q->n > 0)
		q->kick(q->arg);
}

struct logq *
logq_new(struct loop *loop, void (*kick)(void *), void *arg)
{
	struct logq *q = xcalloc(1, sizeof(*q));

	q->kick = kick;
	q->arg = arg;
	if ((q->timer = loop_timer_new(loop, on_timer, q)) == NULL) {
		free(q);
		return NULL;
	}
	return q;
}

static void
line_free(struct logline *l)
{
	free(l->execution_id);
	free(l->task_id);
	free(l->line);
}

void
logq_free(struct logq *q)
{
	if (q == NULL)
		return;
	for (size_t i = 0; i < q->n; i++)
		line_free(&q->v[q->head + i]);
	free(q->v);
	loop_timer_del(q->timer);
	free(q);
}

size_t
logq_len(const struct logq *q)
{
	return q ? q->n : 0;
}

/* Takes the strings (malloc'd) or frees them when the queue is full. */
static void
push(struct logq *q, char *eid, char *tid, int attempt, const char *stream,
    const char *level, char *line)
{
	struct logline *l;

	if (q->n >= LOGQ_MAX_LINES) {
		q->dropped++;
		free(eid);
		free(tid);
		free(line);
		return;
	}
	if (q->head + q->n == q->cap) {
		if (q->head > 0) { /* slide down before growing */
			memmove(q->v, q->v + q->head, q->n * sizeof(*q->v));
			q->head = 0;
		}
		if (q->n == q->cap) {
			q->cap = q->cap ? q->cap * 2 : 64;
			q->v = xreallocarray(q->v, q->cap, sizeof(*q->v));
		}
	}
	l = &q->v[q->head + q->n++];
	l->execution_id = eid;
	l->task_id = tid;
	l->attempt = attempt;
	l->stream = stream;
	l->level = level;
	l->line = line;
	l->ts_ms = wall_ms();
	if (q->n >= LOGQ_BATCH)
		q->kick(q->arg);
	else if (!loop_timer_armed(q->timer))
		(void)loop_timer_after(q->timer, LOGQ_DELAY_MS);
}

static const char *
str_of(jv o, const char *key, jv *keep)
{
	*keep = jv_object_get(jv_copy(o), jv_string(key));
	return jv_get_kind(*keep) == JV_KIND_STRING ? jv_string_value(*keep) :
						      NULL;
}

/* The static names of the streams and levels task_logs holds. */
static const char *
known(const char *s, const char *const *names, const char *def)
{
	for (; s != NULL && *names != NULL; names++)
		if (strcmp(s, *names) == 0)
			return *names;
	return def;
}

void
logq_line(struct logq *q, jv line)
{
	static const char *const streams[] = { "stdout", "stderr", "backend",
		"loom", NULL };
	static const char *const levels[] = { "debug", "info", "warn", "error",
		NULL };
	jv e, t, s, m, a, lv;
	const char *eid, *tid, *st, *msg, *level;

	if (q == NULL) {
		jv_free(line);
		return;
	}
	eid = str_of(line, "execution", &e);
	tid = str_of(line, "task", &t);
	st = str_of(line, "stream", &s);
	msg = str_of(line, "msg", &m);
	level = str_of(line, "level", &lv);
	a = jv_object_get(jv_copy(line), jv_string("attempt"));
	st = known(st, streams, "stdout");
	if (eid && tid && msg && jv_get_kind(a) == JV_KIND_NUMBER)
		push(q, xstrdup(eid), xstrdup(tid), (int)jv_number_value(a), st,
		    known(level, levels,
			strcmp(st, "stderr") == 0 ? "warn" : "info"),
		    xstrdup(msg));
	jv_free(lv);
	jv_free(e);
	jv_free(t);
	jv_free(s);
	jv_free(m);
	jv_free(a);
	jv_free(line);
}

void
logq_result(struct logq *q, const char *execution_id, const char *task_id,
    int attempt, jv result)
{
	jv logs, hs;
	const char *p;

	if (q == NULL)
		return;
	/* Only an answer from a backend has an HTTP status. */
	hs = jv_object_get(jv_copy(result), jv_string("httpStatus"));
	logs = jv_object_get(jv_copy(result), jv_string("logs"));
	if (jv_get_kind(hs) == JV_KIND_NUMBER &&
	    jv_get_kind(logs) == JV_KIND_STRING) {
		p = jv_string_value(logs);
		while (*p) {
			size_t n = strcspn(p, "\n");
			size_t k = n > 0 && p[n - 1] == '\r' ? n - 1 : n;

			push(q, xstrdup(execution_id), xstrdup(task_id),
			    attempt, "backend", "info", xstrndup(p, k));
			p += n;
			if (*p == '\n')
				p++;
		}
	}
	jv_free(hs);
	jv_free(logs);
}

size_t
logq_batch(struct logq *q, struct logq_batch *b, struct db_stmt *st)
{
	size_t k, bytes = 0;

	loop_timer_stop(q->timer);
	if (q->dropped > 0) {
		log_warnx("%llu task output line%s dropped: the database did "
			  "not keep up",
		    (unsigned long long)q->dropped, q->dropped == 1 ? "" : "s");
		q->dropped = 0;
	}
	for (int i = 0; i < 7; i++) {
		b->a[i] = (struct buf)BUF_INIT;
		buf_putc(&b->a[i], '{');
	}
	for (k = 0; k < q->n && k < LOGQ_BATCH && bytes < LOGQ_BATCH_BYTES;
	     k++) {
		struct logline *l = &q->v[q->head + k];
		char num[2][24];

		snprintf(num[0], sizeof(num[0]), "%d", l->attempt);
		snprintf(num[1], sizeof(num[1]), "%lld", (long long)l->ts_ms);
		buf_pgarray_elem(&b->a[0], l->execution_id);
		buf_pgarray_elem(&b->a[1], l->task_id);
		buf_pgarray_elem(&b->a[2], num[0]);
		buf_pgarray_elem(&b->a[3], l->stream);
		buf_pgarray_elem(&b->a[4], l->line);
		buf_pgarray_elem(&b->a[5], num[1]);
		buf_pgarray_elem(&b->a[6], l->level);
		bytes += strlen(l->line);
	}
	for (int i = 0; i < 7; i++) {
		buf_putc(&b->a[i], '}');
		b->p[i] = b->a[i].p;
	}
	b->k = k;
	st->sql = insert_sql;
	st->nparams = 7;
	st->params = b->p;
	return k;
}

void
logq_batch_end(struct logq *q, struct logq_batch *b, int consumed)
{
	for (int i = 0; i < 7; i++)
		buf_free(&b->a[i]);
	if (!consumed)
		return;
	for (size_t i = 0; i < b->k; i++)
		line_free(&q->v[q->head + i]);
	q->head += b->k;
	q->n -= b->k;
	if (q->n == 0)
		q->head = 0;
	b->k = 0;
}

int
logq_flush(struct logq *q, PGconn *c, char **err)
{
	while (q->n > 0) {
		struct logq_batch b;
		struct db_stmt st;
		int rc;

		logq_batch(q, &b, &st);
		rc = db_cmd(c, err, st.sql, st.nparams, st.params);
		if (rc < 0 && PQstatus(c) != CONNECTION_OK) {
			logq_batch_end(q, &b, 0);
			return -1; /* kept for the next connection */
		}
		logq_batch_end(q, &b, 1);
		if (rc < 0)
			return -1; /* refused: that batch is gone */
	}
	return 0;
}
