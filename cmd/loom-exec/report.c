/*
 * report: writing queued results and task output lines the blocking way,
 * FLUSH_MAX results per transaction: when there are more lines than one
 * batch takes, after the server refused a batch, and while draining.  A
 * result the server cannot store is written as a plain failure saying
 * why, so the run goes on.  Written jobs are taken off the queue and freed.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "util/log.h"

/* Counts a written result; an ACCEPTED one moves a callback deadline. */
void
xd_account(struct xd *x, struct job *j, int matched)
{
	if (!matched) {
		xd_key_ctx(&j->key);
		log_debug("not ours any more (cancelled or taken over); "
			  "result dropped");
		xd_key_ctx(NULL);
		x->ndropped++;
		return;
	}
	x->nreported++;
	if (xd_result_is(j->result, "ACCEPTED"))
		x->want_deadlines = 1;
	/* Stored: the engine decides on exactly this result now. */
	xd_record_decision(x, j);
}

/*
 * A batch the server refused (a result it cannot store, such as output
 * with a NUL character): write each alone; one that still fails is
 * written as a plain failure saying why, so the run goes on.
 */
static void
flush_one_by_one(struct xd *x, struct job **b, size_t n)
{
	for (size_t i = 0; i < n && x->conn != NULL; i++) {
		struct job *j = b[i];
		struct execdb_result r;
		char *err = NULL;
		long rc;

		r.key = &j->key;
		r.result = j->result;
		r.timeout_ms = j->timeout_ms;
		rc = execdb_report(x->edb, &r, 1, NULL, &err);
		if (rc < 0 && err != NULL && x->conn &&
		    PQstatus(x->conn) == CONNECTION_OK) {
			char *nl = strchr(err, '\n');
			jv d = jv_object_get(
			    jv_copy(j->result), jv_string("durationMs"));

			/* "ERROR:  what\nDETAIL: ..." -> "what" */
			if (nl != NULL)
				*nl = '\0';
			if (strncmp(err, "ERROR:  ", 8) == 0)
				memmove(err, err + 8, strlen(err + 8) + 1);
			if (jv_get_kind(d) != JV_KIND_NUMBER) {
				jv_free(d);
				d = jv_null();
			}
			xd_key_ctx(&j->key);
			log_warnx("the result cannot be stored (%s); "
				  "reporting a failure instead",
			    err);
			xd_key_ctx(NULL);
			jv_free(j->result);
			j->result = JV_OBJECT(jv_string("status"),
			    jv_string("FAILED"), jv_string("output"), jv_null(),
			    jv_string("error"),
			    runner_error(ERR_TASK_FAILED,
				"the result could not "
				"be stored: %s",
				err),
			    jv_string("durationMs"), d);
			free(err);
			err = NULL;
			r.result = j->result;
			rc = execdb_report(x->edb, &r, 1, NULL, &err);
		}
		if (rc < 0) {
			if (xd_db_failed(x, "writing a result", err))
				return; /* the rest stays queued */
			xd_key_ctx(&j->key);
			log_warnx("result dropped; the task will run again "
				  "when its lease expires");
			xd_key_ctx(NULL);
			r.matched = 0;
		}
		xd_account(x, j, r.matched);
		xd_job_free(xd_done_pop(x)); /* b[i] is the head */
	}
}

/* Writes the queued results, FLUSH_MAX per transaction. */
void
xd_flush(struct xd *x)
{
	struct job *b[FLUSH_MAX];
	struct execdb_result r[FLUSH_MAX];
	struct logq_batch lb;
	struct db_stmt lst, *pre = NULL;

	xd_settle(x);

	while (x->done_head != NULL && x->conn != NULL) {
		size_t n = 0;
		char *err = NULL;
		long rc;

		for (struct job *j = x->done_head; j && n < FLUSH_MAX;
		     j = j->next, n++) {
			b[n] = j;
			r[n].key = &j->key;
			r[n].result = j->result;
			r[n].timeout_ms = j->timeout_ms;
			r[n].matched = 0;
		}
		/* Output lines ride with the results: same round trip,
		 * same transaction, ahead of them. */
		if (logq_len(x->logq) > 0 &&
		    logq_batch(x->logq, &lb, &lst) > 0) {
			if (lb.k == logq_len(x->logq))
				pre = &lst;
			else {
				/* More than a batch: all of them first. */
				logq_batch_end(x->logq, &lb, 0);
				xd_flush_logs(x);
				if (x->conn == NULL)
					return;
			}
		}
		rc = execdb_report(x->edb, r, n, pre, &err);
		if (pre != NULL)
			logq_batch_end(x->logq, &lb, rc >= 0);
		pre = NULL;
		if (rc < 0) {
			if (xd_db_failed(x, "writing results", err))
				return;
			/* Refused: lines and results go on their own. */
			xd_flush_logs(x);
			flush_one_by_one(x, b, n);
			continue;
		}
		log_debug("wrote %zu results (%ld still ours)", n, rc);
		for (size_t i = 0; i < n; i++) {
			xd_account(x, b[i], r[i].matched);
			xd_job_free(xd_done_pop(x));
		}
	}
}

/* Task output lines go before results: a run never ends without them. */
void
xd_flush_logs(struct xd *x)
{
	char *err = NULL;

	if (logq_len(x->logq) > 0)
		xd_settle(x);
	if (x->conn != NULL && logq_len(x->logq) > 0 &&
	    logq_flush(x->logq, x->conn, &err) < 0)
		xd_db_failed(x, "writing task output lines", err);
}
