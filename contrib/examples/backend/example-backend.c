/*
 * loom-example-backend: the user backend of Link Loom's sample workflow
 * (contrib/examples/sample.yaml), and a small model of what a backend in
 * any language has to do.
 *
 *   loom-example-backend [-p PORT] [-a ADDR]      (127.0.0.1:8090)
 *
 * Link Loom calls one URL per task (see DESIGN.md section 4):
 *
 *   POST /api/tasks/fetch-data
 *   Content-Type: application/json
 *   Idempotency-Key: <executionId>/<taskId>/<attempt>
 *   {"executionId":"exec-...","taskId":"fetch_data","input":{...},
 *    "attempt":1,"timeout":30000}
 *
 * and the backend answers with the task's result:
 *
 *   {"status":"SUCCESS","output":{...},"logs":"...","duration":12}
 *   {"status":"FAILED","error":{"type":"ValidationException",
 *    "message":"..."},"logs":"..."}
 *
 * The four tasks of the sample: fetch-data "fetches" input.limit records
 * and returns {recordCount, checksum}; validate checks them; process
 * turns them into a report {processed, title, reportUrl}; send-email
 * "mails" it {sent, to, messageId}.  Outputs are deterministic, so the
 * same input always gives the same output.  For trying retries,
 * fetch-data answers HTTP 503 while the attempt is <= input.failAttempts.
 *
 * One libmicrohttpd thread serves every request (they are quick); the main
 * thread waits for SIGINT/SIGTERM with sigwait().  Each request is logged
 * as one line on stderr.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jv.h>
#include <microhttpd.h>

#define MAX_BODY (1024 * 1024)

static char base_url[64]; /* http://ADDR:PORT, for links in outputs */

struct req {
	char *body;
	size_t len;
	int too_big;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

/* A number from input: a JSON number or a numeric string; else def. */
static double
input_number(jv input, const char *key, double def)
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

static const char *
input_string(jv input, const char *key, const char *def, char *buf, size_t len)
{
	jv v = jv_get_kind(input) == JV_KIND_OBJECT ?
	    jv_object_get(jv_copy(input), jv_string(key)) :
	    jv_invalid();

	if (jv_get_kind(v) == JV_KIND_STRING)
		snprintf(buf, len, "%s", jv_string_value(v));
	else
		snprintf(buf, len, "%s", def);
	jv_free(v);
	return buf;
}

static jv
success(jv output, const char *logs)
{
	return JV_OBJECT(jv_string("status"), jv_string("SUCCESS"),
	    jv_string("output"), output, jv_string("logs"), jv_string(logs));
}

static jv
failure(const char *type, const char *message)
{
	return JV_OBJECT(jv_string("status"), jv_string("FAILED"),
	    jv_string("error"),
	    JV_OBJECT(jv_string("type"), jv_string(type), jv_string("message"),
		jv_string(message)),
	    jv_string("logs"), jv_string(message));
}

/* ---- the four tasks: input -> result ---------------------------------- */

static jv
fetch_data(const char *exec, jv input)
{
	char date[64], seed[128], sum[17], logs[128];
	double limit = input_number(input, "limit", 100);

	if (limit < 0 || limit > 1e6)
		return failure("ValidationException",
		    "limit must be between "
		    "0 and 1000000");
	input_string(input, "date", "today", date, sizeof(date));
	snprintf(seed, sizeof(seed), "%s/%.0f", date, limit);
	snprintf(sum, sizeof(sum), "%016llx", (unsigned long long)fnv1a(seed));
	snprintf(
	    logs, sizeof(logs), "Fetched %.0f records for %s", limit, date);
	(void)exec;
	return success(JV_OBJECT(jv_string("recordCount"), jv_number(limit),
			   jv_string("checksum"), jv_string(sum)),
	    logs);
}

static jv
validate(const char *exec, jv input)
{
	char sum[64], logs[128];
	double n = input_number(input, "recordCount", -1);

	input_string(input, "checksum", "", sum, sizeof(sum));
	(void)exec;
	if (n < 0)
		return failure("ValidationException",
		    "no recordCount in the "
		    "input");
	if (strlen(sum) != 16 || strspn(sum, "0123456789abcdef") != 16)
		return failure("ValidationException",
		    "the checksum is not 16 "
		    "hex digits");
	snprintf(
	    logs, sizeof(logs), "Validated %.0f records (checksum %s)", n, sum);
	return success(JV_OBJECT(jv_string("valid"), jv_true(),
			   jv_string("recordCount"), jv_number(n)),
	    logs);
}

static jv
process(const char *exec, jv input)
{
	char title[256], url[256], logs[128];
	double n = input_number(input, "recordCount", 0);

	input_string(input, "title", "Report", title, sizeof(title));
	snprintf(url, sizeof(url), "%s/reports/%s.csv", base_url, exec);
	snprintf(logs, sizeof(logs), "Processed %.0f records", n);
	return success(
	    JV_OBJECT(jv_string("processed"), jv_number(n), jv_string("title"),
		jv_string(title), jv_string("reportUrl"), jv_string(url)),
	    logs);
}

static jv
send_email(const char *exec, jv input)
{
	char to[256], subject[256], id[256], logs[600];

	input_string(input, "to", "team@example.com", to, sizeof(to));
	input_string(input, "subject", "Report", subject, sizeof(subject));
	snprintf(id, sizeof(id), "<%s@loom.example>", exec);
	snprintf(logs, sizeof(logs), "Sent \"%s\" to %s", subject, to);
	return success(
	    JV_OBJECT(jv_string("sent"), jv_true(), jv_string("to"),
		jv_string(to), jv_string("messageId"), jv_string(id)),
	    logs);
}

static const struct task_route {
	const char *path;
	jv (*fn)(const char *exec, jv input);
} routes[] = {
	{ "/api/tasks/fetch-data", fetch_data },
	{ "/api/tasks/validate", validate },
	{ "/api/tasks/process", process },
	{ "/api/tasks/send-email", send_email },
};

/* ---- HTTP ------------------------------------------------------------- */

static enum MHD_Result
reply(struct MHD_Connection *conn, unsigned status, jv body)
{
	jv s = jv_dump_string(body, 0);
	size_t len = (size_t)jv_string_length_bytes(jv_copy(s));
	struct MHD_Response *r;
	enum MHD_Result rc;
	char *copy = malloc(len + 1);

	if (copy == NULL) {
		jv_free(s);
		return MHD_NO;
	}
	memcpy(copy, jv_string_value(s), len + 1);
	jv_free(s);
	r = MHD_create_response_from_buffer(len, copy, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", "application/json");
	rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static jv
error_body(const char *message)
{
	return JV_OBJECT(jv_string("error"), jv_string(message));
}

/* Runs one task request; *status gets the HTTP status. */
static jv
run_task(const struct task_route *rt, const struct req *rq, unsigned *status,
    char *who, size_t wholen)
{
	jv call, input, result;
	double attempt;
	char exec[128], task[128];
	int64_t t0 = now_ms();

	*status = 200;
	call = jv_parse_sized(rq->body ? rq->body : "", (int)rq->len);
	if (jv_get_kind(call) != JV_KIND_OBJECT) {
		jv_free(call);
		*status = 400;
		return error_body("the body is not a JSON object");
	}
	input = jv_object_get(jv_copy(call), jv_string("input"));
	input_string(call, "executionId", "exec-unknown", exec, sizeof(exec));
	input_string(call, "taskId", "?", task, sizeof(task));
	attempt = input_number(call, "attempt", 1);
	snprintf(who, wholen, "%s %s attempt %.0f", exec, task, attempt);
	jv_free(call);

	if (rt->fn == fetch_data &&
	    attempt <= input_number(input, "failAttempts", 0)) {
		jv_free(input);
		*status = 503;
		return error_body("temporarily unavailable (failAttempts)");
	}
	result = rt->fn(exec, input);
	jv_free(input);
	return jv_object_set(
	    result, jv_string("duration"), jv_number((double)(now_ms() - t0)));
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *data,
    size_t *data_size, void **con_cls)
{
	struct req *rq = *con_cls;
	const struct task_route *rt = NULL;
	char who[300] = "";
	unsigned status;
	jv body, st;

	(void)cls;
	(void)version;
	if (rq == NULL) {
		if ((rq = calloc(1, sizeof(*rq))) == NULL)
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*data_size > 0) {
		if (rq->len + *data_size > MAX_BODY)
			rq->too_big = 1;
		else {
			char *p = realloc(rq->body, rq->len + *data_size + 1);

			if (p == NULL)
				return MHD_NO;
			rq->body = p;
			memcpy(rq->body + rq->len, data, *data_size);
			rq->len += *data_size;
			rq->body[rq->len] = '\0';
		}
		*data_size = 0;
		return MHD_YES;
	}

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(url, routes[i].path) == 0)
			rt = &routes[i];
	if (strcmp(url, "/healthz") == 0 && strcmp(method, "GET") == 0) {
		status = 200;
		body = JV_OBJECT(jv_string("status"), jv_string("ok"));
	} else if (rt == NULL) {
		status = 404;
		body = error_body("no such task endpoint");
	} else if (strcmp(method, "POST") != 0) {
		status = 405;
		body = error_body("use POST");
	} else if (rq->too_big) {
		status = 413;
		body = error_body("the body is too large");
	} else
		body = run_task(rt, rq, &status, who, sizeof(who));

	st = jv_get_kind(body) == JV_KIND_OBJECT ?
	    jv_object_get(jv_copy(body), jv_string("status")) :
	    jv_invalid();
	fprintf(stderr, "loom-example-backend: %s %s%s%s -> %u %s\n", method,
	    url, *who ? " " : "", who, status,
	    jv_get_kind(st) == JV_KIND_STRING ? jv_string_value(st) : "");
	jv_free(st);
	return reply(conn, status, body);
}

static void
request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (rq) {
		free(rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom-example-backend [-p PORT] [-a ADDR]\n"
	    "Serves the sample workflow's tasks on ADDR:PORT "
	    "(127.0.0.1:8090).\n");
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin;
	struct MHD_Daemon *d;
	const char *addr = "127.0.0.1";
	sigset_t set;
	long port = 8090;
	int ch, sig;
	char *end;

	while ((ch = getopt(argc, argv, "p:a:h")) != -1) {
		switch (ch) {
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*end || end == optarg || port < 1 || port > 65535) {
				fprintf(stderr,
				    "loom-example-backend: bad "
				    "port '%s'\n",
				    optarg);
				return 2;
			}
			break;
		case 'a':
			addr = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) {
		fprintf(stderr,
		    "loom-example-backend: bad address '%s' "
		    "(expected IPv4)\n",
		    addr);
		return 2;
	}

	snprintf(base_url, sizeof(base_url), "http://%s:%ld", addr, port);

	/* Blocked before MHD starts its thread, so only sigwait() sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* the port again beside the address: MHD's own errors name it */
	d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port,
	    NULL, NULL, handle, NULL, MHD_OPTION_SOCK_ADDR,
	    (struct sockaddr *)&sin, MHD_OPTION_NOTIFY_COMPLETED, request_done,
	    NULL, MHD_OPTION_CONNECTION_TIMEOUT, 60u, MHD_OPTION_END);
	if (d == NULL) {
		fprintf(stderr,
		    "loom-example-backend: cannot listen on "
		    "%s:%ld: %s\n",
		    addr, port, strerror(errno));
		return 1;
	}
	fprintf(stderr, "loom-example-backend: listening on %s\n", base_url);
	while (sigwait(&set, &sig) != 0)
		;
	fprintf(stderr, "loom-example-backend: %s, stopping\n", strsignal(sig));
	MHD_stop_daemon(d);
	return 0;
}
