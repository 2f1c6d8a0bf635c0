/*
 * loom-c-example-backend: the sample workflow's user backend written with
 * libloomclient (compare contrib/examples/backend, which speaks HTTP by
 * hand).
 *
 *   loom-c-example-backend [-a ADDR] [-p PORT]     (127.0.0.1, port 0)
 *
 * Prints "port N" on standard output once listening, serves
 * POST /api/tasks/{fetch-data,validate,process,send-email} until SIGINT or
 * SIGTERM.  With LOOM_BACKEND_SECRET set in the environment, requests must
 * be signed with it (loom-workflow(5) SIGNING), else they are answered 401.
 * A task whose input has "async": true answers 202 and completes a moment
 * later, from another thread, through its callback URL.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <loom/client.h>

/* FNV-1a, 64 bits: a stable "checksum" for made-up records. */
static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* input's member key as a number (a JSON number or numeric string). */
static double
num(jv input, const char *key, double def)
{
	jv v = jv_get_kind(input) == JV_KIND_OBJECT ?
	    jv_object_get(jv_copy(input), jv_string(key)) :
	    jv_invalid();
	double n = def;
	char *end;

	if (jv_get_kind(v) == JV_KIND_NUMBER)
		n = jv_number_value(v);
	else if (jv_get_kind(v) == JV_KIND_STRING) {
		double x = strtod(jv_string_value(v), &end);

		if (end != jv_string_value(v) && *end == '\0')
			n = x;
	}
	jv_free(v);
	return n;
}

/* input's member key as a string into buf, or def. */
static const char *
str(jv input, const char *key, const char *def, char *buf, size_t len)
{
	jv v = jv_get_kind(input) == JV_KIND_OBJECT ?
	    jv_object_get(jv_copy(input), jv_string(key)) :
	    jv_invalid();

	snprintf(buf, len, "%s",
	    jv_get_kind(v) == JV_KIND_STRING ? jv_string_value(v) : def);
	jv_free(v);
	return buf;
}

static jv
fetch_data(const struct loom_task *t)
{
	char date[64], seed[128], sum[17], logs[128];
	double limit = num(t->input, "limit", 100);

	if (limit < 0 || limit > 1e6)
		return loom_result_failed("ValidationException",
		    "limit must be between 0 and 1000000", NULL);
	str(t->input, "date", "today", date, sizeof(date));
	snprintf(seed, sizeof(seed), "%s/%.0f", date, limit);
	snprintf(sum, sizeof(sum), "%016llx", (unsigned long long)fnv1a(seed));
	snprintf(
	    logs, sizeof(logs), "Fetched %.0f records for %s", limit, date);
	return loom_result_success(
	    JV_OBJECT(jv_string("recordCount"), jv_number(limit),
		jv_string("checksum"), jv_string(sum)),
	    logs);
}

static jv
validate(const struct loom_task *t)
{
	char sum[64], logs[128];
	double n = num(t->input, "recordCount", -1);

	str(t->input, "checksum", "", sum, sizeof(sum));
	if (n < 0)
		return loom_result_failed(
		    "ValidationException", "no recordCount in the input", NULL);
	if (strlen(sum) != 16 || strspn(sum, "0123456789abcdef") != 16)
		return loom_result_failed("ValidationException",
		    "the checksum is not 16 hex digits", NULL);
	snprintf(
	    logs, sizeof(logs), "Validated %.0f records (checksum %s)", n, sum);
	return loom_result_success(JV_OBJECT(jv_string("valid"), jv_true(),
				       jv_string("recordCount"), jv_number(n)),
	    logs);
}

static jv
process(const struct loom_task *t)
{
	char title[256], url[300], logs[128];
	double n = num(t->input, "recordCount", 0);

	str(t->input, "title", "Report", title, sizeof(title));
	snprintf(url, sizeof(url), "https://reports.example/%s.csv",
	    t->execution_id);
	snprintf(logs, sizeof(logs), "Processed %.0f records", n);
	return loom_result_success(
	    JV_OBJECT(jv_string("processed"), jv_number(n), jv_string("title"),
		jv_string(title), jv_string("reportUrl"), jv_string(url)),
	    logs);
}

static jv
send_email(const struct loom_task *t)
{
	char to[256], subject[256], id[256], logs[600];

	str(t->input, "to", "team@example.com", to, sizeof(to));
	str(t->input, "subject", "Report", subject, sizeof(subject));
	snprintf(id, sizeof(id), "<%s@loom.example>", t->execution_id);
	snprintf(logs, sizeof(logs), "Sent \"%s\" to %s", subject, to);
	return loom_result_success(
	    JV_OBJECT(jv_string("sent"), jv_true(), jv_string("to"),
		jv_string(to), jv_string("messageId"), jv_string(id)),
	    logs);
}

/* An asynchronous task: its result, computed later, and where it goes. */
struct later {
	char *callback_url;
	jv result;
};

static void *
complete_later(void *arg)
{
	struct later *l = arg;
	struct loom_error err;

	if (loom_callback_complete(l->callback_url, l->result, &err) < 0)
		fprintf(stderr, "loom-c-example-backend: callback: %s\n",
		    err.message);
	free(l->callback_url);
	free(l);
	return NULL;
}

/* Runs the task fn: now, or, with "async": true, in a thread of its own. */
static jv
run(void *arg, const struct loom_task *t)
{
	jv (*fn)(const struct loom_task *) =
	    (jv(*)(const struct loom_task *))arg;
	jv async = jv_get_kind(t->input) == JV_KIND_OBJECT ?
	    jv_object_get(jv_copy(t->input), jv_string("async")) :
	    jv_invalid();
	int later = jv_get_kind(async) == JV_KIND_TRUE && t->callback_url;
	struct later *l;
	pthread_t th;

	jv_free(async);
	fprintf(stderr, "loom-c-example-backend: %s %s attempt %d%s\n",
	    t->execution_id, t->task_id, t->attempt, later ? " (async)" : "");
	if (!later)
		return fn(t);
	l = malloc(sizeof(*l));
	if (l == NULL)
		return jv_invalid_with_msg(jv_string("out of memory"));
	l->callback_url = strdup(t->callback_url);
	l->result = fn(t);
	if (l->callback_url == NULL ||
	    pthread_create(&th, NULL, complete_later, l) != 0) {
		jv r = l->result;

		free(l->callback_url);
		free(l);
		return r; /* answered at once instead */
	}
	pthread_detach(th);
	return loom_result_accepted();
}

int
main(int argc, char **argv)
{
	const char *addr = "127.0.0.1", *secret = getenv("LOOM_BACKEND_SECRET");
	loom_server *s;
	sigset_t set;
	int ch, sig, port = 0;
	char *err = NULL;

	while ((ch = getopt(argc, argv, "a:p:")) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		default:
			fprintf(stderr,
			    "usage: loom-c-example-backend "
			    "[-a ADDR] [-p PORT]\n");
			return 2;
		}
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL); /* before the server's threads */
	signal(SIGPIPE, SIG_IGN);

	s = loom_server_new(addr, port);
	loom_server_handle(s, "/api/tasks/fetch-data", run, (void *)fetch_data);
	loom_server_handle(s, "/api/tasks/validate", run, (void *)validate);
	loom_server_handle(s, "/api/tasks/process", run, (void *)process);
	loom_server_handle(s, "/api/tasks/send-email", run, (void *)send_email);
	if (secret && *secret)
		loom_server_require_signature(s, secret, strlen(secret));
	if (loom_server_start(s, &err) < 0) {
		fprintf(stderr, "loom-c-example-backend: %s\n", err);
		free(err);
		loom_server_free(s);
		return 1;
	}
	printf("port %d\n", loom_server_port(s));
	fflush(stdout);
	while (sigwait(&set, &sig) != 0)
		;
	loom_server_free(s);
	return 0;
}
