/*
 * proto: one line of loom-log's socket protocol (loom-ipc(7)) into a
 * message, checked field by field before anything uses it.  No I/O: the
 * caller hands in the bytes and the time; tests/unit/test_logd.c runs it
 * over a table of good and bad lines.
 *
 * A line is one JSON object {"v":1,"t":KIND,...}.  KIND "log" carries a
 * record (execution, task and msg are required strings; attempt, level,
 * stream and ts are optional); "sync" asks for an answer once every
 * record sent before it is written; "ping" is answered at once.  Anything
 * else -- not JSON, not an object, another version, an unknown kind, a
 * field of the wrong type, invalid UTF-8 or a NUL character -- is an error
 * whose text says which.
 */
#include "logd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/jsoncheck.h"
#include "core/xalloc.h"
#include "util/jsonutil.h"

#define ID_MAX 200    /* execution and task ids, in bytes */
#define STREAM_MAX 32 /* a stream's name */

static const char *const levels[] = { "debug", "info", "warn", "error" };

int
ld_level_rank(const char *level)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(level, levels[i]) == 0)
			return i;
	return -1;
}

void
ld_rec_clear(struct ld_rec *r)
{
	free(r->execution);
	free(r->task);
	free(r->level);
	free(r->stream);
	free(r->msg);
	memset(r, 0, sizeof(*r));
}

void
ld_msg_clear(struct ld_msg *m)
{
	if (m->kind == LD_LOG)
		ld_rec_clear(&m->rec);
	jv_free(m->id);
	m->id = jv_invalid();
}

static int
fail(struct ld_msg *m, const char *fmt, const char *arg)
{
	m->kind = LD_ERROR;
	snprintf(m->err, sizeof(m->err), fmt, arg);
	return -1;
}

int
ld_ts_number(double d, int64_t *ms)
{
	if (d < 0 || d > 253402300799999.0)
		return -1;
	*ms = (int64_t)d;
	return 0;
}

/* "2026-12-07T04:05:06.123Z", the fraction optional. */
int
ld_ts_string(const char *s, int64_t *ms)
{
	struct tm tm;
	const char *p;
	int64_t frac = 0, scale = 100;

	memset(&tm, 0, sizeof(tm));
	if ((p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL)
		return -1;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			frac += (*p - '0') * scale;
	if (strcmp(p, "Z") != 0)
		return -1;
	*ms = (int64_t)timegm(&tm) * 1000 + frac;
	return 0;
}

/* An ISO 8601 UTC time or ms since the epoch. */
static int
parse_ts(jv v, int64_t *ms)
{
	if (jv_get_kind(v) == JV_KIND_NUMBER)
		return ld_ts_number(jv_number_value(v), ms);
	if (jv_get_kind(v) != JV_KIND_STRING)
		return -1;
	return ld_ts_string(jv_string_value(v), ms);
}

/* A required (req) or optional string field of at most max bytes. */
static int
take_str(
    struct ld_msg *m, jv o, const char *key, size_t max, int req, char **out)
{
	jv v = jv_object_get(jv_copy(o), jv_string(key));
	int rc = 0;

	*out = NULL;
	if (jv_get_kind(v) == JV_KIND_INVALID || jv_get_kind(v) == JV_KIND_NULL)
		rc = req ? fail(m, "\"%s\" is required", key) : 0;
	else if (jv_get_kind(v) != JV_KIND_STRING)
		rc = fail(m, "\"%s\" must be a string", key);
	else if (max > 0 &&
	    ((size_t)jv_string_length_bytes(jv_copy(v)) > max ||
		jv_string_length_bytes(jv_copy(v)) == 0))
		rc = fail(m, "\"%s\" must be 1 to 200 bytes", key);
	else
		*out = xstrdup(jv_string_value(v));
	jv_free(v);
	return rc;
}

int
ld_stream_ok(const char *s)
{
	return *s != '\0' && strlen(s) <= STREAM_MAX &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == strlen(s);
}

static int
take_stream(struct ld_msg *m, jv o, char **out)
{
	if (take_str(m, o, "stream", 0, 0, out) < 0)
		return -1;
	if (*out == NULL)
		*out = xstrdup("app");
	if (!ld_stream_ok(*out))
		return fail(
		    m, "%s", "\"stream\" must be 1 to 32 of a-z 0-9 _ -");
	return 0;
}

/* The fields of a "log" message into m->rec. */
static int
parse_log(struct ld_msg *m, jv o, int64_t now_ms)
{
	struct ld_rec *r = &m->rec;
	jv a, ts;

	m->kind = LD_LOG;
	if (take_str(m, o, "execution", ID_MAX, 1, &r->execution) < 0 ||
	    take_str(m, o, "task", ID_MAX, 1, &r->task) < 0 ||
	    take_str(m, o, "msg", 0, 1, &r->msg) < 0 ||
	    take_str(m, o, "level", 0, 0, &r->level) < 0 ||
	    take_stream(m, o, &r->stream) < 0)
		return -1;
	if (r->level == NULL)
		r->level = xstrdup("info");
	else if (ld_level_rank(r->level) < 0)
		return fail(m,
		    "\"level\" must be debug, info, warn or error, "
		    "not '%.40s'",
		    r->level);
	a = jv_object_get(jv_copy(o), jv_string("attempt"));
	r->attempt = 1;
	if (jv_get_kind(a) == JV_KIND_NUMBER) {
		double d = jv_number_value(a);

		if (d < 0 || d > 1000000 || d != (int)d) {
			jv_free(a);
			return fail(m, "%s",
			    "\"attempt\" must be a whole number "
			    "from 0 to 1000000");
		}
		r->attempt = (int)d;
	} else if (jv_get_kind(a) != JV_KIND_INVALID &&
	    jv_get_kind(a) != JV_KIND_NULL) {
		jv_free(a);
		return fail(m, "%s", "\"attempt\" must be a number");
	}
	jv_free(a);
	ts = jv_object_get(jv_copy(o), jv_string("ts"));
	r->ts_ms = now_ms;
	if (jv_get_kind(ts) != JV_KIND_INVALID &&
	    jv_get_kind(ts) != JV_KIND_NULL && parse_ts(ts, &r->ts_ms) < 0) {
		jv_free(ts);
		return fail(m, "%s",
		    "\"ts\" must be an ISO 8601 UTC time "
		    "(2026-12-07T04:05:06.123Z) or ms since "
		    "the epoch");
	}
	jv_free(ts);
	return 0;
}

/* Checks the envelope and hands the body to its kind's parser (o borrowed). */
static void
parse_object(struct ld_msg *m, jv o, int64_t now_ms)
{
	jv v = jv_object_get(jv_copy(o), jv_string("v"));
	jv t = jv_object_get(jv_copy(o), jv_string("t"));

	if (jv_get_kind(v) != JV_KIND_NUMBER || jv_number_value(v) != 1)
		fail(m, "%s", "\"v\" must be 1");
	else if (jv_get_kind(t) != JV_KIND_STRING)
		fail(m, "%s",
		    "\"t\" must be a string (log, sync, ping, status, reload)");
	else if (strcmp(jv_string_value(t), "log") == 0) {
		if (parse_log(m, o, now_ms) < 0)
			ld_rec_clear(&m->rec);
	} else if (strcmp(jv_string_value(t), "sync") == 0 ||
	    strcmp(jv_string_value(t), "ping") == 0 ||
	    strcmp(jv_string_value(t), "status") == 0 ||
	    strcmp(jv_string_value(t), "reload") == 0) {
		const char *k = jv_string_value(t);

		m->kind = strcmp(k, "sync") == 0 ? LD_SYNC :
		    strcmp(k, "ping") == 0	 ? LD_PING :
		    strcmp(k, "status") == 0	 ? LD_STATUS :
						   LD_RELOAD;
		m->id = jv_object_get(jv_copy(o), jv_string("id"));
		if (jv_get_kind(m->id) == JV_KIND_INVALID)
			m->id = jv_null();
	} else
		fail(m, "unknown message type '%.40s'", jv_string_value(t));
	jv_free(v);
	jv_free(t);
}

void
ld_parse(const char *line, size_t len, int64_t now_ms, struct ld_msg *m)
{
	const char *why = NULL;
	size_t bad;
	jv o;

	memset(m, 0, sizeof(*m));
	m->id = jv_invalid();
	if (utf8_check(line, len, &bad) < 0) {
		fail(m, "%s", "invalid UTF-8 or a NUL byte");
		return;
	}
	if (ld_fast_log(line, len, now_ms, &m->rec) == 0) {
		m->kind = LD_LOG;
		return;
	}
	if (json_depth_check(line, len, 16, NULL) < 0) {
		fail(m, "%s", "nested too deep");
		return;
	}
	/* libjq 1.6 leaks on some malformed text: it sees only good JSON. */
	if (json_syntax_check(line, len, 16, &bad, &why) < 0) {
		m->kind = LD_ERROR;
		snprintf(m->err, sizeof(m->err), "not JSON: %s at byte %zu",
		    why ? why : "malformed", bad);
		return;
	}
	o = jv_parse_sized(line, (int)len);
	if (jv_get_kind(o) == JV_KIND_INVALID) {
		jv msg = jv_invalid_get_msg(o);

		fail(m, "not JSON: %.100s",
		    jv_get_kind(msg) == JV_KIND_STRING ? jv_string_value(msg) :
							 "?");
		jv_free(msg);
		return;
	}
	if (jv_get_kind(o) != JV_KIND_OBJECT)
		fail(m, "%s", "not a JSON object");
	else
		parse_object(m, o, now_ms);
	jv_free(o);
}

void
ld_rec_line(struct buf *b, const struct ld_rec *r)
{
	char ts[32];

	iso_time_ms(r->ts_ms, ts, sizeof(ts));
	buf_puts(b, "{\"v\":1,\"t\":\"log\",\"execution\":");
	buf_json_str(b, r->execution, strlen(r->execution));
	buf_puts(b, ",\"task\":");
	buf_json_str(b, r->task, strlen(r->task));
	buf_printf(b,
	    ",\"attempt\":%d,\"level\":\"%s\",\"stream\":", r->attempt,
	    r->level);
	buf_json_str(b, r->stream, strlen(r->stream));
	buf_printf(b, ",\"ts\":\"%s\",\"msg\":", ts);
	buf_json_str(b, r->msg, strlen(r->msg));
	buf_puts(b, "}\n");
}
