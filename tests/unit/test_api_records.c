/*
 * test_api_records: the records loom-api sends to loom-log when an
 * asynchronous attempt fails (api_records.c): their texts and levels,
 * table-driven against what loom-exec writes for the same failure, and
 * the exchange with a loom-log played by a thread here: synced, silent,
 * closed, an answer too long, garbage before the answer, no socket.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jv.h>

#include "cmd/loom-api/api.h"
#include "core/buf.h"
#include "t.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static void
test_texts(void)
{
	static const struct {
		const char *retry; /* the request's "retry", JSON; NULL: none */
		int attempt;
		const char *etype, *emsg;
		int n;
		const char *l0, *m0, *l1, *m1;
	} tab[] = {
		{ "{}", 1, "HttpServerError", "503 from the warehouse", 2,
		    "error",
		    "attempt 1 failed: HttpServerError: 503 from the "
		    "warehouse",
		    "info",
		    "attempt 1 of 3 failed (HttpServerError): retrying "
		    "as attempt 2 in about 1s" },
		{ "{\"maxAttempts\":2,\"jitter\":0,\"initialDelay\":100}", 1,
		    "HttpServerError", "x", 2, "error",
		    "attempt 1 failed: HttpServerError: x", "info",
		    "attempt 1 of 2 failed (HttpServerError): retrying as "
		    "attempt 2 in 100ms" },
		{ "{\"maxAttempts\":2}", 2, "HttpServerError", "x", 2, "error",
		    "attempt 2 failed: HttpServerError: x", "error",
		    "attempt 2 of 2 failed (HttpServerError): no retry left, "
		    "dead letter" },
		{ "{\"attemptBase\":3}", 4, "ConnectionException", "refused", 2,
		    "error", "attempt 4 failed: ConnectionException: refused",
		    "info",
		    "attempt 4 (1 of 3 since the reset) failed "
		    "(ConnectionException): retrying as attempt 5 in "
		    "about 1s" },
		{ "{}", 1, "ValidationException", "no SKU", 2, "error",
		    "attempt 1 failed: ValidationException: no SKU", "error",
		    "attempt 1 of 3 failed (ValidationException): not retried "
		    "(dontRetryOn), dead letter" },
		/* a timeout is a warning, as loom-exec says it */
		{ "{}", 2, "TimeoutException", "too slow", 2, "warn",
		    "attempt 2 failed: TimeoutException: too slow", "info",
		    "attempt 2 of 3 failed (TimeoutException): retrying as "
		    "attempt 3 in about 2s" },
		{ "{}", 1, "Cancelled", "stop", 2, "warn",
		    "attempt 1 cancelled", "error",
		    "attempt 1 of 3 failed (TaskFailedException): not "
		    "retried (not in retryOn), dead letter" },
		/* an unknown type is the engine's TaskFailedException */
		{ "{\"retryOn\":[\"TaskFailedException\"]}", 1, "OutOfPaper",
		    "tray 2", 2, "error",
		    "attempt 1 failed: OutOfPaper: tray 2", "info",
		    "attempt 1 of 3 failed (TaskFailedException): "
		    "retrying as attempt 2 in about 1s" },
		/* a callback may leave its error out, or a part of it */
		{ "{}", 1, NULL, "it broke", 2, "error",
		    "attempt 1 failed: it broke", "error",
		    "attempt 1 of 3 failed (TaskFailedException): not retried "
		    "(not in retryOn), dead letter" },
		{ "{}", 3, NULL, NULL, 2, "error", "attempt 3 failed", "error",
		    "attempt 3 of 3 failed (TaskFailedException): not retried "
		    "(not in retryOn), dead letter" },
		{ "{}", 1, "HttpServerError", NULL, 2, "error",
		    "attempt 1 failed: HttpServerError: ", "info",
		    "attempt 1 of 3 failed (HttpServerError): retrying as "
		    "attempt 2 in about 1s" },
		/* no policy in the request, or one not understood: no
		 * decision, as loom-exec does not say one */
		{ NULL, 1, "HttpServerError", "x", 1, "error",
		    "attempt 1 failed: HttpServerError: x", NULL, NULL },
		{ "{\"maxAttempts\":0}", 1, "HttpServerError", "x", 1, "error",
		    "attempt 1 failed: HttpServerError: x", NULL, NULL },
		{ "[1]", 1, "HttpServerError", "x", 1, "error",
		    "attempt 1 failed: HttpServerError: x", NULL, NULL },
	};

	for (size_t i = 0; i < NELEM(tab); i++) {
		struct api_record rec[2];
		jv retry = tab[i].retry ? jv_parse(tab[i].retry) : jv_null();
		int n = api_failure_records(
		    retry, tab[i].attempt, tab[i].etype, tab[i].emsg, rec);

		is_int(n, tab[i].n, "texts %zu: records", i);
		is_str(rec[0].level, tab[i].l0, "texts %zu: failure level", i);
		is_str(rec[0].msg, tab[i].m0, "texts %zu: failure", i);
		if (n == 2 && tab[i].n == 2) {
			is_str(rec[1].level, tab[i].l1,
			    "texts %zu: decision level", i);
			is_str(rec[1].msg, tab[i].m1, "texts %zu: decision", i);
		}
	}
}

/* A message longer than a record holds: cut, and terminated. */
static void
test_long_message(void)
{
	struct api_record rec[2];
	char big[3000];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	is_int(api_failure_records(jv_null(), 1, "HttpServerError", big, rec),
	    1, "long: one record");
	is_int(strlen(rec[0].msg), sizeof(rec[0].msg) - 1, "long: cut");
	ok(strncmp(rec[0].msg, "attempt 1 failed: HttpServerError: xxx", 38) ==
		0,
	    "long: its head");
}

/* ---- a loom-log played by a thread ---------------------------------- */

enum peer_mode {
	PEER_SYNCED,  /* answers the sync */
	PEER_SILENT,  /* reads, answers an error line and nothing more */
	PEER_CLOSE,   /* reads the sync, then closes */
	PEER_LONG,    /* answers a line longer than an answer may be */
	PEER_GARBAGE, /* garbage lines, then the answer */
};

struct peer {
	int lfd;
	enum peer_mode mode;
	struct buf got; /* what came, up to the sync */
};

static void
put(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

#define PUT(fd, lit) put(fd, lit, sizeof(lit) - 1)

static void *
peer_main(void *arg)
{
	struct peer *p = arg;
	char chunk[4096];
	ssize_t r;
	int fd = accept(p->lfd, NULL, NULL);

	if (fd < 0)
		return NULL;
	while (memmem(p->got.p ? p->got.p : "", p->got.len, "\"sync\"", 6) ==
		NULL &&
	    (r = read(fd, chunk, sizeof(chunk))) > 0)
		buf_put(&p->got, chunk, (size_t)r);
	if (p->mode == PEER_SYNCED)
		PUT(fd, "{\"v\":1,\"t\":\"synced\",\"id\":2}\n");
	else if (p->mode == PEER_SILENT) {
		PUT(fd,
		    "{\"v\":1,\"t\":\"error\",\"line\":1,\"error\":\"no\"}\n");
		while (read(fd, chunk, sizeof(chunk)) > 0)
			; /* until the other side gives up */
	} else if (p->mode == PEER_LONG) {
		memset(chunk, 'x', sizeof(chunk));
		for (int i = 0; i < 40; i++)
			put(fd, chunk, sizeof(chunk));
		while (read(fd, chunk, sizeof(chunk)) > 0)
			;
	} else if (p->mode == PEER_GARBAGE) {
		PUT(fd,
		    "\xff\xfe\x00garbage\n[1,2]\n\"synced\"\n{\"t\":3}\n\n");
		PUT(fd, "{\"v\":1,\"t\":\"synced\",\"id\":2}\n");
	}
	close(fd);
	return NULL;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One exchange with a peer in mode m: its result, errno, time taken. */
static int
exchange(
    const char *dir, enum peer_mode m, struct buf *got, int *err, int64_t *took)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct peer p = { .mode = m };
	struct api_record rec[2];
	pthread_t t;
	int64_t t0;
	int n, rc;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/log.sock", dir);
	unlink(sa.sun_path);
	p.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (p.lfd < 0 || bind(p.lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(p.lfd, 4) < 0 ||
	    pthread_create(&t, NULL, peer_main, &p) != 0) {
		perror("peer");
		exit(1);
	}
	n = api_failure_records(jv_parse("{\"maxAttempts\":2}"), 1,
	    "HttpServerError", "a \"quoted\"\nmessage", rec);
	t0 = now_ms();
	errno = 0;
	rc = api_records_send(sa.sun_path, "exec-1", "fetch", 1, rec, n, 300);
	*err = errno;
	*took = now_ms() - t0;
	shutdown(p.lfd, SHUT_RDWR);
	pthread_join(t, NULL);
	close(p.lfd);
	unlink(sa.sun_path);
	*got = p.got;
	return rc;
}

/* The lines loom-log got: two envelopes and the sync. */
static void
check_lines(const struct buf *got)
{
	char *text = strndup(got->p ? got->p : "", got->len);
	char *save = NULL, *line;
	jv l[3];
	int n = 0;

	for (line = strtok_r(text, "\n", &save); line != NULL && n < 3;
	     line = strtok_r(NULL, "\n", &save))
		l[n++] = jv_parse(line);
	is_int(n, 3, "lines: three");
	for (int i = n; i < 3; i++)
		l[i] = jv_null();
	for (int i = 0; i < 2; i++) {
		jv e = jv_copy(l[i]);
		jv want = jv_parse(i == 0 ?
			"{\"v\":1,\"t\":\"log\",\"execution\":\"exec-1\","
			"\"task\":\"fetch\",\"attempt\":1,\"level\":\"error\","
			"\"stream\":\"loom\",\"msg\":\"attempt 1 failed: "
			"HttpServerError: a \\\"quoted\\\"\\nmessage\"}" :
			"{\"v\":1,\"t\":\"log\",\"execution\":\"exec-1\","
			"\"task\":\"fetch\",\"attempt\":1,\"level\":\"info\","
			"\"stream\":\"loom\",\"msg\":\"attempt 1 of 2 failed "
			"(HttpServerError): retrying as attempt 2 in about "
			"1s\"}");
		jv ts = jv_object_get(jv_copy(e), jv_string("ts"));

		ok(jv_get_kind(ts) == JV_KIND_STRING &&
			jv_string_length_bytes(jv_copy(ts)) == 24,
		    "line %d: a ts", i + 1);
		jv_free(ts);
		e = jv_object_delete(e, jv_string("ts"));
		ok(jv_equal(e, want), "line %d: the record", i + 1);
	}
	ok(jv_equal(
	       jv_copy(l[2]), jv_parse("{\"v\":1,\"t\":\"sync\",\"id\":2}")),
	    "line 3: the sync");
	for (int i = 0; i < 3; i++)
		jv_free(l[i]);
	free(text);
}

static void
test_exchange(void)
{
	char dir[] = "/tmp/test_api_records.XXXXXX";
	char path[200];
	struct buf got;
	struct api_record rec[2] = { { "info", "x" }, { "info", "y" } };
	int64_t took;
	int err, rc;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	rc = exchange(dir, PEER_SYNCED, &got, &err, &took);
	is_int(rc, 0, "synced: sent");
	check_lines(&got);
	buf_free(&got);

	rc = exchange(dir, PEER_SILENT, &got, &err, &took);
	is_int(rc, -1, "silent: given up");
	is_int(err, ETIMEDOUT, "silent: ETIMEDOUT");
	ok(took >= 290 && took < 1000, "silent: at the deadline (%lld ms)",
	    (long long)took);
	buf_free(&got);

	rc = exchange(dir, PEER_CLOSE, &got, &err, &took);
	is_int(rc, -1, "closed: given up");
	ok(took < 290, "closed: at once (%lld ms)", (long long)took);
	buf_free(&got);

	rc = exchange(dir, PEER_LONG, &got, &err, &took);
	is_int(rc, -1, "too long: given up");
	is_int(err, EPROTO, "too long: EPROTO");
	buf_free(&got);

	rc = exchange(dir, PEER_GARBAGE, &got, &err, &took);
	is_int(rc, 0, "garbage, then synced: sent");
	buf_free(&got);

	snprintf(path, sizeof(path), "%s/nobody.sock", dir);
	errno = 0;
	is_int(api_records_send(path, "e", "t", 1, rec, 2, 300), -1,
	    "no socket: -1");
	is_int(errno, ENOENT, "no socket: ENOENT");
	is_int(api_records_send("", "e", "t", 1, rec, 2, 300), 0,
	    "no loom-log configured: nothing to do");
	rmdir(dir);
}

int
main(void)
{
	test_texts();
	test_long_message();
	test_exchange();
	return t_done();
}
