/*
 * wf_keys: which keys the workflow DSL allows where, and what to say about
 * the others (part of the loader, see workflow.c).
 *
 * The tables name the keys of each place (the workflow, a task, a retry
 * policy, defaults, concurrency) and the closed lists of values; the
 * loader matches a mapping against its place's table with map_slots().
 * An unknown key gets a "did you mean" hint (edit distance <= 2, or a
 * case-insensitive match) or, failing that, the place it belongs to.
 * Nothing here allocates but join_or(), whose string the caller frees.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wf_int.h"
#include "xalloc.h"

/* clang-format off */

const char *const wf_keys[WK__COUNT] = {
	"id", "name", "description", "schedule", "timezone", "retryStrategy",
	"retryPolicy", "defaults", "params", "timeout", "concurrency", "tasks",
	"signing", "catchup", "catchupWindow", "catchupMax", "jitter",
	"pauseOnFailure", "triggers",
};

const char *const task_keys[TK__COUNT] = {
	"id", "name", "description", "type", "dependsOn", "timeout",
	"maxAttempts", "retryOn", "dontRetryOn", "retryPolicy", "when",
	"input",
	"method", "url", "headers", "body", "signing",
	"command", "env", "workdir",
	"class", "classpath", "args", "jvmOptions",
};

const char *const retry_keys[RK__COUNT] = {
	"maxAttempts", "backoffStrategy", "initialDelay", "maxDelay",
	"multiplier", "jitter", "retryOn", "dontRetryOn",
};

const char *const defaults_keys[DK__COUNT] = {
	"timeout", "maxAttempts", "retryOn", "dontRetryOn", "retryPolicy",
	"headers",
};

const char *const conc_keys[CK__COUNT] = { "max", "policy" };

const char *const type_names[] = { "http", "shell", "java" };
/* "cancel-oldest" is an older name of cancelOther (see wf_top.c) */
const char *const policy_names[] = { "queue", "skip", "bufferOne",
	"cancelOther", "allow", "cancel-oldest" };
const char *const catchup_names[] = { "latest", "none", "all" };
/* in the order of the WF_FILE_* bits */
const char *const file_event_names[] = { "create", "close_write",
	"moved_to", "delete", "modify" };
const char *const trigger_keys[TGK__COUNT] = { "file", "message", "delay",
	"debounce" };
const char *const file_trigger_keys[FTK__COUNT] = { "path", "events" };
const char *const backoff_names[] = { "exponential", "linear",
	"fixed" };

/* clang-format on */

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
int
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

const char *
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
char *
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

/*
 * Looks up every key of mapping m in names[] and stores its value node in
 * slots[] (and the key node in keys[] when not NULL).  Keys starting with
 * "x-" are extensions and ignored.  Unknown keys are stored in unknown[]
 * (up to max) for the caller to report; their number is returned.
 */
size_t
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

void
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
