/*
 * test_transition: the state-changing statements of lib/store/transition.c
 * against lib/core/state.c's transition tables.
 *
 * The pure part checks the table itself: every (from, to) a row lists is
 * a transition state.c allows (for a HOLD row: the claim it undoes is),
 * a CREATE row makes PENDING rows only, a CORE row lists exactly what
 * state.c allows.
 *
 * The database part runs every statement against rows seeded in every
 * state (and, for the task statements, in four lease variants: ours and
 * expired, awaiting a callback past its deadline, ours and held, another
 * executor's), reads the rows again, and checks that every move it made
 * is listed in the statement's row and allowed by state.c, that every
 * event it wrote is a transition state.c allows, and that it made some
 * move at all where its row says it can (so a seed that no longer
 * matches cannot make the test pass by doing nothing).  It needs
 * LOOM_DATABASE_URL naming a migrated database that nothing else uses
 * (the claim takes every due row); tests/transition-db.bats makes one.
 * Without the variable that part prints one "ok # skip" line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "core/state.h"
#include "store/db.h"
#include "store/transition.h"
#include "t.h"

static PGconn *c;
static char wid[64];

/* ---- the table alone ---------------------------------------------------- */

static int
allowed(enum transition_machine m, int from, int to)
{
	if (m == TRANSITION_TASK)
		return task_transition_allowed(
		    (enum task_state)from, (enum task_state)to);
	return run_transition_allowed((enum run_state)from, (enum run_state)to);
}

static const char *
state_name(enum transition_machine m, int s)
{
	return m == TRANSITION_TASK ? task_state_name((enum task_state)s) :
				      run_state_name((enum run_state)s);
}

static void
test_table(void)
{
	for (int id = 0; id < TR__COUNT; id++) {
		const struct transition *t = &transitions[id];
		int n =
		    t->machine == TRANSITION_TASK ? TASK__COUNT : RUN__COUNT;
		int bad = 0, pairs = 0;

		ok(t->name && t->sql && t->nparams > 0,
		    "%s: a name, its SQL and its parameters", t->name);
		for (int j = 0; j < id; j++)
			if (strcmp(transitions[j].name, t->name) == 0)
				bad = 1;
		ok(!bad, "%s: the name is unique", t->name);
		bad = 0;
		if (t->flags & TRANSITION_CREATE) {
			ok(t->from == 0 && t->to == 1u << 0,
			    "%s: creates rows in PENDING only", t->name);
			continue;
		}
		ok(t->from != 0, "%s: moves rows of some state", t->name);
		for (int f = 0; f < n; f++)
			for (int to = 0; to < n; to++) {
				int listed = transition_lists(id, f, to);
				int ok_pair = (t->flags & TRANSITION_HOLD) ?
				    allowed(t->machine, to, f) :
				    allowed(t->machine, f, to);

				if (!listed || f == to)
					continue;
				pairs++;
				if (!ok_pair) {
					printf("# %s lists %s -> %s\n", t->name,
					    state_name(t->machine, f),
					    state_name(t->machine, to));
					bad = 1;
				}
			}
		if (t->flags & TRANSITION_CORE)
			for (int f = 0; f < n; f++)
				for (int to = 0; to < n; to++)
					if (allowed(t->machine, f, to) !=
					    transition_lists(id, f, to))
						bad = 1;
		ok(!bad, "%s: lists %d transitions, each one state.c %s",
		    t->name, pairs,
		    (t->flags & TRANSITION_HOLD) ?
			"allows backwards (a hold undoes a claim)" :
			"allows");
		if (t->to == 0)
			ok(pairs == 0, "%s: moves no state", t->name);
	}
}

/* ---- the database: helpers ---------------------------------------------- */

static PGresult *
qr(const char *sql, int n, const char *const *p)
{
	char *err = NULL;
	PGresult *r = db_exec(c, &err, sql, n, p);

	if (r == NULL) {
		printf("# %.60s...: %s\n", sql, err);
		free(err);
	}
	return r;
}

/* Runs sql; the first value, or "" (static). */
static const char *
q(const char *sql, int n, const char *const *p)
{
	static char buf[4096];
	PGresult *r = qr(sql, n, p);

	buf[0] = '\0';
	if (r && PQntuples(r) > 0 && PQnfields(r) > 0)
		snprintf(buf, sizeof(buf), "%s", PQgetvalue(r, 0, 0));
	PQclear(r);
	return buf;
}

static const char *
q1(const char *sql, const char *p1)
{
	return q(sql, p1 ? 1 : 0, &p1);
}

/* The four lease variants of a seeded task row (see seed_tasks()). */
#define NVAR 4
#define NROWS (TASK__COUNT * NVAR)

/*
 * A run eid with one row per task state and variant, task id
 * "<state>-<variant>": a, ours and expired, its report unsettled; b,
 * awaiting a callback past its deadline; c, ours until later, held for
 * a target; d, another executor's until later.  All are due, attempt 1.
 */
static void
seed_tasks(const char *eid)
{
	const char *p[2] = { eid, wid };

	q("INSERT INTO executions (id, workflow_id, workflow_version, "
	  "status) VALUES ($1, $2, 1, 'RUNNING')",
	    2, p);
	q("INSERT INTO run_tasks (execution_id, task_id, state, attempt, "
	  "ready_at, lease_owner, lease_until, awaiting_callback, "
	  "held_target, settled, started_at, callback_token, request) "
	  "SELECT $1::text, lower(s) || '-' || v, s, 1, "
	  "now() - interval '1 s', "
	  "CASE v WHEN 'a' THEN 'me' WHEN 'c' THEN 'me' "
	  "WHEN 'd' THEN 'them' END, "
	  "CASE WHEN v IN ('a', 'b') THEN now() - interval '1 s' "
	  "ELSE now() + interval '1 h' END, v = 'b', "
	  "CASE v WHEN 'c' THEN 'http://h:1' END, v <> 'a', "
	  "now() - interval '2 s', "
	  "$1::text || '~' || lower(s) || '-' || v || '~t', "
	  "'{}' FROM unnest(ARRAY['PENDING', 'READY', 'RUNNING', 'SUCCESS', "
	  "'FAILED', 'RETRY', 'DEAD', 'SKIPPED', 'CANCELLED']) AS s, "
	  "unnest(ARRAY['a', 'b', 'c', 'd']) AS v",
	    1, p);
}

static void
drop_run(const char *eid)
{
	q1("DELETE FROM executions WHERE id = $1", eid);
}

/* The states of eid's rows, by task id; n gets their count. */
static void
snapshot(const char *eid, char ids[][32], int *states, int *n)
{
	PGresult *r = qr("SELECT task_id, state FROM run_tasks "
			 "WHERE execution_id = $1 ORDER BY task_id",
	    1, &eid);
	enum task_state s;

	*n = 0;
	for (int i = 0; r && i < PQntuples(r) && i < NROWS; i++) {
		snprintf(ids[i], 32, "%s", PQgetvalue(r, i, 0));
		states[i] = task_state_parse(PQgetvalue(r, i, 1), &s) == 0 ?
		    (int)s :
		    -1;
		(*n)++;
	}
	PQclear(r);
}

/*
 * Checks every move between two snapshots against id's row and state.c;
 * returns the count of rows moved.
 */
static int
check_moves(enum transition_id id, char ids[][32], const int *before,
    const int *after, int n)
{
	const struct transition *t = &transitions[id];
	int moved = 0;

	for (int i = 0; i < n; i++) {
		int f = before[i], to = after[i];
		int legal;

		if (f == to)
			continue;
		moved++;
		legal = (t->flags & TRANSITION_HOLD) ?
		    allowed(t->machine, to, f) :
		    allowed(t->machine, f, to);
		ok(transition_lists(id, f, to) && legal,
		    "%s: %s %s -> %s is listed and state.c allows it", t->name,
		    ids[i], state_name(t->machine, f),
		    state_name(t->machine, to));
	}
	return moved;
}

/* Every task event of eid is a transition state.c allows. */
static void
check_events(enum transition_id id, const char *eid)
{
	PGresult *r =
	    qr("SELECT task_id, from_state, to_state FROM events "
	       "WHERE execution_id = $1 AND kind = 'task' ORDER BY id",
		1, &eid);
	enum task_state f, to;
	int bad = 0, n = r ? PQntuples(r) : 0;

	for (int i = 0; i < n; i++)
		if (task_state_parse(PQgetvalue(r, i, 1), &f) < 0 ||
		    task_state_parse(PQgetvalue(r, i, 2), &to) < 0 ||
		    !task_transition_allowed(f, to)) {
			printf("# event of %s: %s -> %s\n", PQgetvalue(r, i, 0),
			    PQgetvalue(r, i, 1), PQgetvalue(r, i, 2));
			bad = 1;
		}
	ok(r && !bad, "%s: its %d events are transitions state.c allows",
	    transitions[id].name, n);
	PQclear(r);
}

/* Columns of one row of sql (on eid) as parameters: out[i] (static). */
static int
params_of(const char *sql, const char *eid, char out[][2048], int n)
{
	PGresult *r = qr(sql, 1, &eid);
	int got = r && PQntuples(r) == 1 && PQnfields(r) == n;

	for (int i = 0; got && i < n; i++)
		snprintf(out[i], 2048, "%s", PQgetvalue(r, 0, i));
	PQclear(r);
	return got ? 0 : -1;
}

#define KEYS \
	"array_agg(execution_id)::text, array_agg(task_id)::text, " \
	"array_agg(attempt)::text"

/* task_callback for every row, by its own token; SUCCESS, FAILED by turns. */
static int
run_callbacks(const char *eid)
{
	PGresult *k = qr("SELECT task_id, callback_token FROM "
			 "run_tasks WHERE execution_id = $1",
		     1, &eid),
		 *r;
	int rows = 0;

	for (int i = 0; k && i < PQntuples(k); i++) {
		const char *cp[9] = { PQgetvalue(k, i, 1),
			i % 2 ? "FAILED" : "SUCCESS", NULL, NULL, NULL, NULL,
			NULL, eid, PQgetvalue(k, i, 0) };

		r = qr(transition_sql(TR_TASK_CALLBACK), 9, cp);
		rows += r ? PQntuples(r) : 0;
		PQclear(r);
	}
	PQclear(k);
	return rows;
}

/* Runs task statement id with its parameters for eid; rows answered. */
static int
run_task_stmt(enum transition_id id, const char *eid)
{
	char a[13][2048];
	const char *p[14];
	PGresult *r;
	int rows = -1;

	switch (id) {
	case TR_TASK_CLAIM:
		p[0] = "1000", p[1] = "me", p[2] = "60000";
		break;
	case TR_TASK_RENEW:
		if (params_of("SELECT " KEYS " FROM run_tasks "
			      "WHERE execution_id = $1",
			eid, a, 3) < 0)
			return -1;
		p[0] = "me", p[1] = "60000", p[2] = a[0], p[3] = a[1],
		p[4] = a[2];
		break;
	case TR_TASK_REPORT:
		/* a SUCCESS, c FAILED, the others ACCEPTED. */
		if (params_of("SELECT " KEYS ", array_agg(CASE WHEN task_id "
			      "LIKE '%-a' THEN 'SUCCESS' WHEN task_id LIKE "
			      "'%-c' THEN "
			      "'FAILED' ELSE 'ACCEPTED' END)::text, "
			      "array_agg('{}'::text)::text, "
			      "array_agg(NULL::text)::text, "
			      "array_agg(NULL::text)::text, "
			      "array_agg(NULL::text)::text, "
			      "array_agg(NULL::int)::text, "
			      "array_agg(NULL::int)::text, "
			      "array_agg(5)::text, array_agg(60000)::text FROM "
			      "run_tasks "
			      "WHERE execution_id = $1",
			eid, a, 12) < 0)
			return -1;
		p[0] = "me";
		for (int i = 0; i < 12; i++)
			p[1 + i] = a[i];
		p[13] = "false";
		break;
	case TR_TASK_RELEASE:
	case TR_TASK_FAIL_OVERDUE:
		p[0] = "me";
		break;
	case TR_TASK_HOLD:
		if (params_of("SELECT " KEYS ", "
			      "array_agg('http://h:1'::text)::text, "
			      "array_agg(0)::text "
			      "FROM run_tasks WHERE execution_id = $1",
			eid, a, 5) < 0)
			return -1;
		p[0] = "me";
		for (int i = 0; i < 5; i++)
			p[1 + i] = a[i];
		break;
	case TR_TASK_UNHOLD:
		p[0] = NULL, p[1] = "0";
		break;
	case TR_TASK_SETTLE:
		p[0] = eid;
		break;
	case TR_TASK_RESET_CLEAR:
		if (params_of("SELECT array_agg(task_id)::text FROM run_tasks "
			      "WHERE execution_id = $1",
			eid, a, 1) < 0)
			return -1;
		p[0] = eid, p[1] = a[0];
		break;
	case TR_TASK_CALLBACK:
		return run_callbacks(eid);
	default:
		return -1;
	}
	r = qr(transition_sql(id), transitions[id].nparams, p);
	if (r != NULL) {
		rows = PQntuples(r);
		/* Statements that answer with a count: the count. */
		if (rows == 1 &&
		    (id == TR_TASK_RELEASE || id == TR_TASK_UNHOLD ||
			id == TR_TASK_HOLD))
			rows = atoi(PQgetvalue(r, 0, 0));
		/* An attempt a row, then the count row: the count. */
		if (rows >= 1 && id == TR_TASK_FAIL_OVERDUE)
			rows = atoi(PQgetvalue(r, rows - 1, 6));
		if (PQresultStatus(r) == PGRES_COMMAND_OK)
			rows = atoi(PQcmdTuples(r));
	}
	PQclear(r);
	return rows;
}

/* ---- the database: task statements -------------------------------------- */

static void
test_task_stmt(enum transition_id id)
{
	const struct transition *t = &transitions[id];
	char eid[64], ids[NROWS][32], ids2[NROWS][32];
	int before[NROWS], after[NROWS], n, n2, rows, moved;

	snprintf(eid, sizeof(eid), "exec-tr-%s-%ld", t->name, (long)getpid());
	seed_tasks(eid);
	snapshot(eid, ids, before, &n);
	rows = run_task_stmt(id, eid);
	snapshot(eid, ids2, after, &n2);
	ok(n == NROWS && n2 == n && rows > 0,
	    "%s: ran on %d seeded rows and touched %d", t->name, n, rows);
	moved = check_moves(id, ids, before, after, n);
	if (t->to != 0)
		ok(moved > 0, "%s: moved %d rows", t->name, moved);
	else
		is_int(moved, 0, "%s: moved no state", t->name);
	check_events(id, eid);
	drop_run(eid);
}

/*
 * task_engine_write writes what the core decided: for every seeded
 * state, each transition state.c allows from it, one row at a time.
 */
static void
test_task_engine_write(void)
{
	const enum transition_id id = TR_TASK_ENGINE_WRITE;
	char eid[64], ids[NROWS][32], ids2[NROWS][32], tid[32];
	int before[NROWS], after[NROWS], n, n2, moved = 0, want = 0;

	snprintf(eid, sizeof(eid), "exec-tr-engine-%ld", (long)getpid());
	seed_tasks(eid);
	for (int f = 0; f < TASK__COUNT; f++)
		for (int to = 0; to < TASK__COUNT; to++) {
			const char *p[10];
			char idarr[64], starr[32], xarr[80];

			if (!task_transition_allowed(
				(enum task_state)f, (enum task_state)to))
				continue;
			want++;
			snprintf(tid, sizeof(tid), "%s-a",
			    task_state_name((enum task_state)f));
			for (char *s = tid; *s; s++)
				if (*s >= 'A' && *s <= 'Z')
					*s = (char)(*s + 32);
			p[0] = eid;
			p[1] = tid;
			q("UPDATE run_tasks SET state = upper(split_part($2, "
			  "'-', 1)) WHERE execution_id = $1 AND task_id = $2",
			    2, p);
			snapshot(eid, ids, before, &n);
			snprintf(idarr, sizeof(idarr), "{%s}", tid);
			snprintf(starr, sizeof(starr), "{%s}",
			    task_state_name((enum task_state)to));
			snprintf(xarr, sizeof(xarr), "{%s}", eid);
			p[0] = xarr, p[1] = idarr, p[2] = starr, p[3] = "{1}";
			p[4] = p[5] = p[6] = p[7] = p[8] = "{NULL}";
			p[9] = "{0}";
			PQclear(qr(transition_sql(id), 10, p));
			snapshot(eid, ids2, after, &n2);
			moved += check_moves(id, ids, before, after, n);
		}
	is_int(moved, want,
	    "%s: wrote each of the %d transitions state.c "
	    "allows, and nothing else",
	    transitions[id].name, want);
	drop_run(eid);
}

/* ---- the database: run statements --------------------------------------- */

/* One run per state, "<prefix>-<state>" (lower case). */
static void
seed_runs(const char *prefix)
{
	const char *p[2] = { prefix, wid };

	q("INSERT INTO executions (id, workflow_id, workflow_version, status) "
	  "SELECT $1::text || '-' || lower(s), $2::text, 1, s "
	  "FROM unnest(ARRAY["
	  "'PENDING', 'RUNNING', 'SUCCESS', 'FAILED', 'CANCELLED']) AS s",
	    2, p);
}

static void
drop_runs(const char *prefix)
{
	q1("DELETE FROM executions WHERE id LIKE $1::text || '-%'", prefix);
}

/*
 * run_cancel and run_cancel_workflow ask: they set cancel_requested on
 * runs of their from-states and move no status; what they ask for must
 * be allowed from each of them.
 */
static void
test_run_request(enum transition_id id, const char *prefix)
{
	const struct transition *t = &transitions[id];
	PGresult *r;
	int bad = 0, asked = 0;

	seed_runs(prefix);
	if (id == TR_RUN_CANCEL) {
		PGresult *ids = qr("SELECT id FROM executions "
				   "WHERE id LIKE $1::text || '-%'",
		    1, &prefix);

		for (int i = 0; ids && i < PQntuples(ids); i++) {
			const char *p = PQgetvalue(ids, i, 0);

			PQclear(qr(t->sql, 1, &p));
		}
		PQclear(ids);
	} else {
		const char *p = wid;

		PQclear(qr(t->sql, 1, &p));
	}
	r = qr("SELECT id, status, cancel_requested FROM executions "
	       "WHERE id LIKE $1::text || '-%' ORDER BY id",
	    1, &prefix);
	for (int i = 0; r && i < PQntuples(r); i++) {
		enum run_state s;
		const char *id_s = PQgetvalue(r, i, 0);
		int req = PQgetvalue(r, i, 2)[0] == 't';

		if (run_state_parse(PQgetvalue(r, i, 1), &s) < 0)
			bad = 1;
		else if (strcasecmp(
			     strrchr(id_s, '-') + 1, run_state_name(s)) != 0) {
			printf("# %s moved to %s\n", id_s, run_state_name(s));
			bad = 1; /* a request moves no status */
		} else if (req) {
			asked++;
			for (int to = 0; to < RUN__COUNT; to++)
				if ((t->to >> to & 1) &&
				    !(transition_lists(id, (int)s, to) &&
					run_transition_allowed(
					    s, (enum run_state)to))) {
					printf("# %s asked from %s\n", id_s,
					    run_state_name(s));
					bad = 1;
				}
		}
	}
	ok(r && PQntuples(r) == RUN__COUNT && !bad && asked > 0,
	    "%s: asked for %d runs, each from a listed state that state.c "
	    "lets go where it asks; moved no status",
	    t->name, asked);
	PQclear(r);
	drop_runs(prefix);
}

/*
 * run_create with $9 (loom-api's trigger): a version that is not the
 * current one makes nothing and names the current one; the current one
 * makes the run.  p is run_create's parameters (restored).
 */
static void
test_run_create_current(const char **p, const char *prefix)
{
	char id[96];
	const char *keep0 = p[0], *keep2 = p[2];
	PGresult *r;

	snprintf(id, sizeof(id), "%s-newc", prefix);
	p[0] = id, p[2] = "2", p[8] = "2";
	r = qr(transition_sql(TR_RUN_CREATE), 9, p);
	ok(r && PQgetisnull(r, 0, 0) && strcmp(PQgetvalue(r, 0, 4), "1") == 0,
	    "run_create of version 2 when 1 is current: no run, names 1");
	PQclear(r);
	is_str(q1("SELECT count(*) FROM executions WHERE id = $1", id), "0",
	    "  and no row was made");
	p[2] = "1", p[8] = "1";
	r = qr(transition_sql(TR_RUN_CREATE), 9, p);
	ok(r && !PQgetisnull(r, 0, 0) && strcmp(PQgetvalue(r, 0, 0), id) == 0,
	    "run_create of the current version 1 makes the run");
	PQclear(r);
	p[0] = keep0, p[2] = keep2, p[8] = NULL;
}

/* run_create and run_create_again: a new run, PENDING. */
static void
test_run_create(void)
{
	char prefix[64], id1[96], id2[96], old[96];
	const char *p[9];

	snprintf(prefix, sizeof(prefix), "exec-tr-create-%ld", (long)getpid());
	seed_runs(prefix);
	snprintf(id1, sizeof(id1), "%s-new1", prefix);
	snprintf(id2, sizeof(id2), "%s-new2", prefix);
	snprintf(old, sizeof(old), "%s-failed", prefix);
	p[0] = id1, p[1] = wid, p[2] = "1", p[3] = "{}";
	p[4] = "manual", p[5] = NULL, p[6] = "false", p[7] = NULL;
	p[8] = NULL;
	PQclear(qr(transition_sql(TR_RUN_CREATE), 9, p));
	p[0] = id2, p[4] = "retry", p[7] = old;
	PQclear(qr(transition_sql(TR_RUN_CREATE), 9, p));
	test_run_create_current(p, prefix);
	p[4] = "manual", p[7] = NULL;
	p[0] = id2, p[1] = wid, p[6] = "true";
	snprintf(id2, sizeof(id2), "%s-new3", prefix);
	PQclear(qr(transition_sql(TR_RUN_CREATE_LIMITED), 8, p));
	is_str(
	    q1("SELECT status || ' ' || queued FROM executions WHERE id = $1",
		id2),
	    "PENDING true", "run_create_limited: a new run, PENDING, queued");
	PQclear(qr(transition_sql(TR_RUN_ADMIT), 1, (const char *[]){ wid }));
	is_str(
	    q1("SELECT status || ' ' || queued FROM executions WHERE id = $1",
		id2),
	    "PENDING false", "run_admit: admitted (no limit), still PENDING");
	snprintf(id2, sizeof(id2), "%s-new2", prefix);
	is_str(q1("SELECT status FROM executions WHERE id = $1", id1),
	    "PENDING", "run_create: a new run, PENDING");
	is_str(q1("SELECT status FROM executions WHERE id = $1", id2),
	    "PENDING", "run_create: a retry, a new run, PENDING");
	is_str(q1("SELECT string_agg(status, ',' ORDER BY id) FROM "
		  "executions WHERE id LIKE $1::text || '-%' "
		  "AND id NOT LIKE '%-new_'",
		   prefix),
	    "CANCELLED,FAILED,PENDING,RUNNING,SUCCESS",
	    "  and no other run moved");
	drop_runs(prefix);
}

/* run_engine_write writes what the core decided, as tasks above. */
static void
test_run_engine_write(void)
{
	char id[96], xarr[100], starr[32];
	const char *p[7];
	int moved = 0, want = 0, bad = 0;

	snprintf(id, sizeof(id), "exec-tr-runwrite-%ld", (long)getpid());
	p[0] = id, p[1] = wid;
	q("INSERT INTO executions (id, workflow_id, workflow_version) "
	  "VALUES ($1, $2, 1)",
	    2, p);
	for (int f = 0; f < RUN__COUNT; f++)
		for (int to = 0; to < RUN__COUNT; to++) {
			enum run_state got;

			if (!run_transition_allowed(
				(enum run_state)f, (enum run_state)to))
				continue;
			want++;
			p[1] = run_state_name((enum run_state)f);
			q("UPDATE executions SET status = $2 WHERE id = $1", 2,
			    p);
			/* arrays of one run (a pass may write several) */
			snprintf(xarr, sizeof(xarr), "{%s}", id);
			snprintf(starr, sizeof(starr), "{%s}",
			    run_state_name((enum run_state)to));
			p[0] = xarr, p[1] = starr;
			p[2] = p[3] = p[6] = "{NULL}", p[4] = p[5] = "{false}";
			PQclear(qr(transition_sql(TR_RUN_ENGINE_WRITE), 7, p));
			p[0] = id;
			if (run_state_parse(q1("SELECT status FROM executions "
					       "WHERE id = $1",
						id),
				&got) == 0 &&
			    (int)got == to &&
			    transition_lists(TR_RUN_ENGINE_WRITE, f, to))
				moved++;
			else
				bad = 1;
		}
	ok(!bad && moved == want,
	    "run_engine_write: wrote each of the %d "
	    "transitions state.c allows",
	    want);
	q1("DELETE FROM executions WHERE id = $1", id);
}

int
main(void)
{
	const char *url = getenv("LOOM_DATABASE_URL");
	char *err = NULL, pre[64];
	const char *p[1] = { wid };

	test_table();
	if (url == NULL || *url == '\0') {
		ok(1, "# skip database tests: LOOM_DATABASE_URL is not set");
		return t_done();
	}
	if ((c = db_connect(url, "test_transition", &err)) == NULL) {
		printf("Bail out! %s\n", err);
		free(err);
		return 1;
	}
	snprintf(wid, sizeof(wid), "wf-tr-%ld", (long)getpid());
	q("INSERT INTO workflows (id, name, current_version) "
	  "VALUES ($1, 'transition', 1)",
	    1, p);
	q("INSERT INTO workflow_versions (workflow_id, version, definition, "
	  "spec, checksum) VALUES ($1, 1, '', '{}', 'x')",
	    1, p);
	for (int id = 0; id < TR__COUNT; id++)
		if (transitions[id].machine == TRANSITION_TASK &&
		    !(transitions[id].flags & TRANSITION_CORE))
			test_task_stmt((enum transition_id)id);
	test_task_engine_write();
	snprintf(pre, sizeof(pre), "exec-tr-cancel-%ld", (long)getpid());
	test_run_request(TR_RUN_CANCEL, pre);
	snprintf(pre, sizeof(pre), "exec-tr-cancelwf-%ld", (long)getpid());
	test_run_request(TR_RUN_CANCEL_WORKFLOW, pre);
	test_run_create();
	test_run_engine_write();
	q1("DELETE FROM executions WHERE workflow_id = $1", wid);
	q1("DELETE FROM workflows WHERE id = $1", wid);
	PQfinish(c);
	return t_done();
}
