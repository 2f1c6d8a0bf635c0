/*
 * reply: the answers of loom-api.  Every answer is JSON: a handler's jv,
 * printed by api_send(), or the JSON text a hot read path wrote itself
 * (api_set_json_text); errors have the one shape of the contract
 * (api_error: {"error":{"code","message","field"}}).  A handler may add
 * a few headers (api_set_header).  What a handler hands over here
 * (*out, the JSON text, header copies) belongs to its api_conn from then
 * on, and is freed with it (request.c).
 */
#include "server.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "util/jsonutil.h"
#include "core/xalloc.h"

static jv
error_body(const char *code, const char *field, jv details, const char *fmt,
    va_list ap)
{
	char *msg;
	jv e = jv_object();

	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	e = jv_put(e, "code", jv_string(code));
	e = jv_put(e, "message", jv_string(msg ? msg : code));
	e = jv_put(e, "field", field ? jv_string(field) : jv_null());
	if (jv_is_valid(details))
		e = jv_put(e, "details", details);
	else
		jv_free(details);
	free(msg);
	return jv_object_set(jv_object(), jv_string("error"), e);
}

int
api_error(jv *out, int status, const char *code, const char *field,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	*out = error_body(code, field, jv_invalid(), fmt, ap);
	va_end(ap);
	return status;
}

int
api_error_details(
    jv *out, int status, const char *code, jv details, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	*out = error_body(code, NULL, details, fmt, ap);
	va_end(ap);
	return status;
}

void
api_set_header(struct api_request *rq, const char *name, const char *value)
{
	struct api_conn *rc = rq->conn;

	if (rc->nhdr == API_MAX_HEADERS)
		return;
	rc->hdr[rc->nhdr].name = xstrdup(name);
	rc->hdr[rc->nhdr].value = xstrdup(value);
	rc->nhdr++;
}

void
api_set_text(struct api_request *rq, char *text, size_t len, const char *type)
{
	api_set_json_text(rq, text, len);
	rq->conn->text_type = type;
}

void
api_set_json_text(struct api_request *rq, char *text, size_t len)
{
	free(rq->conn->json_text);
	rq->conn->json_text = text;
	rq->conn->json_len = len;
}

enum MHD_Result
api_send(struct api_conn *rc, int status, jv body)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	jv s;
	size_t n;
	char *p;

	if (rc->json_text != NULL && status >= 200 && status < 300) {
		/* The handler wrote the body itself; its NUL makes room. */
		jv_free(body);
		p = rc->json_text;
		n = rc->json_len;
		rc->json_text = NULL;
		p[n] = '\n';
		goto send;
	}
	if (!jv_is_valid(body)) {
		jv_free(body);
		api_error(&body, 500, "internal", NULL, "internal error");
		status = 500;
	}
	s = jv_dump_string(body, 0);
	n = (size_t)jv_string_length_bytes(jv_copy(s));
	p = xmalloc(n + 1);
	memcpy(p, jv_string_value(s), n);
	p[n] = '\n';
	jv_free(s);
send:
	rc->resp_len = n + 1;
	resp = MHD_create_response_from_buffer(n + 1, p, MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(p);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type",
	    rc->text_type ? rc->text_type : "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	for (size_t i = 0; i < rc->nhdr; i++)
		MHD_add_response_header(
		    resp, rc->hdr[i].name, rc->hdr[i].value);
	ret = MHD_queue_response(rc->mc, (unsigned)status, resp);
	MHD_destroy_response(resp);
	if (log_get_level() >= LOG_LVL_DEBUG)
		api_log_request(rc->method, rc->rq.path, status,
		    api_mono_ms() - rc->t0, NULL);
	return ret;
}

enum MHD_Result
api_send_error(struct api_conn *rc, int status, const char *code,
    const char *field, const char *fmt, ...)
{
	va_list ap;
	jv body;

	va_start(ap, fmt);
	body = error_body(code, field, jv_invalid(), fmt, ap);
	va_end(ap);
	return api_send(rc, status, body);
}
