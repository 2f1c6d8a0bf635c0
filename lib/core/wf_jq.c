/*
 * wf_jq: `when:` conditions and ${{ }} templates of the workflow DSL,
 * compile-checked (part of the loader, see workflow.c).
 *
 * The walk queues every program it meets (jq_queue(), queue_templates());
 * jq_check_all() compiles them after the walk, in batches, because libjq
 * pays a fixed cost per compile.  The queue borrows the YAML nodes; the
 * jq state (wctx.jq) is made on first use and freed with the load.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jqx.h"
#include "wf_int.h"
#include "xalloc.h"

static struct jqx *
ctx_jq(struct wctx *c)
{
	if (c->jq == NULL)
		c->jq = jqx_new();
	return c->jq;
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
	static const char *const drop[] = { "jq: error: ",
		" (Unix shell quoting issues?)" };
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

void
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
void
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

void
jq_check_all(struct wctx *c)
{
	struct tbuf b = { NULL, 0, 0 };
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
