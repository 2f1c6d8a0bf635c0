/*
 * wf_get: the loader's typed getters (part of the loader, see workflow.c).
 *
 * Each takes a node of the YAML tree and the key it was found under, and
 * either returns the value (a string borrowed from the tree, a number, a
 * duration, a closed-list index, or a malloc'd copy where the name says
 * so) or reports what is wrong at the node's line:column and returns
 * NULL / -1 / jv_invalid, so the walk goes on and every error of the file
 * is reported.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "duration.h"
#include "wf_int.h"
#include "xalloc.h"

/* ---- typed getters ---------------------------------------------------- */

/*
 * Reports "expected WANT for 'KEY', found WHAT" (or "in 'KEY'" for an item
 * of a list), with a hint when a string was wanted and a plain scalar of
 * another type was written.
 */
void
expect(struct wctx *c, const struct ynode *n, const char *want, const char *key,
    int item)
{
	const char *hint = "";

	if (strcmp(want, "a string") == 0 && n->type == YN_SCALAR &&
	    n->kind != YS_STR && n->kind != YS_NULL)
		hint = " (quote it to use it as text)";
	else if (n->type == YN_SCALAR && n->kind == YS_STR && n->n > 0 &&
	    (strstr(want, "integer") || strstr(want, "number")) &&
	    strspn(n->u.str, "0123456789.-+") == n->n)
		hint = " (remove the quotes)";
	report(c, n, "expected %s %s '%s', found %s%s", want,
	    item ? "in" : "for", key, ynode_kind_name(n), hint);
}

const char *
get_str(struct wctx *c, const struct ynode *n, const char *key, int item)
{
	if (!ynode_is_str(n)) {
		expect(c, n, "a string", key, item);
		return NULL;
	}
	if (strlen(n->u.str) != n->n) {
		report(c, n, "'%s' contains a NUL character", key);
		return NULL;
	}
	return n->u.str;
}

/* A non-empty string. */
const char *
get_nonempty(struct wctx *c, const struct ynode *n, const char *key)
{
	const char *s = get_str(c, n, key, 0);

	if (s != NULL && *s == '\0') {
		report(c, n, "'%s' is empty", key);
		return NULL;
	}
	return s;
}

/*
 * The text of a string, number or boolean: for values that end up as
 * strings anyway (environment variables, header values, arguments), where
 * `PORT: 8080` should just work.
 */
const char *
get_text(struct wctx *c, const struct ynode *n, const char *key, int item)
{
	if (n->type != YN_SCALAR || n->kind == YS_NULL) {
		expect(c, n, "a string", key, item);
		return NULL;
	}
	if (strlen(n->u.str) != n->n) {
		report(c, n, "'%s' contains a NUL character", key);
		return NULL;
	}
	return n->u.str;
}

int
get_int(struct wctx *c, const struct ynode *n, const char *key, int64_t lo,
    int64_t hi, int64_t *out)
{
	int64_t v;

	if (n->type != YN_SCALAR ||
	    (n->kind != YS_INT && n->kind != YS_FLOAT)) {
		expect(c, n, "an integer", key, 0);
		return -1;
	}
	if (ynode_int(n, &v) < 0) {
		report(c, n, "expected an integer for '%s', found %s", key,
		    n->u.str);
		return -1;
	}
	if (v < lo || v > hi) {
		report(c, n, "'%s' must be between %lld and %lld, found %lld",
		    key, (long long)lo, (long long)hi, (long long)v);
		return -1;
	}
	*out = v;
	return 0;
}

int
get_double(struct wctx *c, const struct ynode *n, const char *key, double lo,
    double hi, double *out)
{
	double v;

	if (n->type != YN_SCALAR ||
	    (n->kind != YS_INT && n->kind != YS_FLOAT)) {
		expect(c, n, "a number", key, 0);
		return -1;
	}
	if (ynode_double(n, &v) < 0 || !isfinite(v) || v < lo || v > hi) {
		report(c, n, "'%s' must be a number from %g to %g, found %s",
		    key, lo, hi, n->u.str);
		return -1;
	}
	*out = v;
	return 0;
}

int
get_duration(struct wctx *c, const struct ynode *n, const char *key,
    int positive, int64_t *out)
{
	const char *err;
	int64_t ms;

	if (!ynode_is_str(n)) {
		expect(c, n, "a duration like 30s, 5m or 500ms", key, 0);
		return -1;
	}
	if (duration_parse(n->u.str, &ms, &err) < 0) {
		report(
		    c, n, "bad duration '%s' for '%s': %s", n->u.str, key, err);
		return -1;
	}
	if (positive && ms == 0) {
		report(c, n, "'%s' must be longer than 0s", key);
		return -1;
	}
	*out = ms;
	return 0;
}

/* Matches a string against a closed list; reports with a hint. */
int
get_enum(struct wctx *c, const struct ynode *n, const char *key,
    const char *const *names, size_t nnames, int fold_case)
{
	const char *s = get_str(c, n, key, 0), *best;
	char *list;

	if (s == NULL)
		return -1;
	for (size_t i = 0; i < nnames; i++)
		if (fold_case ? !strcasecmp(s, names[i]) : !strcmp(s, names[i]))
			return (int)i;
	list = join_or(names, nnames);
	best = dym_best(s, names, nnames);
	if (best != NULL)
		report(c, n, "unknown %s '%s': expected %s; did you mean '%s'?",
		    key, s, list, best);
	else
		report(c, n, "unknown %s '%s': expected %s", key, s, list);
	free(list);
	return -1;
}

static int
valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ID_MAX)
		return 0;
	return strspn(s,
		   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		   "0123456789_.-") == n;
}

char *
get_id(struct wctx *c, const struct ynode *n, const char *what)
{
	const char *s = get_str(c, n, "id", 0);

	if (s == NULL)
		return NULL;
	if (!valid_id(s)) {
		report(c, n,
		    "invalid %s id '%s': use 1 to %d letters, digits, "
		    "'_', '.' or '-'",
		    what, s, ID_MAX);
		return NULL;
	}
	return xstrdup(s);
}

/* A list of text items: a sequence, or (when single_ok) one string. */
char **
get_text_list(struct wctx *c, const struct ynode *n, const char *key,
    int single_ok, size_t *count)
{
	char **v;
	size_t k = 0;
	int bad = 0;

	*count = 0;
	if (single_ok && ynode_is_str(n)) {
		v = xcalloc(2, sizeof(*v));
		v[0] = xstrdup(n->u.str);
		*count = 1;
		return v;
	}
	if (n->type != YN_SEQ) {
		expect(c, n,
		    single_ok ? "a string or a list of strings" :
				"a list of strings",
		    key, 0);
		return NULL;
	}
	v = xcalloc(n->n + 1, sizeof(*v));
	for (size_t i = 0; i < n->n; i++) {
		const char *s = get_text(c, n->u.items[i], key, 1);

		if (s == NULL)
			bad = 1;
		else
			v[k++] = xstrdup(s);
	}
	if (bad) {
		for (size_t i = 0; i < k; i++)
			free(v[i]);
		free(v);
		return NULL;
	}
	*count = k;
	return v;
}

void
free_strv(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int
expect_map(struct wctx *c, const struct ynode *n, const char *key)
{
	if (n->type != YN_MAP) {
		expect(c, n, "a mapping", key, 0);
		return -1;
	}
	return 0;
}

/* A JSON value from a node; reports values JSON cannot hold. */
jv
node_json(struct wctx *c, const struct ynode *n, const char *key)
{
	jv v = ynode_to_jv(n);

	if (!jv_is_valid(v)) {
		jv msg = jv_invalid_get_msg(v);

		report(c, n, "in '%s': %s", key,
		    jv_get_kind(msg) == JV_KIND_STRING ? jv_string_value(msg) :
							 "not JSON");
		jv_free(msg);
		return jv_invalid();
	}
	return v;
}

/* A mapping of names to text values, as a JSON object; or jv_invalid. */
jv
get_string_map(
    struct wctx *c, const struct ynode *n, const char *key, int header_names)
{
	jv o;
	int bad = 0;

	if (expect_map(c, n, key) < 0)
		return jv_invalid();
	o = jv_object();
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = ynode_key(n, i);
		const char *v = get_text(c, ynode_val(n, i), key, 1);
		const char *name = k->u.str;

		if (header_names ?
			(*name == '\0' ||
			    strcspn(name, " \t\r\n:()<>@,;\\\"/[]?={}") !=
				k->n) :
			(*name == '\0' || strchr(name, '=') != NULL ||
			    strlen(name) != k->n)) {
			report(c, k, "invalid %s name '%s'",
			    header_names ? "header" : "environment variable",
			    name);
			bad = 1;
			continue;
		}
		if (header_names &&
		    (!strcasecmp(name, "Idempotency-Key") ||
			!strcasecmp(name, "traceparent") ||
			!strcasecmp(name, "X-Loom-Timestamp") ||
			!strcasecmp(name, "X-Loom-Signature"))) {
			report(c, k,
			    "header '%s' is set by Link Loom and cannot "
			    "be overridden",
			    name);
			bad = 1;
			continue;
		}
		if (v == NULL) {
			bad = 1;
			continue;
		}
		o = jv_object_set(o, jv_string(name), jv_string(v));
	}
	if (bad) {
		jv_free(o);
		return jv_invalid();
	}
	return o;
}
