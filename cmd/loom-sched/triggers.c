/*
 * triggers: runs started by events rather than the clock.
 *
 * Every event becomes a row of trigger_queue first (schema 014): a NOTIFY
 * loom_trigger message (heard by the one scheduler holding the message
 * lock, so it is queued once), a file event (files.c), or a row anyone
 * inserted.  Every scheduler watching a directory sees its events, and
 * each queues them; a file event's row goes in only with a claim of the
 * event's identity in trigger_file_events, in the same statement, so one
 * event is one row however many schedulers see it (files.c says what the
 * identity is).  A row is due at not_before (now, or after the trigger's
 * delay or debounce); rows with the same debounce_key collapse into one
 * (the later event moves not_before and is counted).  triggers_consume()
 * deletes due rows FOR UPDATE SKIP LOCKED and starts their runs through
 * runstart() in the same transaction: a row is a run exactly once.
 *
 * A message is {"workflow": ID, "input": {...}}; anything else is logged,
 * counted and dropped, never fatal.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/workflow.h"
#include "core/xalloc.h"
#include "sched.h"
#include "store/db.h"
#include "store/runstart.h"
#include "util/log.h"
#include "util/loop.h"

#define CONSUME_BATCH 100
#define STR_(x) #x
#define STR(x) STR_(x)

/* cancelOther victims are asked to cancel after the commit. */
struct cancels {
	char **wf;
	size_t n;
};

/*
 * What a later event does to a queued row of the same debounce key: moves
 * it and counts itself.  A file event's input lists the events it
 * collapses (at most 100); a message's input is the last message's.
 */
#define ENQUEUE_MERGE \
	"ON CONFLICT (debounce_key) DO UPDATE SET " \
	"not_before = EXCLUDED.not_before, " \
	"events = trigger_queue.events + 1, " \
	"input = CASE WHEN trigger_queue.source = 'file' THEN " \
	"jsonb_set(EXCLUDED.input, '{file,events}', CASE WHEN " \
	"jsonb_array_length(trigger_queue.input->'file'->'events') < 100 " \
	"THEN (trigger_queue.input->'file'->'events') || " \
	"(EXCLUDED.input->'file'->'events') ELSE " \
	"trigger_queue.input->'file'->'events' END) ELSE EXCLUDED.input END"
#define ENQUEUE_VALUES \
	"$1, $2::jsonb, $3, now() + $4::bigint * interval '1 millisecond', $5"

int
triggers_enqueue(struct sched *s, const char *workflow, const char *input,
    const char *source, int64_t delay_ms, const char *debounce_key,
    int64_t debounce_ms, const char *event_key)
{
	char after[24];
	const char *p[6] = { workflow, input, source, after, debounce_key,
		event_key };
	char *err = NULL;
	PGresult *r;
	int rc;

	if (s->conn == NULL) { /* reconnecting: another scheduler may have it */
		log_warnx("database away: a %s event of %s was not queued",
		    source, workflow);
		return -1;
	}
	snprintf(after, sizeof(after), "%lld",
	    (long long)(debounce_key ? debounce_ms : delay_ms));
	if (event_key == NULL)
		r = db_exec(s->conn, &err,
		    "INSERT INTO trigger_queue (workflow, input, source, "
		    "not_before, debounce_key) VALUES (" ENQUEUE_VALUES
		    ") " ENQUEUE_MERGE,
		    5, p);
	else /* the first scheduler to claim the event queues it */
		r = db_exec(s->conn, &err,
		    "WITH claim AS (INSERT INTO trigger_file_events (key) "
		    "VALUES (md5($6)) ON CONFLICT DO NOTHING RETURNING key) "
		    "INSERT INTO trigger_queue (workflow, input, source, "
		    "not_before, debounce_key) SELECT " ENQUEUE_VALUES
		    " FROM claim " ENQUEUE_MERGE,
		    6, p);
	if (r == NULL) {
		sched_db_lost(s, err);
		free(err);
		return -1;
	}
	rc = atoi(PQcmdTuples(r)) > 0;
	PQclear(r);
	return rc;
}

/*
 * The claims of file events are needed only while every scheduler that
 * saw an event has queued it -- milliseconds, or as long as one is held
 * up; an hour's are kept, and older ones go at most once a minute.
 */
void
triggers_prune_file_events(struct sched *s, int64_t now_ms)
{
	char *err = NULL;

	if (s->conn == NULL || now_ms - s->file_pruned_ms < 60000)
		return;
	s->file_pruned_ms = now_ms;
	if (db_cmd(s->conn, &err,
		"DELETE FROM trigger_file_events WHERE seen_at < now() - "
		"interval '1 hour'",
		0, NULL) < 0) {
		sched_db_lost(s, err);
		free(err);
	}
}

/* The message trigger of w (its delay and debounce), or NULL. */
static const struct wf_trigger *
message_trigger(const struct swf *w)
{
	for (size_t i = 0; w && i < w->wf->ntriggers; i++)
		if (w->wf->triggers[i].kind == WF_TRIGGER_MESSAGE)
			return &w->wf->triggers[i];
	return NULL;
}

void
triggers_message(struct sched *s, const char *payload)
{
	jv m = jv_parse(payload), wfid, input;
	const struct wf_trigger *t;
	char *err = NULL, key[300];
	jv text;

	s->messages++;
	if (jv_get_kind(m) != JV_KIND_OBJECT)
		goto bad;
	wfid = jv_object_get(jv_copy(m), jv_string("workflow"));
	input = jv_object_get(jv_copy(m), jv_string("input"));
	if (jv_get_kind(wfid) != JV_KIND_STRING ||
	    jv_string_length_bytes(jv_copy(wfid)) > 128 ||
	    (jv_get_kind(input) != JV_KIND_OBJECT &&
		jv_get_kind(input) != JV_KIND_INVALID &&
		jv_get_kind(input) != JV_KIND_NULL)) {
		jv_free(wfid);
		jv_free(input);
		goto bad;
	}
	if (jv_get_kind(input) != JV_KIND_OBJECT) {
		jv_free(input);
		input = jv_object();
	}
	t = message_trigger(wfs_get(s, jv_string_value(wfid), &err));
	free(err);
	snprintf(key, sizeof(key), "message:%s", jv_string_value(wfid));
	text = jv_dump_string(input, 0);
	triggers_enqueue(s, jv_string_value(wfid), jv_string_value(text),
	    "message", t ? t->delay_ms : 0,
	    t && t->debounce_ms > 0 ? key : NULL, t ? t->debounce_ms : 0, NULL);
	jv_free(text);
	jv_free(wfid);
	jv_free(m);
	return;
bad:
	s->bad_messages++;
	log_warnx("loom_trigger: malformed message (%lu so far), dropped: "
		  "expected {\"workflow\": ID, \"input\": {...}}: %.200s",
	    s->bad_messages, payload);
	jv_free(m);
}

/* One due row (the transaction is open): 0, or -1 (database). */
static int
start_row(struct sched *s, PGresult *r, int i, struct cancels *c, char **err)
{
	const char *wfid = PQgetvalue(r, i, 1), *source = PQgetvalue(r, i, 3);
	char *params = NULL, *why = NULL;
	struct run_started st;
	struct swf *w;
	int rc;

	if ((w = wfs_get(s, wfid, err)) == NULL) {
		if (*err != NULL)
			return -1;
		log_warnx(
		    "%s trigger: no workflow '%s'; dropped", source, wfid);
		return 0;
	}
	if (wfs_params(w, jv_parse(PQgetvalue(r, i, 2)), &params, &why) < 0) {
		log_warnx("%s trigger of %s: input refused, dropped: %s",
		    source, wfid, why);
		free(why);
		return 0;
	}
	{
		struct run_start rs = { wfid, w->version, params, source, -1,
			NULL, 0, 1, 0 };

		rc = runstart(s->conn, &rs, &st, err);
	}
	free(params);
	if (rc < 0)
		return -1;
	s->trigger_runs += st.outcome <= RUNSTART_QUEUED;
	log_info("%s trigger of %s (%s event%s): %s%s%s", source, wfid,
	    PQgetvalue(r, i, 4), strcmp(PQgetvalue(r, i, 4), "1") ? "s" : "",
	    runstart_outcome_name(st.outcome),
	    st.outcome <= RUNSTART_QUEUED ? " " : "",
	    st.outcome <= RUNSTART_QUEUED ? st.id : "");
	if (st.cancelled[0] == '?') {
		c->wf = xreallocarray(c->wf, c->n + 1, sizeof(char *));
		c->wf[c->n++] = xstrdup(wfid);
	}
	return 0;
}

/* One batch; the rows it took, or -1. */
static void
cancels_run(struct sched *s, struct cancels *c, int commit)
{
	for (size_t i = 0; i < c->n; i++) {
		struct run_start rs = { c->wf[i], 0, NULL, "message", -1, NULL,
			0, 1, 0 };
		struct run_started st;
		char *err = NULL;

		if (commit &&
		    runstart_cancel_other(s->conn, &rs, &st, &err) < 0) {
			log_warnx(
			    "workflow %s: cancelOther: %s", c->wf[i], err);
			free(err);
		}
		free(c->wf[i]);
	}
	free(c->wf);
}

static int
consume_batch(struct sched *s)
{
	struct cancels c = { NULL, 0 };
	char *err = NULL;
	PGresult *r;
	int n;

	if (db_cmd(s->conn, &err, "BEGIN", 0, NULL) < 0)
		goto fail;
	r = db_exec(s->conn, &err,
	    "DELETE FROM trigger_queue WHERE id IN (SELECT id FROM "
	    "trigger_queue WHERE not_before <= now() ORDER BY id FOR UPDATE "
	    "SKIP LOCKED LIMIT " STR(
		CONSUME_BATCH) ") RETURNING id, "
			       "workflow, CASE WHEN source = 'file' THEN "
			       "jsonb_set(input, "
			       "'{file,count}', to_jsonb(events)) ELSE input "
			       "END::text, source, "
			       "events",
	    0, NULL);
	if (r == NULL)
		goto fail_rb;
	n = PQntuples(r);
	for (int i = 0; i < n; i++)
		if (start_row(s, r, i, &c, &err) < 0) {
			PQclear(r);
			goto fail_rb;
		}
	PQclear(r);
	if (db_cmd(s->conn, &err, "COMMIT", 0, NULL) < 0)
		goto fail;
	cancels_run(s, &c, 1);
	return n;
fail_rb:
	PQclear(PQexec(s->conn, "ROLLBACK"));
fail:
	cancels_run(s, &c, 0);
	sched_db_lost(s, err);
	free(err);
	return -1;
}

int
triggers_consume(struct sched *s)
{
	int n;

	if (s->conn == NULL)
		return -1;
	while ((n = consume_batch(s)) == CONSUME_BATCH)
		;
	if (n < 0)
		return -1;
	triggers_arm_queue(s);
	return 0;
}

/* The queue timer: the earliest not_before still ahead. */
void
triggers_arm_queue(struct sched *s)
{
	char *err = NULL;
	PGresult *r;

	if (s->conn == NULL)
		return;
	r = db_exec(s->conn, &err,
	    "SELECT ceil(extract(epoch FROM min(not_before) - now()) * "
	    "1000)::bigint FROM trigger_queue",
	    0, NULL);
	if (r == NULL) {
		sched_db_lost(s, err);
		free(err);
		return;
	}
	if (PQgetisnull(r, 0, 0))
		loop_timer_stop(s->queue_t);
	else {
		long long ms = strtoll(PQgetvalue(r, 0, 0), NULL, 10);

		loop_timer_after(s->queue_t, ms > 0 ? ms : 0);
	}
	PQclear(r);
}
