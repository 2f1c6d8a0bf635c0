/*
 * test_otlp: the derived trace ids, the OTLP JSON of a span and the
 * trace.* / OTEL_* configuration (lib/net/otlp.h).  The exporter itself
 * is tested against a real receiver in tests/traces.bats.
 */
#include <stdlib.h>
#include <string.h>

#include "net/otlp.h"
#include "run/runner.h"
#include "t.h"

static int
is_hex(const char *s, size_t n)
{
	if (strlen(s) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return 0;
	return 1;
}

static void
test_ids(void)
{
	char t1[OTLP_TRACE_HEX], t2[OTLP_TRACE_HEX], r[OTLP_SPAN_HEX];
	char a1[OTLP_SPAN_HEX], a2[OTLP_SPAN_HEX], a3[OTLP_SPAN_HEX];
	char tp[56], want[80];

	otlp_trace_id("exec-1", t1);
	otlp_trace_id("exec-1", t2);
	ok(is_hex(t1, 32), "trace id is 32 hex digits: %s", t1);
	is_str(t1, t2, "the same execution, the same trace");
	otlp_trace_id("exec-2", t2);
	ok(strcmp(t1, t2) != 0, "another execution, another trace");
	otlp_run_span_id("exec-1", r);
	otlp_attempt_span_id("exec-1", "a", 1, a1);
	otlp_attempt_span_id("exec-1", "a", 2, a2);
	otlp_attempt_span_id("exec-1", "b", 1, a3);
	ok(is_hex(r, 16) && is_hex(a1, 16), "span ids are 16 hex digits");
	ok(strcmp(a1, a2) && strcmp(a1, a3) && strcmp(a1, r),
	    "each attempt has its own span, apart from the run's");
	otlp_attempt_traceparent("exec-1", "a", 1, tp);
	snprintf(want, sizeof(want), "00-%s-%s-01", t1, a1);
	is_str(tp, want, "traceparent carries the attempt's span");
	ok(runner_traceparent_valid(tp), "and is a valid traceparent");
}

static void
test_span_json(void)
{
	struct otlp_span s = { .trace_id = "0123456789abcdef0123456789abcdef",
		.span_id = "0123456789abcdef",
		.parent_id = "fedcba9876543210",
		.name = "task a",
		.kind = 3,
		.start_ms = 1700000000123,
		.end_ms = 1700000000456,
		.error = 1,
		.message = "boom" };
	jv o = otlp_span_json(&s,
	    JV_OBJECT(jv_string("loom.task.attempt"), jv_number(2),
		jv_string("loom.task.id"), jv_string("a"), jv_string("gone"),
		jv_null()));
	jv d = jv_dump_string(o, JV_PRINT_SORTED);

	is_str(jv_string_value(d),
	    "{\"attributes\":[{\"key\":\"loom.task.attempt\",\"value\":"
	    "{\"intValue\":\"2\"}},{\"key\":\"loom.task.id\",\"value\":"
	    "{\"stringValue\":\"a\"}}],\"endTimeUnixNano\":"
	    "\"1700000000456000000\",\"kind\":3,\"name\":\"task a\","
	    "\"parentSpanId\":\"fedcba9876543210\",\"spanId\":"
	    "\"0123456789abcdef\",\"startTimeUnixNano\":"
	    "\"1700000000123000000\",\"status\":{\"code\":2,\"message\":"
	    "\"boom\"},\"traceId\":\"0123456789abcdef0123456789abcdef\"}",
	    "a span in OTLP JSON: ids in hex, times in ns as strings, "
	    "null attributes left out");
	jv_free(d);
	s.parent_id = NULL;
	s.error = 0;
	o = otlp_span_json(&s, jv_object());
	ok(!jv_object_has(jv_copy(o), jv_string("parentSpanId")),
	    "a root span has no parent");
	d = jv_getpath(o, JV_ARRAY(jv_string("status"), jv_string("code")));
	is_int(jv_number_value(d), 1, "status OK");
	jv_free(d);
}

static void
test_config(void)
{
	struct otlp_config c;
	char *err = NULL;
	int rc;
	jv v;

	unsetenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
	unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
	unsetenv("OTEL_SERVICE_NAME");
	unsetenv("OTEL_RESOURCE_ATTRIBUTES");
	ok(otlp_config_load(&c, NULL, "loom-exec", &err) == 0, "no config");
	ok(c.endpoint == NULL, "no endpoint: tracing is off");
	is_str(c.service_name, "loom-exec", "service.name is the daemon's");
	otlp_config_free(&c);

	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/", 1);
	setenv("OTEL_SERVICE_NAME", "etl", 1);
	setenv("OTEL_RESOURCE_ATTRIBUTES", "team=data%20eng,env=prod", 1);
	ok(otlp_config_load(&c, NULL, "loom-exec", &err) == 0, "from env");
	is_str(c.endpoint, "http://collector:4318/v1/traces",
	    "OTEL_EXPORTER_OTLP_ENDPOINT gets /v1/traces");
	is_str(c.service_name, "etl", "OTEL_SERVICE_NAME");
	v = jv_object_get(jv_copy(c.resource), jv_string("team"));
	is_str(jv_string_value(v), "data eng", "resource values decoded");
	jv_free(v);
	otlp_config_free(&c);

	setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://t:1/x", 1);
	ok(otlp_config_load(&c, NULL, "loom-exec", &err) == 0, "traces env");
	is_str(c.endpoint, "http://t:1/x",
	    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is taken as it is");
	otlp_config_free(&c);

	setenv("OTEL_RESOURCE_ATTRIBUTES", "novalue", 1);
	rc = otlp_config_load(&c, NULL, "loom-exec", &err);
	ok(rc == -1 && err,
	    "a malformed OTEL_RESOURCE_ATTRIBUTES is an "
	    "error: %s",
	    err ? err : "");
	free(err);
}

int
main(void)
{
	test_ids();
	test_span_json();
	test_config();
	return t_done();
}
