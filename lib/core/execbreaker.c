/* execbreaker: see execbreaker.h. */
#include "execbreaker.h"

#include <string.h>

#include "breaker.h"

/* o.a.b (o consumed): null when missing or when o or o.a is no object
 * (read for every task: two lookups, not jv_getpath()'s path array). */
static jv
member2(jv o, const char *a, const char *b)
{
	jv v;

	if (jv_get_kind(o) != JV_KIND_OBJECT) {
		jv_free(o);
		return jv_null();
	}
	v = jv_object_get(o, jv_string(a));
	if (jv_get_kind(v) != JV_KIND_OBJECT) {
		jv_free(v);
		return jv_null();
	}
	v = jv_object_get(v, jv_string(b));
	if (!jv_is_valid(v)) {
		jv_free(v);
		return jv_null();
	}
	return v;
}

int
execbreaker_target(jv request, char *buf, size_t len)
{
	jv type, url;
	int ok = 0;

	if (jv_get_kind(request) != JV_KIND_OBJECT) {
		jv_free(request);
		return 0;
	}
	type = member2(jv_copy(request), "task", "type");
	url = member2(request, "task", "url");
	if (jv_get_kind(type) == JV_KIND_STRING &&
	    strcmp(jv_string_value(type), "http") == 0 &&
	    jv_get_kind(url) == JV_KIND_STRING &&
	    breaker_target_of(jv_string_value(url), buf, len) == 0)
		ok = 1;
	jv_free(type);
	jv_free(url);
	return ok;
}

enum execbreaker_verdict
execbreaker_outcome(jv result, enum errclass *outcome)
{
	jv st, type;
	enum execbreaker_verdict v = EXECBREAKER_RECORD;

	*outcome = ERR_NONE;
	if (jv_get_kind(result) != JV_KIND_OBJECT) {
		jv_free(result);
		*outcome = ERR_TASK_FAILED;
		return v;
	}
	st = jv_object_get(jv_copy(result), jv_string("status"));
	type = member2(result, "error", "type");
	if (jv_get_kind(st) == JV_KIND_STRING &&
	    (strcmp(jv_string_value(st), "SUCCESS") == 0 ||
		strcmp(jv_string_value(st), "ACCEPTED") == 0))
		; /* the target answered: a success */
	else if (jv_get_kind(type) == JV_KIND_STRING &&
	    strcmp(jv_string_value(type), "Cancelled") == 0)
		v = EXECBREAKER_RELEASE;
	else if (jv_get_kind(type) != JV_KIND_STRING ||
	    errclass_parse(jv_string_value(type), outcome) < 0 ||
	    *outcome == ERR_NONE)
		*outcome = ERR_TASK_FAILED;
	jv_free(st);
	jv_free(type);
	return v;
}
