/*
 * workflow: the workflow DSL loader and validator (see workflow.h and
 * loom-workflow(5)).
 *
 * Loading is two passes over the node tree of yamlnode.h.  The first walks
 * every key of the workflow and of each task once, checking types and
 * values and filling the model; a problem is recorded as a diagnostic at
 * the node's line:column and the walk goes on, so one run reports every
 * error of the file.  Keys are matched against per-place tables, which also
 * drive the "did you mean" hints (edit distance <= 2, or a case-insensitive
 * match).  The second pass resolves dependsOn through a hash map of task
 * ids, then builds the DAG (lib/core/dag.h) and reports a cycle with its path.
 * Retry policies are partial overlays applied in a fixed order (built-in
 * default, retryStrategy, workflow retryPolicy and defaults, task
 * retryPolicy, task keys), so each task ends up with a complete policy.
 * jq programs (`when:`, templates) are compiled after the walk, in batches,
 * because libjq pays a fixed cost per compile (see jq_check_all).
 *
 * Everything is linear in the size of the file: a 100,000-task workflow
 * loads in a fraction of a second.  The only quadratic-looking piece, the
 * "did you mean" search over task ids for a dangling dependency, runs only
 * on errors and compares a bounded number of candidates.
 *
 * Ownership: the returned model owns all its strings and jv values; the
 * YAML tree and the jq cache live only for the duration of the load.
 */
#include "workflow.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cron.h"
#include "dag.h"
#include "duration.h"
#include "hmap.h"
#include "jqx.h"
#include "xalloc.h"
#include "yamlnode.h"

#define ID_MAX 128
#define DEFAULT_TASK_TIMEOUT_MS (5 * 60 * 1000)
#define MAX_ATTEMPTS_LIMIT 1000
#define DYM_MAX_CANDIDATES 10000 /* task ids compared for one hint */
#define DYM_MAX_HINTS 100	 /* dangling deps that get a hint */

/* ---- key tables ------------------------------------------------------ */

/* clang-format off */

enum wkey {
	WK_ID, WK_NAME, WK_DESCRIPTION, WK_SCHEDULE, WK_TIMEZONE,
	WK_RETRYSTRATEGY, WK_RETRYPOLICY, WK_DEFAULTS, WK_PARAMS, WK_TIMEOUT,
	WK_CONCURRENCY, WK_TASKS, WK_SIGNING, WK__COUNT
};

static const char *const wf_keys[WK__COUNT] = {
	"id", "name", "description", "schedule", "timezone", "retryStrategy",
	"retryPolicy", "defaults", "params", "timeout", "concurrency", "tasks",
	"signing",
};

enum tkey {
	TK_ID, TK_NAME, TK_DESCRIPTION, TK_TYPE, TK_DEPENDSON, TK_TIMEOUT,
	TK_MAXATTEMPTS, TK_RETRYON, TK_DONTRETRYON, TK_RETRYPOLICY, TK_WHEN,
	TK_INPUT,
	TK_METHOD, TK_URL, TK_HEADERS, TK_BODY, TK_SIGNING, /* http */
	TK_COMMAND, TK_ENV, TK_WORKDIR,			/* shell */
	TK_CLASS, TK_CLASSPATH, TK_ARGS, TK_JVMOPTIONS, /* java */
	TK__COUNT
};

#define TK_FIRST_TYPED TK_METHOD

static const char *const task_keys[TK__COUNT] = {
	"id", "name", "description", "type", "dependsOn", "timeout",
	"maxAttempts", "retryOn", "dontRetryOn", "retryPolicy", "when",
	"input",
	"method", "url", "headers", "body", "signing",
	"command", "env", "workdir",
	"class", "classpath", "args", "jvmOptions",
};

/* The task type a key belongs to (for keys from TK_FIRST_TYPED on). */
static enum task_type
task_key_owner(int k)
{
	if (k <= TK_SIGNING)
		return TASK_HTTP;
	if (k <= TK_WORKDIR)
		return TASK_SHELL;
	return TASK_JAVA;
}

enum rkey {
	RK_MAXATTEMPTS, RK_BACKOFF, RK_INITIAL, RK_MAXDELAY, RK_MULTIPLIER,
	RK_JITTER, RK_RETRYON, RK_DONTRETRYON, RK__COUNT
};

static const char *const retry_keys[RK__COUNT] = {
	"maxAttempts", "backoffStrategy", "initialDelay", "maxDelay",
	"multiplier", "jitter", "retryOn", "dontRetryOn",
};

enum dkey {
	DK_TIMEOUT, DK_MAXATTEMPTS, DK_RETRYON, DK_DONTRETRYON,
	DK_RETRYPOLICY, DK_HEADERS, DK__COUNT
};

static const char *const defaults_keys[DK__COUNT] = {
	"timeout", "maxAttempts", "retryOn", "dontRetryOn", "retryPolicy",
	"headers",
};

enum ckey { CK_MAX, CK_POLICY, CK__COUNT };

static const char *const conc_keys[CK__COUNT] = { "max", "policy" };

static const char *const type_names[] = { "http", "shell", "java" };
static const char *const policy_names[] = { "queue", "skip",
	"cancel-oldest" };
static const char *const backoff_names[] = { "exponential", "linear",
	"fixed" };
static const char *const http_methods[] = { "GET", "POST", "PUT", "PATCH",
	"DELETE", "HEAD" };

/* clang-format on */

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the loader's state ----------------------------------------------- */

/* A partial retry policy: the fields one level of the file sets. */
enum {
	RP_MAX = 1 << 0,
	RP_STRATEGY = 1 << 1,
	RP_INITIAL = 1 << 2,
	RP_MAXDELAY = 1 << 3,
	RP_MULTIPLIER = 1 << 4,
	RP_JITTER = 1 << 5,
	RP_ON = 1 << 6,
	RP_DONT = 1 << 7,
};

struct rp_over {
	unsigned set;
	struct retry_policy p;
};

struct wctx {
	const char *file;
	const struct workflow_opts *opts; /* or NULL */
	struct diags *d;
	size_t nerr;	/* diagnostics this load produced */
	struct jqx *jq; /* made on first use */
	struct workflow *wf;

	/* per task, borrowed from the YAML tree */
	const struct ynode **task_nodes;
	const struct ynode **id_nodes;
	size_t *dep_first; /* task i's dependsOn nodes: dep_nodes[...] */
	const struct ynode **dep_nodes;
	size_t ndep_nodes, dep_nodes_cap;

	jv default_headers; /* defaults.headers, or null */

	/* jq programs and templates, checked together after the walk */
	struct jqitem *jqitems;
	size_t njqitems, jqitems_cap;
	int defaults_ok; /* workflow retry defaults are consistent */
	int nhints;	 /* dangling dependencies given a hint */
	int stored;	 /* a stored spec, accepted when it was applied */
};

/* A `when:` program or a template string to compile-check. */
struct jqitem {
	const struct ynode *node; /* the string, for its text and place */
	const char *key;	  /* "when", "input", "headers", "body" */
};

static void __attribute__((format(printf, 3, 4)))
report(struct wctx *c, const struct ynode *at, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	diags_add(c->d, c->file, at ? at->line : 0, at ? at->col : 0, "%s",
	    msg ? msg : "(out of memory)");
	free(msg);
	c->nerr++;
}

static struct jqx *
ctx_jq(struct wctx *c)
{
	if (c->jq == NULL)
		c->jq = jqx_new();
	return c->jq;
}

/* ---- "did you mean" --------------------------------------------------- */

/*
 * Optimal-string-alignment distance (Levenshtein plus transpositions) on
 * lower-cased text, giving up early above 2.  Returns 3 for "far".
 */
static int
edit_distance(const char *a, const char *b)
{
	int la = (int)strlen(a), lb = (int)strlen(b);
	int d[3][66]; /* three rows: i-2, i-1, i */

	if (la > 64 || lb > 64 || abs(la - lb) > 2)
		return 3;
	for (int j = 0; j <= lb; j++)
		d[0][j] = j;
	for (int i = 1; i <= la; i++) {
		int *cur = d[i % 3], *prev = d[(i - 1) % 3];
		int *prev2 = d[(i + 1) % 3], rowmin;

		cur[0] = i;
		rowmin = i;
		for (int j = 1; j <= lb; j++) {
			int ca = tolower((unsigned char)a[i - 1]);
			int cb = tolower((unsigned char)b[j - 1]);
			int cost = ca != cb;
			int v = prev[j] + 1;

			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (prev[j - 1] + cost < v)
				v = prev[j - 1] + cost;
			if (i > 1 && j > 1 &&
			    ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb &&
			    prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
			if (v < rowmin)
				rowmin = v;
		}
		if (rowmin > 2)
			return 3;
	}
	return d[la % 3][lb] > 3 ? 3 : d[la % 3][lb];
}

/* Whether cand is a plausible intended spelling of s. */
static int
dym_score(const char *s, const char *cand)
{
	int dist;

	if (strcasecmp(s, cand) == 0)
		return 0;
	dist = edit_distance(s, cand);
	if (dist > 2 || dist >= (int)strlen(s))
		return 3;
	return dist;
}

static const char *
dym_best(const char *s, const char *const *cands, size_t n)
{
	const char *best = NULL;
	int bestd = 3;

	for (size_t i = 0; i < n; i++) {
		int dd;

		if (cands[i] == NULL)
			continue;
		dd = dym_score(s, cands[i]);
		if (dd < bestd) {
			bestd = dd;
			best = cands[i];
		}
	}
	return best;
}

/* Prints "a, b or c" for a short list of names. */
static char *
join_or(const char *const *names, size_t n)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; i < n; i++)
		len += strlen(names[i]) + 4;
	s = xmalloc(len);
	s[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			strcat(s, i + 1 == n ? " or " : ", ");
		strcat(s, names[i]);
	}
	return s;
}

/* ---- typed getters ---------------------------------------------------- */

/*
 * Reports "expected WANT for 'KEY', found WHAT" (or "in 'KEY'" for an item
 * of a list), with a hint when a string was wanted and a plain scalar of
 * another type was written.
 */
static void
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

static const char *
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
static const char *
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
static const char *
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

static int
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

static int
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

static int
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
static int
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

static char *
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
static char **
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
		    single_ok ? "a string or a list of strings"
			      : "a list of strings",
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

static void
free_strv(char **v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * Looks up every key of mapping m in names[] and stores its value node in
 * slots[] (and the key node in keys[] when not NULL).  Keys starting with
 * "x-" are extensions and ignored.  Unknown keys are stored in unknown[]
 * (up to max) for the caller to report; their number is returned.
 */
static size_t
map_slots(const struct ynode *m, const char *const *names, size_t nnames,
    const struct ynode **slots, const struct ynode **keys,
    const struct ynode **unknown, size_t max)
{
	size_t nunknown = 0;

	for (size_t i = 0; i < nnames; i++) {
		slots[i] = NULL;
		if (keys != NULL)
			keys[i] = NULL;
	}
	for (size_t i = 0; i < m->n; i++) {
		const struct ynode *k = ynode_key(m, i);
		size_t j;

		for (j = 0; j < nnames; j++)
			if (strcmp(k->u.str, names[j]) == 0)
				break;
		if (j < nnames) {
			slots[j] = ynode_val(m, i);
			if (keys != NULL)
				keys[j] = k;
		} else if (strncmp(k->u.str, "x-", 2) != 0 && nunknown < max)
			unknown[nunknown++] = k;
	}
	return nunknown;
}

/* Where a key that is unknown at one place does belong. */
static const char *
key_home(const char *key, const char *here)
{
	size_t i;

	if (strcmp(here, "retryPolicy") != 0)
		for (i = RK_BACKOFF; i <= RK_JITTER; i++)
			if (strcmp(key, retry_keys[i]) == 0)
				return "it belongs under 'retryPolicy'";
	if (strcmp(here, "workflow") != 0)
		for (i = 0; i < WK__COUNT; i++)
			if (strcmp(key, wf_keys[i]) == 0)
				return "it is a workflow key: check the "
				       "indentation";
	if (strncmp(here, "task", 4) != 0)
		for (i = 0; i < TK__COUNT; i++)
			if (strcmp(key, task_keys[i]) == 0)
				return "it is a task key: check the "
				       "indentation";
	return NULL;
}

static void
report_unknown(struct wctx *c, const struct ynode *k, const char *here,
    const char *const *cands, size_t ncands)
{
	const char *best = dym_best(k->u.str, cands, ncands), *home;

	if (best != NULL)
		report(c, k, "unknown key '%s' in %s; did you mean '%s'?",
		    k->u.str, here, best);
	else if ((home = key_home(k->u.str, here)) != NULL)
		report(
		    c, k, "unknown key '%s' in %s; %s", k->u.str, here, home);
	else
		report(c, k, "unknown key '%s' in %s", k->u.str, here);
}

static int
expect_map(struct wctx *c, const struct ynode *n, const char *key)
{
	if (n->type != YN_MAP) {
		expect(c, n, "a mapping", key, 0);
		return -1;
	}
	return 0;
}

/* ---- retry policies --------------------------------------------------- */

static int
get_errclasses(
    struct wctx *c, const struct ynode *n, const char *key, unsigned *out)
{
	static const char *names[ERR__COUNT];
	unsigned set = 0;
	int bad = 0;
	const struct ynode *const *items;
	const struct ynode *one[1];
	size_t count;

	for (int i = 1; i < ERR__COUNT; i++)
		names[i - 1] = errclass_name((enum errclass)i);
	if (ynode_is_str(n)) {
		one[0] = n;
		items = one;
		count = 1;
	} else if (n->type == YN_SEQ) {
		items = (const struct ynode *const *)n->u.items;
		count = n->n;
	} else {
		expect(c, n, "a list of error classes", key, 0);
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		const char *s = get_str(c, items[i], key, 1), *best;
		enum errclass ec;
		char *list, *base;

		if (s == NULL) {
			bad = 1;
			continue;
		}
		if (errclass_parse(s, &ec) == 0 && ec != ERR_NONE) {
			set |= ERRCLASS_BIT(ec);
			continue;
		}
		bad = 1;
		base = xstrndup(s, strcspn(s, " ("));
		best = dym_best(base, names, ERR__COUNT - 1);
		list = join_or(names, ERR__COUNT - 1);
		if (best != NULL)
			report(c, items[i],
			    "unknown error class '%s' in '%s'; "
			    "did you mean '%s'?",
			    s, key, best);
		else
			report(c, items[i],
			    "unknown error class '%s' in '%s': "
			    "expected %s",
			    s, key, list);
		free(list);
		free(base);
	}
	if (bad)
		return -1;
	*out = set;
	return 0;
}

/* The retry keys shared by retryPolicy, task and defaults mappings. */
static void
parse_retry_keys(struct wctx *c, const struct ynode *maxn,
    const struct ynode *onn, const struct ynode *dontn, struct rp_over *o)
{
	int64_t v;

	if (maxn &&
	    get_int(c, maxn, "maxAttempts", 1, MAX_ATTEMPTS_LIMIT, &v) == 0) {
		o->p.max_attempts = (int)v;
		o->set |= RP_MAX;
	}
	if (onn && get_errclasses(c, onn, "retryOn", &o->p.retry_on) == 0)
		o->set |= RP_ON;
	if (dontn &&
	    get_errclasses(c, dontn, "dontRetryOn", &o->p.dont_retry_on) == 0)
		o->set |= RP_DONT;
	if ((o->set & RP_ON) && (o->set & RP_DONT) &&
	    (o->p.retry_on & o->p.dont_retry_on)) {
		for (int i = 1; i < ERR__COUNT; i++)
			if (o->p.retry_on & o->p.dont_retry_on &
			    ERRCLASS_BIT(i)) {
				report(c, dontn,
				    "'%s' is in both retryOn and "
				    "dontRetryOn",
				    errclass_name(i));
				break;
			}
		o->set &= ~(unsigned)(RP_ON | RP_DONT);
	}
}

static void
parse_retry_policy(struct wctx *c, const struct ynode *n, struct rp_over *o)
{
	const struct ynode *s[RK__COUNT], *unknown[32];
	size_t nu;
	int b;

	if (expect_map(c, n, "retryPolicy") < 0)
		return;
	nu = map_slots(n, retry_keys, RK__COUNT, s, NULL, unknown, 32);
	for (size_t i = 0; i < nu; i++)
		report_unknown(
		    c, unknown[i], "retryPolicy", retry_keys, RK__COUNT);
	parse_retry_keys(
	    c, s[RK_MAXATTEMPTS], s[RK_RETRYON], s[RK_DONTRETRYON], o);
	if (s[RK_BACKOFF] &&
	    (b = get_enum(c, s[RK_BACKOFF], "backoffStrategy", backoff_names,
		 NELEM(backoff_names), 0)) >= 0 &&
	    backoff_parse(backoff_names[b], &o->p.strategy) == 0)
		o->set |= RP_STRATEGY;
	if (s[RK_INITIAL] &&
	    get_duration(c, s[RK_INITIAL], "initialDelay", 0,
		&o->p.initial_delay_ms) == 0)
		o->set |= RP_INITIAL;
	if (s[RK_MAXDELAY] &&
	    get_duration(
		c, s[RK_MAXDELAY], "maxDelay", 0, &o->p.max_delay_ms) == 0)
		o->set |= RP_MAXDELAY;
	if (s[RK_MULTIPLIER] &&
	    get_double(c, s[RK_MULTIPLIER], "multiplier", 1, 1000,
		&o->p.multiplier) == 0)
		o->set |= RP_MULTIPLIER;
	if (s[RK_JITTER] &&
	    get_double(c, s[RK_JITTER], "jitter", 0, 1, &o->p.jitter) == 0)
		o->set |= RP_JITTER;
}

/*
 * Applies one level's overlay.  A level that lists a class in retryOn takes
 * it out of the dontRetryOn it inherits (and the other way round), so the
 * two sets of a resolved policy never overlap and the more specific level
 * always has the last word.
 */
static void
rp_apply(struct retry_policy *p, const struct rp_over *o)
{
	if (o->set & RP_MAX)
		p->max_attempts = o->p.max_attempts;
	if (o->set & RP_STRATEGY)
		p->strategy = o->p.strategy;
	if (o->set & RP_INITIAL)
		p->initial_delay_ms = o->p.initial_delay_ms;
	if (o->set & RP_MAXDELAY)
		p->max_delay_ms = o->p.max_delay_ms;
	if (o->set & RP_MULTIPLIER)
		p->multiplier = o->p.multiplier;
	if (o->set & RP_JITTER)
		p->jitter = o->p.jitter;
	if (o->set & RP_ON) {
		p->retry_on = o->p.retry_on;
		if (!(o->set & RP_DONT))
			p->dont_retry_on &= ~o->p.retry_on;
	}
	if (o->set & RP_DONT) {
		p->dont_retry_on = o->p.dont_retry_on;
		if (!(o->set & RP_ON))
			p->retry_on &= ~o->p.dont_retry_on;
	}
}

static int
rp_check(struct wctx *c, const struct ynode *at, const struct retry_policy *p,
    const char *whose)
{
	char a[32], b[32];

	/* maxDelay 0s means "no cap" to retry_next_delay(). */
	if (p->max_delay_ms == 0 || p->max_delay_ms >= p->initial_delay_ms)
		return 0;
	duration_format(p->max_delay_ms, a, sizeof(a));
	duration_format(p->initial_delay_ms, b, sizeof(b));
	report(c, at,
	    "%s retry policy has maxDelay %s shorter than its "
	    "initialDelay %s",
	    whose, a, b);
	return -1;
}

/* ---- templates and jq ------------------------------------------------- */

/*
 * jq's compile errors are written for a terminal: a "jq: error: " prefix, a
 * shell-quoting guess and the program echoed on further lines.  A
 * diagnostic is one line, so keep the gist.
 */
static char *
jq_message(char *err)
{
	static const char *const drop[] = {
	    "jq: error: ", " (Unix shell quoting issues?)"};
	char *p, *q;

	if (err == NULL)
		return xstrdup("cannot compile");
	for (size_t i = 0; i < NELEM(drop); i++)
		while ((p = strstr(err, drop[i])) != NULL)
			memmove(p, p + strlen(drop[i]),
			    strlen(p + strlen(drop[i])) + 1);
	if ((p = strchr(err, '\n')) != NULL) {
		*p = '\0';
		if (p > err && p[-1] == ':')
			p[-1] = '\0';
	}
	for (q = err + strlen(err); q > err && isspace((unsigned char)q[-1]);)
		*--q = '\0';
	return err;
}

static void
jq_queue(struct wctx *c, const struct ynode *n, const char *key)
{
	if (c->njqitems == c->jqitems_cap) {
		c->jqitems_cap = c->jqitems_cap ? c->jqitems_cap * 2 : 64;
		c->jqitems = xreallocarray(
		    c->jqitems, c->jqitems_cap, sizeof(*c->jqitems));
	}
	c->jqitems[c->njqitems].node = n;
	c->jqitems[c->njqitems].key = key;
	c->njqitems++;
}

/* Queues every string under n that holds "${{" (keys are not templates). */
static void
queue_templates(struct wctx *c, const struct ynode *n, const char *key)
{
	switch (n->type) {
	case YN_SEQ:
		for (size_t i = 0; i < n->n; i++)
			queue_templates(c, n->u.items[i], key);
		return;
	case YN_MAP:
		for (size_t i = 0; i < n->n; i++)
			queue_templates(c, ynode_val(n, i), key);
		return;
	default:
		break;
	}
	if (n->kind == YS_STR && strstr(n->u.str, "${{") != NULL)
		jq_queue(c, n, key);
}

/*
 * Compiling a jq program costs libjq 1.6 some 20-30 ms, almost all of it
 * binding jq's builtins, whatever the size of the program.  A workflow with
 * a condition or a template per task would take seconds to validate one
 * program at a time, so the programs are checked in batches: each becomes a
 * function in one program
 *
 *     def _0: (\nEXPR0\n); def _1: (\nEXPR1\n); ... _0, _1, ..., .
 *
 * (every function is called, or jq would not look at its body).  When a
 * batch compiles, every program in it does; when it does not, it is split
 * in halves until the culprits are found, and those are compiled alone for
 * jq's message (a few compiles per mistake, not one per program).  A
 * program goes in a batch only when its brackets and strings balance, so
 * it cannot close the wrapper's parenthesis and hide a mistake; anything
 * else is checked alone.  Batches stay small because jq's compile time
 * grows faster than linearly with the number of functions.
 */
#define JQ_BATCH 128

/*
 * The end of a template expression starting at p (just after "${{"): the
 * "}}" that closes it, found the way jqx.c's scanner does (strings with
 * \( ) interpolation, bracket nesting).  NULL when there is none.
 */
static const char *
tmpl_expr_end(const char *p)
{
	int nest = 0;

	for (; *p; p++) {
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++)
				if (*p == '\\') {
					if (p[1] == '(')
						return NULL; /* alone, not
								batched */
					if (p[1] != '\0')
						p++;
				}
			if (*p == '\0')
				return NULL;
			continue;
		}
		if (nest == 0 && p[0] == '}' && p[1] == '}')
			return p;
		if (*p == '(' || *p == '[' || *p == '{')
			nest++;
		else if ((*p == ')' || *p == ']' || *p == '}') && nest > 0)
			nest--;
	}
	return NULL;
}

/*
 * Whether text (len bytes) is balanced jq: every bracket closed by its own
 * kind, strings (with \( ) interpolation) closed, comments skipped.  Only
 * balanced text is safe to wrap in "( )" next to other programs.
 */
static int
jq_balanced(const char *p, size_t len)
{
	char stack[64]; /* '(' '[' '{', '"' string, 'i' \( in a string */
	int sp = 0;
	const char *end = p + len;

	for (; p < end; p++) {
		char top = sp > 0 ? stack[sp - 1] : 0;

		if (top == '"') {
			if (*p == '\\' && p + 1 < end) {
				if (p[1] == '(') {
					if (sp == (int)sizeof(stack))
						return 0;
					stack[sp++] = 'i';
				}
				p++;
			} else if (*p == '"')
				sp--;
			continue;
		}
		switch (*p) {
		case '#':
			while (p + 1 < end && p[1] != '\n')
				p++;
			break;
		case '"':
		case '(':
		case '[':
		case '{':
			if (sp == (int)sizeof(stack))
				return 0;
			stack[sp++] = *p;
			break;
		case ')':
			if (top != '(' && top != 'i')
				return 0;
			sp--;
			break;
		case ']':
			if (top != '[')
				return 0;
			sp--;
			break;
		case '}':
			if (top != '{')
				return 0;
			sp--;
			break;
		default:
			break;
		}
	}
	return sp == 0;
}

/* A growing text buffer for the batch program. */
struct tbuf {
	char *s;
	size_t len, cap;
};

static void
tbuf_add(struct tbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap = b->cap ? b->cap * 2 : 4096;
		b->s = xreallocarray(b->s, b->cap, 1);
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

/*
 * Adds the expressions of item it to the batch b (nexpr counts them).
 * Returns -1 when the item must be checked alone.
 */
static int
batch_add(const struct jqitem *it, struct tbuf *b, int *nexpr)
{
	const char *s = it->node->u.str, *p, *e;
	char head[32];
	size_t mark = b->len;
	int n0 = *nexpr;

	if (strcmp(it->key, "when") == 0) {
		if (!jq_balanced(s, strlen(s)))
			return -1;
		snprintf(head, sizeof(head), "def _%d: (\n", (*nexpr)++);
		tbuf_add(b, head, strlen(head));
		tbuf_add(b, s, strlen(s));
		tbuf_add(b, "\n);\n", 4);
		return 0;
	}
	for (p = s; (p = strstr(p, "${{")) != NULL; p = e + 2) {
		if (p > s && p[-1] == '$') { /* "$${{" is a literal "${{" */
			e = p + 1;
			continue;
		}
		e = tmpl_expr_end(p + 3);
		if (e == NULL || memchr(p + 3, '#', (size_t)(e - p - 3)) ||
		    !jq_balanced(p + 3, (size_t)(e - p - 3))) {
			b->len = mark; /* undo this item's part */
			if (b->s != NULL)
				b->s[mark] = '\0';
			*nexpr = n0;
			return -1;
		}
		snprintf(head, sizeof(head), "def _%d: (\n", (*nexpr)++);
		tbuf_add(b, head, strlen(head));
		tbuf_add(b, p + 3, (size_t)(e - p - 3));
		tbuf_add(b, "\n);\n", 4);
	}
	return 0;
}

/* Checks one item with jqx alone, reporting what is wrong. */
static void
jq_check_one(struct wctx *c, const struct jqitem *it)
{
	const struct ynode *n = it->node;
	char *err = NULL;
	int rc;

	if (strcmp(it->key, "when") == 0)
		rc = jqx_check(ctx_jq(c), n->u.str, &err);
	else
		rc = jqx_template_check(
		    ctx_jq(c), jv_string_sized(n->u.str, (int)n->n), &err);
	if (rc == 0)
		return;
	err = jq_message(err);
	if (strcmp(it->key, "when") == 0)
		report(c, n, "bad jq in 'when': %s", err);
	else
		report(c, n, "bad template in '%s': %s", it->key, err);
	free(err);
}

/*
 * Checks items [lo, hi) that may share a batch: one compile when they are
 * all good; otherwise the range is halved until the culprits are found
 * (a few compiles per bad program instead of one per program).
 */
static void
jq_check_range(struct wctx *c, size_t lo, size_t hi, struct tbuf *b)
{
	char *err = NULL, call[32];
	int nexpr = 0, rc;

	if (hi - lo <= 2) {
		for (size_t k = lo; k < hi; k++)
			jq_check_one(c, &c->jqitems[k]);
		return;
	}
	b->len = 0;
	for (size_t k = lo; k < hi; k++)
		batch_add(&c->jqitems[k], b, &nexpr); /* known to fit */
	for (int k = 0; k < nexpr; k++) {
		snprintf(call, sizeof(call), "_%d, ", k);
		tbuf_add(b, call, strlen(call));
	}
	tbuf_add(b, ".", 1);
	rc = jqx_check(ctx_jq(c), b->s, &err);
	free(err);
	if (rc == 0)
		return;
	jq_check_range(c, lo, lo + (hi - lo) / 2, b);
	jq_check_range(c, lo + (hi - lo) / 2, hi, b);
}

static void
jq_check_all(struct wctx *c)
{
	struct tbuf b = {NULL, 0, 0};
	size_t i = 0, n = 0, first;
	int nexpr = 0;
	struct jqitem *batchable;

	/*
	 * Items that cannot share a batch are checked alone right away; the
	 * others are moved to the front, in order, and checked in batches of
	 * about JQ_BATCH expressions.
	 */
	batchable = xcalloc(c->njqitems + 1, sizeof(*batchable));
	for (i = 0; i < c->njqitems; i++) {
		b.len = 0;
		nexpr = 0;
		if (batch_add(&c->jqitems[i], &b, &nexpr) < 0)
			jq_check_one(c, &c->jqitems[i]);
		else if (nexpr > 0)
			batchable[n++] = c->jqitems[i];
	}
	free(c->jqitems);
	c->jqitems = batchable;
	c->njqitems = n;
	for (i = 0; i < n;) {
		first = i;
		nexpr = 0;
		b.len = 0;
		while (i < n && nexpr < JQ_BATCH)
			batch_add(&c->jqitems[i++], &b, &nexpr);
		jq_check_range(c, first, i, &b);
	}
	free(b.s);
}

/* A JSON value from a node; reports values JSON cannot hold. */
static jv
node_json(struct wctx *c, const struct ynode *n, const char *key)
{
	jv v = ynode_to_jv(n);

	if (!jv_is_valid(v)) {
		jv msg = jv_invalid_get_msg(v);

		report(c, n, "in '%s': %s", key,
		    jv_get_kind(msg) == JV_KIND_STRING ? jv_string_value(msg)
						       : "not JSON");
		jv_free(msg);
		return jv_invalid();
	}
	return v;
}

/* A mapping of names to text values, as a JSON object; or jv_invalid. */
static jv
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

		if (header_names
			? (*name == '\0' ||
			      strcspn(name, " \t\r\n:()<>@,;\\\"/[]?={}") !=
				  k->n)
			: (*name == '\0' || strchr(name, '=') != NULL ||
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

/* ---- URLs -------------------------------------------------------------- */

/* NULL when u is an http(s) URL with a host; else what is wrong. */
static const char *
url_problem(const char *u)
{
	const char *p, *auth, *end, *at, *host, *hend;

	for (p = u; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return "it contains a space or a control character";
	if (strncasecmp(u, "http://", 7) == 0)
		auth = u + 7;
	else if (strncasecmp(u, "https://", 8) == 0)
		auth = u + 8;
	else
		return "expected http:// or https://";
	end = auth + strcspn(auth, "/?#");
	host = auth;
	for (at = auth; at < end; at++)
		if (*at == '@')
			host = at + 1;
	if (host == end)
		return "it has no host";
	if (*host == '[') {
		hend = memchr(host, ']', (size_t)(end - host));
		if (hend == NULL || hend == host + 1)
			return "bad IPv6 address";
		hend++;
	} else {
		for (hend = host; hend < end && *hend != ':'; hend++)
			if (!isalnum((unsigned char)*hend) &&
			    strchr("-._~%", *hend) == NULL)
				return "bad character in the host name";
		if (hend == host)
			return "it has no host";
	}
	if (hend < end) {
		long port = 0;

		if (*hend != ':' || hend + 1 == end)
			return "bad port";
		for (p = hend + 1; p < end; p++) {
			if (!isdigit((unsigned char)*p))
				return "bad port";
			port = port * 10 + (*p - '0');
			if (port > 65535)
				return "port out of range";
		}
		if (port == 0)
			return "port out of range";
	}
	return NULL;
}

static int
valid_java_class(const char *s)
{
	int start = 1;

	if (*s == '\0')
		return 0;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '.') {
			if (start)
				return 0;
			start = 1;
			continue;
		}
		/* A Java identifier; digits anywhere but first. */
		if (!isalpha(ch) && ch != '_' && ch != '$' && ch < 0x80 &&
		    (start || !isdigit(ch)))
			return 0;
		start = 0;
	}
	return !start;
}

/* ---- tasks ------------------------------------------------------------- */

static void
task_init(struct task *t)
{
	memset(t, 0, sizeof(*t));
	t->input = jv_null();
	t->headers = jv_null();
	t->body = jv_invalid();
	t->env = jv_null();
}

static void
task_clear(struct task *t)
{
	free(t->id);
	free(t->name);
	free(t->description);
	free_strv(t->depends_on, t->ndepends);
	free(t->dep_index);
	free(t->when);
	jv_free(t->input);
	free(t->method);
	free(t->url);
	jv_free(t->headers);
	jv_free(t->body);
	free(t->signing_env);
	free_strv(t->argv, t->argc);
	free(t->command);
	jv_free(t->env);
	free(t->workdir);
	free(t->class_name);
	free(t->classpath);
	free_strv(t->args, t->nargs);
	free_strv(t->jvm_options, t->njvm_options);
}

/* Works out the task type, from 'type' or from the keys present. */
static int
task_type_of(struct wctx *c, const struct ynode *tn, const char *label,
    const struct ynode **s)
{
	int found[3] = {-1, -1, -1};
	int ntypes = 0, t;

	if (s[TK_TYPE] != NULL)
		return get_enum(c, s[TK_TYPE], "task type", type_names,
		    NELEM(type_names), 0);
	for (int k = TK_FIRST_TYPED; k < TK__COUNT; k++) {
		if (s[k] == NULL)
			continue;
		t = (int)task_key_owner(k);
		if (found[t] < 0) {
			found[t] = k;
			ntypes++;
		}
	}
	if (ntypes == 1) {
		for (t = 0; t < 3; t++)
			if (found[t] >= 0)
				return t;
	}
	if (ntypes == 0) {
		report(c, tn,
		    "task %s has no 'type', and no 'url', 'command' "
		    "or 'class' to tell it by",
		    label);
		return -1;
	}
	{
		int a = -1, b = -1;

		for (t = 0; t < 3; t++)
			if (found[t] >= 0) {
				if (a < 0)
					a = t;
				else if (b < 0)
					b = t;
			}
		report(c, tn,
		    "cannot tell the type of task %s: it has '%s' "
		    "(%s) and '%s' (%s); add 'type'",
		    label, task_keys[found[a]], type_names[a],
		    task_keys[found[b]], type_names[b]);
	}
	return -1;
}

/*
 * signing: {secretEnv: NAME}.  Only the name of the executor's variable
 * is kept: the secret itself never enters the workflow, the database or
 * the API (see loom-workflow(5), SIGNING).  Returns a malloc'd NAME, or
 * NULL after reporting.
 */
static char *
parse_signing(struct wctx *c, const struct ynode *n)
{
	static const char *const keys[] = { "secretEnv" };
	const struct ynode *s[1], *unknown[8];
	const char *name;
	size_t nu;

	if (expect_map(c, n, "signing") < 0)
		return NULL;
	nu = map_slots(n, keys, 1, s, NULL, unknown, 8);
	for (size_t i = 0; i < nu; i++)
		report_unknown(c, unknown[i], "signing", keys, 1);
	if (s[0] == NULL) {
		report(c, n, "signing needs 'secretEnv': the name of the "
		    "executor's environment variable that holds the secret");
		return NULL;
	}
	if ((name = get_nonempty(c, s[0], "secretEnv")) == NULL)
		return NULL;
	if (!(isalpha((unsigned char)name[0]) || name[0] == '_') ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789_") != strlen(name)) {
		report(c, s[0], "secretEnv '%s' is not an environment "
		    "variable name (letters, digits and '_', not starting "
		    "with a digit)", name);
		return NULL;
	}
	return nu == 0 ? xstrdup(name) : NULL;
}

static void
parse_http(struct wctx *c, struct task *t, const struct ynode **s)
{
	const char *str, *why;
	int m;

	if (s[TK_METHOD] &&
	    (m = get_enum(c, s[TK_METHOD], "HTTP method", http_methods,
		 NELEM(http_methods), 1)) >= 0)
		t->method = xstrdup(http_methods[m]);
	if (s[TK_URL] && (str = get_nonempty(c, s[TK_URL], "url")) != NULL) {
		if ((why = url_problem(str)) != NULL)
			report(c, s[TK_URL], "bad URL '%s': %s", str, why);
		else
			t->url = xstrdup(str);
	}
	if (s[TK_HEADERS]) {
		jv_free(t->headers);
		t->headers = get_string_map(c, s[TK_HEADERS], "headers", 1);
		if (jv_is_valid(t->headers))
			queue_templates(c, s[TK_HEADERS], "headers");
		else
			t->headers = jv_null();
	}
	/* `body: null` is no body: the envelope is sent, as without one. */
	if (s[TK_BODY] &&
	    !(s[TK_BODY]->type == YN_SCALAR && s[TK_BODY]->kind == YS_NULL)) {
		jv_free(t->body);
		t->body = node_json(c, s[TK_BODY], "body");
		queue_templates(c, s[TK_BODY], "body");
	}
	if (s[TK_SIGNING]) {
		free(t->signing_env);
		t->signing_env = parse_signing(c, s[TK_SIGNING]);
	}
}

/*
 * Templates are rendered in input, headers and body only: anywhere else a
 * "${{" would reach the program as written, so a new workflow may not
 * have one there (a stored one keeps loading as it was applied).  Refuses
 * every string under n that holds one, as the dispatcher finds them
 * (jqx_template_has_expr(): any "${{" at all).
 */
static void
refuse_templates(struct wctx *c, const struct ynode *n, const char *key)
{
	if (c->stored || n == NULL)
		return;
	switch (n->type) {
	case YN_SEQ:
		for (size_t i = 0; i < n->n; i++)
			refuse_templates(c, n->u.items[i], key);
		return;
	case YN_MAP:
		for (size_t i = 0; i < n->n; i++)
			refuse_templates(c, ynode_val(n, i), key);
		return;
	default:
		break;
	}
	if (n->kind == YS_STR && memmem(n->u.str, n->n, "${{", 3) != NULL)
		report(c, n,
		    "templates are not expanded in '%s': '${{ }}' stays as "
		    "written; pass the value in 'input' and read it from the "
		    "request on stdin",
		    key);
}

static void
parse_shell(struct wctx *c, struct task *t, const struct ynode **s)
{
	const struct ynode *cmd = s[TK_COMMAND];
	const char *str;

	if (cmd != NULL) {
		if (ynode_is_str(cmd)) {
			if ((str = get_nonempty(c, cmd, "command")) != NULL)
				t->command = xstrdup(str);
		} else if (cmd->type == YN_SEQ) {
			t->argv = get_text_list(c, cmd, "command", 0, &t->argc);
			if (t->argv != NULL && t->argc == 0) {
				report(c, cmd, "'command' is an empty list");
				free_strv(t->argv, 0);
				t->argv = NULL;
			}
		} else
			expect(c, cmd, "a string or a list of strings",
			    "command", 0);
		refuse_templates(c, cmd, "command");
	}
	if (s[TK_ENV]) {
		jv_free(t->env);
		t->env = get_string_map(c, s[TK_ENV], "env", 0);
		if (!jv_is_valid(t->env))
			t->env = jv_null();
		else
			refuse_templates(c, s[TK_ENV], "env");
	}
	if (s[TK_WORKDIR] &&
	    (str = get_nonempty(c, s[TK_WORKDIR], "workdir")) != NULL) {
		t->workdir = xstrdup(str);
		refuse_templates(c, s[TK_WORKDIR], "workdir");
	}
}

static void
parse_java(struct wctx *c, struct task *t, const struct ynode **s)
{
	const char *str;

	if (s[TK_CLASS] && (str = get_nonempty(c, s[TK_CLASS], "class"))) {
		if (!valid_java_class(str))
			report(c, s[TK_CLASS],
			    "'%s' is not a Java class name "
			    "(like com.example.Main)",
			    str);
		else
			t->class_name = xstrdup(str);
	}
	if (s[TK_CLASSPATH]) {
		size_t n, len = 1;
		char **v =
		    get_text_list(c, s[TK_CLASSPATH], "classpath", 1, &n);

		if (v != NULL) {
			for (size_t i = 0; i < n; i++)
				len += strlen(v[i]) + 1;
			t->classpath = xcalloc(1, len);
			for (size_t i = 0; i < n; i++) {
				if (i > 0)
					strcat(t->classpath, ":");
				strcat(t->classpath, v[i]);
			}
			free_strv(v, n);
		}
	}
	if (s[TK_ARGS] && (t->args = get_text_list(c, s[TK_ARGS], "args", 0,
				&t->nargs)) != NULL)
		refuse_templates(c, s[TK_ARGS], "args");
	if (s[TK_JVMOPTIONS] &&
	    (t->jvm_options = get_text_list(c, s[TK_JVMOPTIONS], "jvmOptions",
		 0, &t->njvm_options)) != NULL)
		refuse_templates(c, s[TK_JVMOPTIONS], "jvmOptions");
}

/* Merges defaults.headers under a task's own (names compare without case). */
static jv
merge_headers(jv own, jv defaults)
{
	jv out = jv_get_kind(own) == JV_KIND_OBJECT ? own : jv_object();

	if (jv_get_kind(own) != JV_KIND_OBJECT)
		jv_free(own);
	jv_object_foreach(defaults, k, v)
	{
		int present = 0;

		jv_object_foreach(out, k2, v2)
		{
			if (strcasecmp(
				jv_string_value(k), jv_string_value(k2)) == 0)
				present = 1;
			jv_free(k2);
			jv_free(v2);
		}
		if (present) {
			jv_free(k);
			jv_free(v);
		} else
			out = jv_object_set(out, k, v);
	}
	jv_free(defaults);
	return out;
}

static void
parse_task(struct wctx *c, size_t idx, const struct ynode *tn)
{
	struct workflow *wf = c->wf;
	struct task *t = &wf->tasks[idx];
	const struct ynode *s[TK__COUNT], *keys[TK__COUNT], *unknown[32];
	const char *cands[TK__COUNT];
	struct rp_over block = {0}, direct = {0};
	char label[ID_MAX + 16];
	size_t nu, ncands = 0;
	const char *str;
	int type;

	c->task_nodes[idx] = tn;
	c->dep_first[idx] = c->ndep_nodes;
	t->pos.line = tn->line;
	t->pos.col = tn->col;
	if (tn->type != YN_MAP) {
		report(c, tn, "expected a mapping for a task, found %s",
		    ynode_kind_name(tn));
		return;
	}
	nu = map_slots(tn, task_keys, TK__COUNT, s, keys, unknown, 32);

	if (s[TK_ID] == NULL)
		report(c, tn, "task has no 'id'");
	else if ((t->id = get_id(c, s[TK_ID], "task")) != NULL)
		c->id_nodes[idx] = s[TK_ID];
	if (t->id != NULL)
		snprintf(label, sizeof(label), "'%s'", t->id);
	else
		snprintf(label, sizeof(label), "#%zu", idx + 1);

	type = task_type_of(c, tn, label, s);
	if (type >= 0) {
		t->type = (enum task_type)type;
		for (int k = TK_FIRST_TYPED; k < TK__COUNT; k++)
			if (s[k] != NULL && (int)task_key_owner(k) != type)
				report(c, keys[k],
				    "'%s' is not valid for %s %s "
				    "task",
				    task_keys[k],
				    type == TASK_HTTP ? "an" : "a",
				    type_names[type]);
	}
	/* Hints for unknown keys come from the keys valid here. */
	for (int k = 0; k < TK__COUNT; k++)
		if (k < TK_FIRST_TYPED || type < 0 ||
		    (int)task_key_owner(k) == type)
			cands[ncands++] = task_keys[k];
	{
		char here[ID_MAX + 32];

		snprintf(here, sizeof(here), "task %s", label);
		for (size_t i = 0; i < nu; i++)
			report_unknown(c, unknown[i], here, cands, ncands);
	}

	if (s[TK_NAME] && (str = get_str(c, s[TK_NAME], "name", 0)))
		t->name = xstrdup(str);
	else if (t->id != NULL)
		t->name = xstrdup(t->id);
	if (s[TK_DESCRIPTION] &&
	    (str = get_str(c, s[TK_DESCRIPTION], "description", 0)))
		t->description = xstrdup(str);

	/* dependsOn: keep each name's node for the resolution pass */
	if (s[TK_DEPENDSON] != NULL) {
		const struct ynode *dn = s[TK_DEPENDSON];
		const struct ynode *const *items = NULL;
		size_t count = 0;

		if (ynode_is_str(dn)) {
			items = &s[TK_DEPENDSON];
			count = 1;
		} else if (dn->type == YN_SEQ) {
			items = (const struct ynode *const *)dn->u.items;
			count = dn->n;
		} else
			expect(c, dn, "a task id or a list of task ids",
			    "dependsOn", 0);
		t->depends_on = xcalloc(count + 1, sizeof(char *));
		for (size_t i = 0; i < count; i++) {
			if ((str = get_str(c, items[i], "dependsOn", 1)) ==
			    NULL)
				continue;
			if (c->ndep_nodes == c->dep_nodes_cap) {
				c->dep_nodes_cap = c->dep_nodes_cap
				    ? c->dep_nodes_cap * 2
				    : 1024;
				c->dep_nodes = xreallocarray(c->dep_nodes,
				    c->dep_nodes_cap, sizeof(*c->dep_nodes));
			}
			c->dep_nodes[c->ndep_nodes++] = items[i];
			t->depends_on[t->ndepends++] = xstrdup(str);
		}
	}

	if (t->depends_on == NULL) /* never NULL, so models compare simply */
		t->depends_on = xcalloc(1, sizeof(char *));
	t->timeout_ms = wf->default_timeout_ms;
	if (s[TK_TIMEOUT])
		get_duration(c, s[TK_TIMEOUT], "timeout", 1, &t->timeout_ms);

	t->retry = wf->retry_defaults;
	if (s[TK_RETRYPOLICY])
		parse_retry_policy(c, s[TK_RETRYPOLICY], &block);
	parse_retry_keys(
	    c, s[TK_MAXATTEMPTS], s[TK_RETRYON], s[TK_DONTRETRYON], &direct);
	rp_apply(&t->retry, &block);
	rp_apply(&t->retry, &direct);
	if (c->defaults_ok && (block.set | direct.set))
		rp_check(c, s[TK_RETRYPOLICY] ? s[TK_RETRYPOLICY] : tn,
		    &t->retry, "the task's");

	if (s[TK_WHEN] != NULL) {
		const struct ynode *w = s[TK_WHEN];

		if (w->type == YN_SCALAR && w->kind == YS_BOOL)
			t->when = xstrdup(
			    w->u.str[0] == 't' || w->u.str[0] == 'T' ? "true"
								     : "false");
		else if ((str = get_nonempty(c, w, "when")) != NULL) {
			t->when = xstrdup(str); /* compiled in jq_check_all */
			jq_queue(c, w, "when");
		}
	}
	if (s[TK_INPUT] != NULL && expect_map(c, s[TK_INPUT], "input") == 0) {
		jv in = node_json(c, s[TK_INPUT], "input");

		if (jv_is_valid(in)) {
			jv_free(t->input);
			t->input = in;
		}
		queue_templates(c, s[TK_INPUT], "input");
	}

	/* Type-specific keys are checked whatever the type, for the errors. */
	parse_http(c, t, s);
	parse_shell(c, t, s);
	parse_java(c, t, s);
	if (type == TASK_HTTP) {
		if (t->method == NULL && s[TK_METHOD] == NULL)
			t->method = xstrdup("POST");
		if (s[TK_URL] == NULL)
			report(c, tn, "http task %s has no 'url'", label);
		if (jv_get_kind(c->default_headers) == JV_KIND_OBJECT)
			t->headers = merge_headers(
			    t->headers, jv_copy(c->default_headers));
		if (t->signing_env == NULL && s[TK_SIGNING] == NULL &&
		    wf->signing_env != NULL)
			t->signing_env = xstrdup(wf->signing_env);
	} else if (type == TASK_SHELL) {
		if (s[TK_COMMAND] == NULL)
			report(c, tn, "shell task %s has no 'command'", label);
	} else if (type == TASK_JAVA) {
		if (s[TK_CLASS] == NULL)
			report(c, tn, "java task %s has no 'class'", label);
		if (t->args == NULL)
			t->args = xcalloc(1, sizeof(char *));
		if (t->jvm_options == NULL)
			t->jvm_options = xcalloc(1, sizeof(char *));
	}
}

/* ---- the workflow ------------------------------------------------------ */

static void
parse_defaults(struct wctx *c, const struct ynode *n, struct rp_over *block,
    struct rp_over *direct)
{
	const struct ynode *s[DK__COUNT], *unknown[32];
	size_t nu;

	if (expect_map(c, n, "defaults") < 0)
		return;
	nu = map_slots(n, defaults_keys, DK__COUNT, s, NULL, unknown, 32);
	for (size_t i = 0; i < nu; i++)
		report_unknown(
		    c, unknown[i], "defaults", defaults_keys, DK__COUNT);
	if (s[DK_TIMEOUT])
		get_duration(
		    c, s[DK_TIMEOUT], "timeout", 1, &c->wf->default_timeout_ms);
	if (s[DK_RETRYPOLICY])
		parse_retry_policy(c, s[DK_RETRYPOLICY], block);
	parse_retry_keys(
	    c, s[DK_MAXATTEMPTS], s[DK_RETRYON], s[DK_DONTRETRYON], direct);
	if (s[DK_HEADERS]) {
		jv h = get_string_map(c, s[DK_HEADERS], "headers", 1);

		if (jv_is_valid(h)) {
			jv_free(c->default_headers);
			c->default_headers = h;
			queue_templates(c, s[DK_HEADERS], "headers");
		}
	}
}

static void
parse_concurrency(struct wctx *c, const struct ynode *n)
{
	const struct ynode *s[CK__COUNT], *unknown[32];
	struct workflow *wf = c->wf;
	size_t nu;
	int64_t v;
	int p;

	if (n->type == YN_SCALAR &&
	    (n->kind == YS_INT || n->kind == YS_FLOAT)) {
		if (get_int(c, n, "concurrency", 0, 1000000, &v) == 0)
			wf->concurrency_max = (int)v;
		return;
	}
	if (n->type != YN_MAP) {
		expect(c, n, "an integer or a mapping {max, policy}",
		    "concurrency", 0);
		return;
	}
	nu = map_slots(n, conc_keys, CK__COUNT, s, NULL, unknown, 32);
	for (size_t i = 0; i < nu; i++)
		report_unknown(
		    c, unknown[i], "concurrency", conc_keys, CK__COUNT);
	if (s[CK_MAX] == NULL)
		report(c, n, "'concurrency' has no 'max'");
	else if (get_int(c, s[CK_MAX], "max", 0, 1000000, &v) == 0)
		wf->concurrency_max = (int)v;
	if (s[CK_POLICY] &&
	    (p = get_enum(c, s[CK_POLICY], "concurrency policy", policy_names,
		 NELEM(policy_names), 0)) >= 0)
		wf->concurrency_policy = (enum concurrency_policy)p;
}

static void
parse_workflow(struct wctx *c, const struct ynode *root)
{
	struct workflow *wf = c->wf;
	const struct ynode *s[WK__COUNT], *k[WK__COUNT], *unknown[32], *tasks;
	struct rp_over strategy = {0}, block = {0}, dblock = {0}, ddirect = {0};
	const char *str;
	size_t nu;
	int b;

	nu = map_slots(root, wf_keys, WK__COUNT, s, k, unknown, 32);
	for (size_t i = 0; i < nu; i++)
		report_unknown(c, unknown[i], "workflow", wf_keys, WK__COUNT);

	if (s[WK_ID] == NULL)
		report(c, root, "workflow has no 'id'");
	else
		wf->id = get_id(c, s[WK_ID], "workflow");
	if (s[WK_NAME] && (str = get_str(c, s[WK_NAME], "name", 0)))
		wf->name = xstrdup(str);
	else if (wf->id != NULL)
		wf->name = xstrdup(wf->id);
	if (s[WK_DESCRIPTION] &&
	    (str = get_str(c, s[WK_DESCRIPTION], "description", 0)))
		wf->description = xstrdup(str);
	if (s[WK_SCHEDULE] &&
	    (str = get_nonempty(c, s[WK_SCHEDULE], "schedule"))) {
		char *err = NULL;
		struct cron *cr = cron_parse(str, &err);

		if (cr == NULL)
			report(c, s[WK_SCHEDULE], "bad schedule '%s': %s", str,
			    err ? err : "not a cron expression");
		else if (!c->stored && cron_never_fires(cr))
			report(c, s[WK_SCHEDULE],
			    "schedule '%s' never fires: no date matches its "
			    "day-of-month, month and day-of-week fields",
			    str);
		else
			wf->schedule = xstrdup(str);
		free(err);
		cron_free(cr);
	}
	if (s[WK_TIMEZONE] &&
	    (str = get_nonempty(c, s[WK_TIMEZONE], "timezone"))) {
		if (c->opts && c->opts->zone_known && !c->opts->zone_known(str))
			report(c, s[WK_TIMEZONE],
			    "unknown time zone '%s' "
			    "(expected an IANA name like Europe/Kyiv or UTC)",
			    str);
		else
			wf->timezone = xstrdup(str);
	}
	if (wf->timezone == NULL)
		wf->timezone = xstrdup("UTC");
	if (s[WK_TIMEOUT])
		get_duration(c, s[WK_TIMEOUT], "timeout", 1, &wf->timeout_ms);
	if (s[WK_PARAMS] && expect_map(c, s[WK_PARAMS], "params") == 0) {
		jv p = node_json(c, s[WK_PARAMS], "params");

		for (size_t i = 0; i < s[WK_PARAMS]->n; i++)
			if (ynode_key(s[WK_PARAMS], i)->n == 0)
				report(c, ynode_key(s[WK_PARAMS], i),
				    "empty parameter name");
		if (jv_is_valid(p)) {
			jv_free(wf->params);
			wf->params = p;
		}
	}
	/*
	 * Nothing limits the runs of a workflow yet, so a new workflow may
	 * not ask for it; a spec stored when the key was accepted still loads
	 * (and keeps what it asked for).
	 */
	if (s[WK_CONCURRENCY] && !c->stored)
		report(c, k[WK_CONCURRENCY],
		    "'concurrency' is not supported yet: this version does "
		    "not limit the runs of a workflow, so it would be "
		    "ignored; remove it");
	else if (s[WK_CONCURRENCY])
		parse_concurrency(c, s[WK_CONCURRENCY]);
	if (s[WK_SIGNING])	/* before the tasks: they inherit it */
		wf->signing_env = parse_signing(c, s[WK_SIGNING]);

	/* Defaults for every task, in resolution order. */
	if (s[WK_RETRYSTRATEGY] &&
	    (b = get_enum(c, s[WK_RETRYSTRATEGY], "retryStrategy",
		 backoff_names, NELEM(backoff_names), 0)) >= 0 &&
	    backoff_parse(backoff_names[b], &strategy.p.strategy) == 0)
		strategy.set = RP_STRATEGY;
	if (s[WK_RETRYPOLICY])
		parse_retry_policy(c, s[WK_RETRYPOLICY], &block);
	if (s[WK_DEFAULTS])
		parse_defaults(c, s[WK_DEFAULTS], &dblock, &ddirect);
	rp_apply(&wf->retry_defaults, &strategy);
	rp_apply(&wf->retry_defaults, &block);
	rp_apply(&wf->retry_defaults, &dblock);
	rp_apply(&wf->retry_defaults, &ddirect);
	c->defaults_ok =
	    rp_check(c,
		s[WK_RETRYPOLICY]    ? s[WK_RETRYPOLICY]
		    : s[WK_DEFAULTS] ? s[WK_DEFAULTS]
				     : root,
		&wf->retry_defaults, "the workflow's default") == 0;

	if ((tasks = s[WK_TASKS]) == NULL) {
		report(c, root, "workflow has no 'tasks'");
		return;
	}
	if (tasks->type != YN_SEQ) {
		expect(c, tasks, "a list of tasks", "tasks", 0);
		return;
	}
	if (tasks->n == 0) {
		report(c, tasks,
		    "'tasks' is empty: a workflow needs at least "
		    "one task");
		return;
	}
	wf->ntasks = tasks->n;
	wf->tasks = xcalloc(wf->ntasks, sizeof(*wf->tasks));
	c->task_nodes = xcalloc(wf->ntasks, sizeof(*c->task_nodes));
	c->id_nodes = xcalloc(wf->ntasks, sizeof(*c->id_nodes));
	c->dep_first = xcalloc(wf->ntasks, sizeof(*c->dep_first));
	for (size_t i = 0; i < wf->ntasks; i++)
		task_init(&wf->tasks[i]);
	for (size_t i = 0; i < wf->ntasks; i++)
		parse_task(c, i, tasks->u.items[i]);
}

/* ---- dependencies and the DAG ------------------------------------------ */

static const char *
suggest_task(struct wctx *c, const char *name)
{
	const struct workflow *wf = c->wf;
	const char *best = NULL;
	int bestd = 3;
	size_t len = strlen(name), compared = 0;

	if (c->nhints >= DYM_MAX_HINTS)
		return NULL;
	c->nhints++;
	for (size_t i = 0; i < wf->ntasks && compared < DYM_MAX_CANDIDATES;
	     i++) {
		const char *id = wf->tasks[i].id;
		size_t l;
		int dd;

		if (id == NULL)
			continue;
		l = strlen(id);
		if (l + 2 < len || l > len + 2)
			continue;
		compared++;
		dd = dym_score(name, id);
		if (dd < bestd) {
			bestd = dd;
			best = id;
		}
	}
	return best;
}

static void
task_label(const struct workflow *wf, size_t i, char *buf, size_t len)
{
	if (wf->tasks[i].id != NULL)
		snprintf(buf, len, "'%s'", wf->tasks[i].id);
	else
		snprintf(buf, len, "#%zu", i + 1);
}

/* Returns 0 when every dependency names another, existing task. */
static int
resolve_deps(struct wctx *c)
{
	struct workflow *wf = c->wf;
	size_t *stamp, first;
	char label[ID_MAX + 16];
	int bad = 0;

	wf->task_ids = hmap_new(wf->ntasks);
	for (size_t i = 0; i < wf->ntasks; i++) {
		const char *id = wf->tasks[i].id;

		if (id == NULL)
			continue;
		if (hmap_put(wf->task_ids, id, i) == 1 &&
		    hmap_get(wf->task_ids, id, &first) == 0) {
			const struct ynode *f = c->id_nodes[first];

			report(c, c->id_nodes[i],
			    "duplicate task id '%s' "
			    "(first at line %d, column %d)",
			    id, f->line, f->col);
			bad = 1;
		}
	}
	stamp = xcalloc(wf->ntasks, sizeof(*stamp));
	for (size_t i = 0; i < wf->ntasks; i++) {
		struct task *t = &wf->tasks[i];
		size_t k = 0;

		t->dep_index = xcalloc(t->ndepends + 1, sizeof(size_t));
		task_label(wf, i, label, sizeof(label));
		for (size_t j = 0; j < t->ndepends; j++) {
			const struct ynode *at =
			    c->dep_nodes[c->dep_first[i] + j];
			const char *dep = t->depends_on[j], *hint;
			size_t idx;

			if (hmap_get(wf->task_ids, dep, &idx) != 0) {
				if ((hint = suggest_task(c, dep)) != NULL)
					report(c, at,
					    "task %s depends on '%s', "
					    "which does not exist; did you "
					    "mean "
					    "'%s'?",
					    label, dep, hint);
				else
					report(c, at,
					    "task %s depends on '%s', "
					    "which does not exist",
					    label, dep);
				bad = 1;
			} else if (idx == i) {
				report(
				    c, at, "task %s depends on itself", label);
				bad = 1;
			} else if (stamp[idx] == i + 1) {
				report(c, at,
				    "task %s lists '%s' twice in "
				    "'dependsOn'",
				    label, dep);
				bad = 1;
			} else {
				stamp[idx] = i + 1;
				t->dep_index[k++] = idx;
			}
		}
	}
	free(stamp);
	return bad ? -1 : 0;
}

static int
task_depends_on(const struct task *t, size_t dep)
{
	for (size_t i = 0; i < t->ndepends; i++)
		if (t->dep_index[i] == dep)
			return 1;
	return 0;
}

/*
 * Reports a cycle as "a -> b -> c -> a", read "a depends on b, which
 * depends on c, which depends on a" (the way the file is written), starting
 * at the task that comes first in the file.  dag_build's path may run either
 * way; it is turned around when needed.
 */
static void
report_cycle(struct wctx *c, size_t *cyc, size_t len)
{
	const struct workflow *wf = c->wf;
	size_t m = len - 1, start = 0, shown;
	char *msg, *p;
	size_t cap;

	if (len < 2) {
		report(c, NULL, "dependency cycle");
		return;
	}
	if (m >= 2 && !task_depends_on(&wf->tasks[cyc[0]], cyc[1]))
		for (size_t i = 0; i < len / 2; i++) {
			size_t tmp = cyc[i];

			cyc[i] = cyc[len - 1 - i];
			cyc[len - 1 - i] = tmp;
		}
	for (size_t i = 1; i < m; i++)
		if (cyc[i] < cyc[start])
			start = i;
	shown = m > 32 ? 32 : m;
	cap = 64 + (shown + 1) * (ID_MAX + 8);
	msg = p = xmalloc(cap);
	p += snprintf(p, cap, "dependency cycle: ");
	for (size_t k = 0; k < shown; k++) {
		const char *id = wf->tasks[cyc[(start + k) % m]].id;

		p += snprintf(
		    p, cap - (size_t)(p - msg), "%s -> ", id ? id : "?");
	}
	if (shown < m)
		p += snprintf(p, cap - (size_t)(p - msg), "... (%zu more) -> ",
		    m - shown);
	snprintf(p, cap - (size_t)(p - msg), "%s", wf->tasks[cyc[start]].id);
	report(c, c->task_nodes[cyc[start]], "%s", msg);
	free(msg);
}

static void
build_dag(struct wctx *c)
{
	struct workflow *wf = c->wf;
	const size_t **deps_of;
	size_t *nd, *cycle = NULL, clen = 0;

	deps_of = xcalloc(wf->ntasks, sizeof(*deps_of));
	nd = xcalloc(wf->ntasks, sizeof(*nd));
	for (size_t i = 0; i < wf->ntasks; i++) {
		deps_of[i] = wf->tasks[i].dep_index;
		nd[i] = wf->tasks[i].ndepends;
	}
	wf->dag = dag_build(
	    wf->ntasks, (const size_t *const *)deps_of, nd, &cycle, &clen);
	if (wf->dag == NULL) {
		if (cycle != NULL)
			report_cycle(c, cycle, clen);
		else
			report(c, c->task_nodes[0], "dependency cycle");
	}
	free(cycle);
	free(deps_of);
	free(nd);
}

/* ---- loading ----------------------------------------------------------- */

/*
 * A node reached through several aliases is checked once per use; its
 * problem is reported once.  Drops repeats (same place, same message) among
 * the sorted entries from index `from` on.
 */
static void
diags_dedup(struct diags *d, size_t from)
{
	size_t out = from;

	for (size_t i = from; i < d->n; i++) {
		struct diag *g = &d->v[i];

		if (out > from && g->line == d->v[out - 1].line &&
		    g->col == d->v[out - 1].col &&
		    strcmp(g->msg, d->v[out - 1].msg) == 0) {
			free(g->file);
			free(g->msg);
			continue;
		}
		d->v[out++] = *g;
	}
	d->n = out;
}

static struct workflow *
workflow_new(const char *file)
{
	struct workflow *wf = xcalloc(1, sizeof(*wf));

	wf->file = xstrdup(file);
	wf->params = jv_object();
	wf->default_timeout_ms = DEFAULT_TASK_TIMEOUT_MS;
	wf->concurrency_policy = CONC_QUEUE;
	retry_policy_default(&wf->retry_defaults);
	return wf;
}

void
workflow_free(struct workflow *wf)
{
	if (wf == NULL)
		return;
	for (size_t i = 0; i < wf->ntasks; i++)
		task_clear(&wf->tasks[i]);
	free(wf->tasks);
	free(wf->file);
	free(wf->id);
	free(wf->name);
	free(wf->description);
	free(wf->schedule);
	free(wf->timezone);
	free(wf->signing_env);
	jv_free(wf->params);
	dag_free(wf->dag);
	hmap_free(wf->task_ids);
	free(wf);
}

/* given (borrowed), else buf (len bytes) as YAML. */
static struct workflow *
load(const char *name, const char *buf, size_t len,
    const struct ydoc *given, const struct workflow_opts *opts, int stored,
    struct diags *d)
{
	struct ylimits lim = {
	    WORKFLOW_MAX_BYTES,
	    YNODE_DEFAULT_MAX_NODES,
	    WORKFLOW_MAX_ALIASES,
	    YNODE_DEFAULT_MAX_EXPANSION,
	};
	struct wctx c;
	const struct ydoc *doc;
	struct workflow *wf = NULL;
	struct diags added;
	size_t before = d->n;

	if (name == NULL)
		name = "-";
	memset(&c, 0, sizeof(c));
	c.file = name;
	c.opts = opts;
	c.d = d;
	c.stored = stored;
	c.default_headers = jv_null();
	doc = given ? given : ydoc_parse(name, buf, len, &lim, d);
	if (doc == NULL) {
		c.nerr++;
		goto out;
	}
	c.nerr = d->n - before; /* duplicate keys, tags */
	wf = c.wf = workflow_new(name);
	if (doc->root == NULL)
		report(&c, NULL,
		    "empty file: expected a workflow (a mapping "
		    "with 'id' and 'tasks')");
	else if (doc->root->type != YN_MAP)
		report(&c, doc->root,
		    "expected a workflow (a mapping with 'id' "
		    "and 'tasks') at the top level, found %s",
		    ynode_kind_name(doc->root));
	else {
		parse_workflow(&c, doc->root);
		jq_check_all(&c);
		if (wf->ntasks > 0 && resolve_deps(&c) == 0)
			build_dag(&c);
	}
out:
	if (c.nerr > 0 && wf != NULL) {
		workflow_free(wf);
		wf = NULL;
	}
	/* Sort only what this load added: d may hold other files' lines. */
	if (d->n > before) {
		added = *d;
		added.v = d->v + before;
		added.n = d->n - before;
		diags_sort(&added);
		diags_dedup(d, before);
	}
	free(c.task_nodes);
	free(c.id_nodes);
	free(c.dep_first);
	free(c.dep_nodes);
	free(c.jqitems);
	jv_free(c.default_headers);
	jqx_free(c.jq);
	if (doc != given)
		ydoc_free((struct ydoc *)doc);
	return wf;
}

struct workflow *
workflow_load_buf_opts(const char *name, const char *buf, size_t len,
    const struct workflow_opts *o, struct diags *d)
{
	return load(name, buf, len, NULL, o, 0, d);
}

struct workflow *
workflow_load_buf(
    const char *name, const char *buf, size_t len, struct diags *d)
{
	return load(name, buf, len, NULL, NULL, 0, d);
}

struct workflow *
workflow_load_doc(const char *name, const struct ydoc *doc, struct diags *d)
{
	return load(name, NULL, 0, doc, NULL, 1, d);
}

struct workflow *
workflow_load_json(const char *name, const char *text, size_t len,
    struct diags *d)
{
	struct workflow *wf;
	struct ydoc *doc;
	char *err = NULL;

	if ((doc = ydoc_parse_json(text, len, &err)) == NULL) {
		diags_add(d, name ? name : "-", 0, 0, "%s", err);
		free(err);
		return NULL;
	}
	wf = workflow_load_doc(name, doc, d);
	ydoc_free(doc);
	return wf;
}

/* ---- queries and the canonical form ------------------------------------ */

long
workflow_task_index(const struct workflow *wf, const char *id)
{
	size_t i;

	if (wf == NULL || id == NULL)
		return -1;
	if (wf->task_ids != NULL)
		return hmap_get(wf->task_ids, id, &i) == 0 ? (long)i : -1;
	for (i = 0; i < wf->ntasks; i++)
		if (wf->tasks[i].id && strcmp(wf->tasks[i].id, id) == 0)
			return (long)i;
	return -1;
}

const char *
task_type_name(enum task_type t)
{
	return (unsigned)t < NELEM(type_names) ? type_names[t] : "unknown";
}

const char *
concurrency_policy_name(enum concurrency_policy p)
{
	return (unsigned)p < NELEM(policy_names) ? policy_names[p] : "unknown";
}

static jv
duration_jv(int64_t ms)
{
	char buf[64];

	duration_format(ms, buf, sizeof(buf));
	return jv_string(buf);
}

static jv
errclasses_jv(unsigned set)
{
	jv a = jv_array();

	for (int i = 1; i < ERR__COUNT; i++)
		if (set & ERRCLASS_BIT(i))
			a = jv_array_append(a, jv_string(errclass_name(i)));
	return a;
}

static jv
retry_jv(const struct retry_policy *p)
{
	jv o = jv_object();

	o = jv_object_set(
	    o, jv_string("maxAttempts"), jv_number(p->max_attempts));
	o = jv_object_set(o, jv_string("backoffStrategy"),
	    jv_string(backoff_name(p->strategy)));
	o = jv_object_set(
	    o, jv_string("initialDelay"), duration_jv(p->initial_delay_ms));
	o = jv_object_set(
	    o, jv_string("maxDelay"), duration_jv(p->max_delay_ms));
	o = jv_object_set(o, jv_string("multiplier"), jv_number(p->multiplier));
	o = jv_object_set(o, jv_string("jitter"), jv_number(p->jitter));
	o = jv_object_set(o, jv_string("retryOn"), errclasses_jv(p->retry_on));
	o = jv_object_set(
	    o, jv_string("dontRetryOn"), errclasses_jv(p->dont_retry_on));
	return o;
}

static jv
strv_jv(char *const *v, size_t n)
{
	jv a = jv_array();

	for (size_t i = 0; i < n; i++)
		a = jv_array_append(a, jv_string(v[i]));
	return a;
}

static jv
opt_set(jv o, const char *key, const char *val)
{
	if (val == NULL)
		return o;
	return jv_object_set(o, jv_string(key), jv_string(val));
}

static jv
task_jv(const struct task *t)
{
	jv o = jv_object();

	o = jv_object_set(o, jv_string("id"), jv_string(t->id));
	o = opt_set(o, "name", t->name);
	o = opt_set(o, "description", t->description);
	o = jv_object_set(
	    o, jv_string("type"), jv_string(task_type_name(t->type)));
	o = jv_object_set(
	    o, jv_string("dependsOn"), strv_jv(t->depends_on, t->ndepends));
	o = jv_object_set(o, jv_string("timeout"), duration_jv(t->timeout_ms));
	o = jv_object_set(o, jv_string("retryPolicy"), retry_jv(&t->retry));
	o = opt_set(o, "when", t->when);
	if (jv_get_kind(t->input) != JV_KIND_NULL)
		o = jv_object_set(o, jv_string("input"), jv_copy(t->input));
	switch (t->type) {
	case TASK_HTTP:
		o = opt_set(o, "method", t->method);
		o = opt_set(o, "url", t->url);
		if (jv_get_kind(t->headers) == JV_KIND_OBJECT)
			o = jv_object_set(
			    o, jv_string("headers"), jv_copy(t->headers));
		if (jv_is_valid(t->body))
			o = jv_object_set(
			    o, jv_string("body"), jv_copy(t->body));
		/* resolved here, so the executor sees it in the task spec */
		if (t->signing_env != NULL)
			o = jv_object_set(o, jv_string("signing"),
			    opt_set(jv_object(), "secretEnv", t->signing_env));
		break;
	case TASK_SHELL:
		if (t->argv != NULL)
			o = jv_object_set(
			    o, jv_string("command"), strv_jv(t->argv, t->argc));
		else
			o = opt_set(o, "command", t->command);
		if (jv_get_kind(t->env) == JV_KIND_OBJECT)
			o = jv_object_set(o, jv_string("env"), jv_copy(t->env));
		o = opt_set(o, "workdir", t->workdir);
		break;
	case TASK_JAVA:
		o = opt_set(o, "class", t->class_name);
		o = opt_set(o, "classpath", t->classpath);
		o = jv_object_set(
		    o, jv_string("args"), strv_jv(t->args, t->nargs));
		o = jv_object_set(o, jv_string("jvmOptions"),
		    strv_jv(t->jvm_options, t->njvm_options));
		break;
	}
	return o;
}

jv
workflow_to_jv(const struct workflow *wf)
{
	jv o = jv_object(), tasks = jv_array();

	o = jv_object_set(o, jv_string("id"), jv_string(wf->id));
	o = opt_set(o, "name", wf->name);
	o = opt_set(o, "description", wf->description);
	o = opt_set(o, "schedule", wf->schedule);
	o = opt_set(o, "timezone", wf->timezone);
	if (wf->timeout_ms > 0)
		o = jv_object_set(
		    o, jv_string("timeout"), duration_jv(wf->timeout_ms));
	o = jv_object_set(o, jv_string("params"), jv_copy(wf->params));
	/* Only a spec stored when 'concurrency' was accepted has one. */
	if (wf->concurrency_max > 0) {
		jv conc = jv_object();

		conc = jv_object_set(
		    conc, jv_string("max"), jv_number(wf->concurrency_max));
		conc = jv_object_set(conc, jv_string("policy"),
		    jv_string(concurrency_policy_name(wf->concurrency_policy)));
		o = jv_object_set(o, jv_string("concurrency"), conc);
	}
	if (wf->signing_env != NULL)
		o = jv_object_set(o, jv_string("signing"),
		    opt_set(jv_object(), "secretEnv", wf->signing_env));
	o = jv_object_set(
	    o, jv_string("retryPolicy"), retry_jv(&wf->retry_defaults));
	o = jv_object_set(o, jv_string("defaults"),
	    jv_object_set(jv_object(), jv_string("timeout"),
		duration_jv(wf->default_timeout_ms)));
	for (size_t i = 0; i < wf->ntasks; i++)
		tasks = jv_array_append(tasks, task_jv(&wf->tasks[i]));
	o = jv_object_set(o, jv_string("tasks"), tasks);
	return o;
}
