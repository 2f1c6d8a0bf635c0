/*
 * test_client: lib/net/client.c against a real HTTP server in this process
 * (libmicrohttpd, one thread per connection), over TCP and over a Unix
 * socket, plus the pure helpers.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jv.h>
#include <microhttpd.h>

#include "net/client.h"
#include "t.h"

struct req {
	char *body;
	size_t len;
};

static enum MHD_Result
answer(struct MHD_Connection *conn, unsigned status, const char *body)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	    strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc = MHD_queue_response(conn, status, r);

	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *data, size_t *size,
    void **con_cls)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)version;
	if (rq == NULL) {
		*con_cls = calloc(1, sizeof(struct req));
		return MHD_YES;
	}
	if (*size) {
		rq->body = realloc(rq->body, rq->len + *size + 1);
		memcpy(rq->body + rq->len, data, *size);
		rq->len += *size;
		rq->body[rq->len] = '\0';
		*size = 0;
		return MHD_YES;
	}
	if (!strcmp(url, "/json"))
		return answer(conn, 200, "{\"a\":1}");
	if (!strcmp(url, "/empty"))
		return answer(conn, 204, "");
	if (!strcmp(url, "/text"))
		return answer(conn, 502, "Bad gateway\nfrom a proxy");
	if (!strcmp(url, "/missing"))
		return answer(conn, 404,
		    "{\"error\":{\"code\":\"not_found\","
		    "\"message\":\"no workflow 'x'\",\"field\":null}}");
	if (!strcmp(url, "/slow")) {
		struct timespec ts = { 0, 400 * 1000000L };

		nanosleep(&ts, NULL);
		return answer(conn, 200, "{}");
	}
	if (!strcmp(url, "/echo")) {
		const char *ct = MHD_lookup_connection_value(
		    conn, MHD_HEADER_KIND, "Content-Type");
		const char *q = MHD_lookup_connection_value(
		    conn, MHD_GET_ARGUMENT_KIND, "q");
		jv o = JV_OBJECT(jv_string("method"), jv_string(method),
		    jv_string("ctype"), ct ? jv_string(ct) : jv_null(),
		    jv_string("body"), jv_string(rq->body ? rq->body : ""),
		    jv_string("q"), q ? jv_string(q) : jv_null());
		jv s = jv_dump_string(o, 0);
		enum MHD_Result rc = answer(conn, 201, jv_string_value(s));

		jv_free(s);
		return rc;
	}
	return answer(conn, 404, "");
}

static void
done(void *cls, struct MHD_Connection *conn, void **con_cls,
    enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (rq) {
		free(rq->body);
		free(rq);
	}
}

static struct MHD_Daemon *
serve(int listen_fd, int *port)
{
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	unsigned flags =
	    MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD;
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (listen_fd >= 0)
		d = MHD_start_daemon(flags, 0, NULL, NULL, handle, NULL,
		    MHD_OPTION_LISTEN_SOCKET, listen_fd,
		    MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
	else
		d = MHD_start_daemon(flags, 0, NULL, NULL, handle, NULL,
		    MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
		    MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
	if (d && port) {
		info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
		*port = info ? info->port : 0;
	}
	return d;
}

/* The string at key of o, compared with want; consumes o. */
static int
member_is(jv o, const char *key, const char *want)
{
	jv v = jv_get_kind(o) == JV_KIND_OBJECT ?
	    jv_object_get(jv_copy(o), jv_string(key)) :
	    jv_invalid();
	int eq = jv_get_kind(v) == JV_KIND_STRING &&
	    strcmp(jv_string_value(v), want) == 0;

	if (!eq && jv_get_kind(v) == JV_KIND_STRING)
		printf("#   %s: got '%s', want '%s'\n", key, jv_string_value(v),
		    want);
	jv_free(v);
	jv_free(o);
	return eq;
}

/* Everything a client must do against a live server at base. */
static void
exchange(const char *base)
{
	char *err = NULL, *msg;
	struct client *c = client_new(base, &err);
	jv r;
	int st;

	ok(c != NULL, "%s: client_new", base);
	if (c == NULL) {
		free(err);
		return;
	}
	is_str(client_base(c), base, "%s: client_base", base);

	st = client_json(c, "GET", "/json", jv_invalid(), &r);
	is_int(st, 200, "%s: GET /json status", base);
	ok(jv_get_kind(r) == JV_KIND_OBJECT &&
		jv_number_value(jv_object_get(jv_copy(r), jv_string("a"))) == 1,
	    "%s: GET /json body parsed", base);
	jv_free(r);

	st = client_json(c, "GET", "/empty", jv_invalid(), &r);
	is_int(st, 204, "%s: empty reply status", base);
	ok(jv_get_kind(r) == JV_KIND_NULL, "%s: empty reply is null", base);
	jv_free(r);

	st = client_json(c, "GET", "/text", jv_invalid(), &r);
	is_int(st, 502, "%s: non-JSON reply status", base);
	ok(jv_get_kind(r) == JV_KIND_STRING,
	    "%s: non-JSON reply is a "
	    "string",
	    base);
	msg = client_error_message(st, r);
	is_str(msg, "HTTP 502: Bad gateway",
	    "%s: its message is the first "
	    "line",
	    base);
	free(msg);

	st = client_json(c, "GET", "/missing", jv_invalid(), &r);
	is_int(st, 404, "%s: API error status", base);
	msg = client_error_message(st, r);
	is_str(msg, "no workflow 'x'", "%s: API error message", base);
	free(msg);

	st = client_json(c, "POST", "/echo?q=a%20b",
	    JV_OBJECT(jv_string("k"), jv_string("v")), &r);
	is_int(st, 201, "%s: POST JSON status", base);
	ok(member_is(jv_copy(r), "ctype", "application/json"),
	    "%s: POST JSON content type", base);
	ok(member_is(jv_copy(r), "body", "{\"k\":\"v\"}"),
	    "%s: POST JSON body is compact", base);
	ok(member_is(jv_copy(r), "q", "a b"), "%s: query string arrives", base);
	jv_free(r);

	st = client_request(
	    c, "POST", "/echo", "application/yaml", "id: x\n", 6, &r);
	is_int(st, 201, "%s: POST raw status", base);
	ok(member_is(jv_copy(r), "ctype", "application/yaml"),
	    "%s: POST raw content type", base);
	ok(member_is(jv_copy(r), "body", "id: x\n"), "%s: POST raw body", base);
	jv_free(r);

	st = client_json(c, "POST", "/echo", jv_invalid(), &r);
	is_int(st, 201, "%s: POST without a body", base);
	ok(member_is(jv_copy(r), "method", "POST") &&
		member_is(jv_copy(r), "body", ""),
	    "%s: it is an empty POST", base);
	jv_free(r);

	client_set_timeout(c, 100);
	errno = 0;
	st = client_json(c, "GET", "/slow", jv_invalid(), &r);
	is_int(st, -1, "%s: too slow an answer fails", base);
	is_int(errno, ETIMEDOUT, "%s: ... with ETIMEDOUT", base);
	ok(!jv_is_valid(r), "%s: ... and an invalid reply", base);
	msg = client_error_message(st, r);
	ok(msg && strstr(msg, base), "%s: the message names the server (%s)",
	    base, msg);
	free(msg);
	client_set_timeout(c, CLIENT_DEFAULT_TIMEOUT_MS);

	st = client_json(c, "GET", "/json", jv_invalid(), &r);
	is_int(st, 200, "%s: the client works after a timeout", base);
	jv_free(r);
	client_free(c);
}

static void
unreachable(const char *base, const char *want_in_msg)
{
	char *err = NULL, *msg;
	struct client *c = client_new(base, &err);
	jv r;
	int st;

	ok(c != NULL, "%s: client_new", base);
	if (c == NULL) {
		free(err);
		return;
	}
	errno = 0;
	st = client_json(c, "GET", "/healthz", jv_invalid(), &r);
	is_int(st, -1, "%s: fails", base);
	is_int(errno, ECONNREFUSED, "%s: errno is ECONNREFUSED", base);
	msg = client_error_message(st, r);
	ok(msg && strstr(msg, "cannot connect to") && strstr(msg, want_in_msg),
	    "%s: message '%s'", base, msg);
	free(msg);
	client_free(c);
}

static void
test_helpers(void)
{
	static const struct {
		const char *in, *out;
	} esc[] = {
		{ "daily-report", "daily-report" },
		{ "a b/c?d&e=f", "a%20b%2Fc%3Fd%26e%3Df" },
		{ "caf\xc3\xa9", "caf%C3%A9" },
		{ "A_z.0~", "A_z.0~" },
		{ "", "" },
	};
	static const char *const bad[] = {
		"",
		"localhost:8080",
		"unix:relative/path",
		"ftp://x",
		"http://127.0.0.1:8080/api",
	};
	char *s, *err;

	for (size_t i = 0; i < sizeof(esc) / sizeof(esc[0]); i++) {
		s = client_escape(esc[i].in);
		is_str(s, esc[i].out, "escape '%s'", esc[i].in);
		free(s);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct client *c;

		err = NULL;
		c = client_new(bad[i], &err);
		ok(c == NULL && err != NULL, "refuses address '%s' (%s)",
		    bad[i], err ? err : "no message");
		client_free(c);
		free(err);
	}
	s = client_error_message(500, jv_null());
	is_str(s, "HTTP 500", "message of an empty error reply");
	free(s);
	s = client_error_message(-1, jv_invalid_with_msg(jv_string("boom")));
	is_str(s, "boom", "message of a failed call");
	free(s);
	s = client_error_message(422,
	    JV_OBJECT(jv_string("error"),
		JV_OBJECT(jv_string("message"), jv_string("3 errors"))));
	is_str(s, "3 errors", "message of an API error");
	free(s);
	client_free(NULL);
}

int
main(void)
{
	struct MHD_Daemon *tcp, *unx;
	struct sockaddr_un sun;
	char dir[] = "/tmp/test_client.XXXXXX", base[160], missing[160];
	int port = 0, fd, closed_port;

	test_helpers();

	if ((tcp = serve(-1, &port)) == NULL || port == 0) {
		ok(0, "start a TCP test server");
		return t_done();
	}
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	exchange(base);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/", port);
	exchange(base);

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return t_done();
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/api.sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    listen(fd, 16) < 0 || (unx = serve(fd, NULL)) == NULL) {
		ok(0, "start a Unix-socket test server");
		return t_done();
	}
	snprintf(base, sizeof(base), "unix:%s", sun.sun_path);
	exchange(base);
	MHD_stop_daemon(unx);
	close(fd);

	/* A port nobody listens on: the one the TCP server had, stopped. */
	MHD_stop_daemon(tcp);
	closed_port = port;
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", closed_port);
	unreachable(base, "127.0.0.1");
	/* A socket file that nobody listens on, and none at all. */
	snprintf(base, sizeof(base), "unix:%s", sun.sun_path);
	unreachable(base, "nothing is listening");
	unlink(sun.sun_path);
	snprintf(missing, sizeof(missing), "unix:%s", sun.sun_path);
	unreachable(missing, "No such file");
	rmdir(dir);
	return t_done();
}
