/*
 * Unit tests for lib/core/dag.c: CSR adjacency, the stable topological order,
 * levels, cycle paths, ready sets, and graphs big enough that recursion or
 * quadratic work would show.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/dag.h"
#include "t.h"
#include "core/xalloc.h"

/* A graph under construction: per node, the nodes it depends on. */
struct spec {
	size_t n;
	size_t **deps;
	size_t *ndeps;
};

static void
spec_init(struct spec *sp, size_t n)
{
	sp->n = n;
	sp->deps = xcalloc(n ? n : 1, sizeof(*sp->deps));
	sp->ndeps = xcalloc(n ? n : 1, sizeof(*sp->ndeps));
}

static void
spec_dep(struct spec *sp, size_t v, size_t u)
{
	sp->deps[v] =
	    xreallocarray(sp->deps[v], sp->ndeps[v] + 1, sizeof(**sp->deps));
	sp->deps[v][sp->ndeps[v]++] = u;
}

static void
spec_free(struct spec *sp)
{
	for (size_t v = 0; v < sp->n; v++)
		free(sp->deps[v]);
	free(sp->deps);
	free(sp->ndeps);
}

static struct dag *
spec_build(const struct spec *sp, size_t **cycle, size_t *cycle_len)
{
	return dag_build(sp->n, (const size_t *const *)sp->deps, sp->ndeps,
	    cycle, cycle_len);
}

/* "0 1 2": an index list as text, for readable comparisons. */
static char *
list_str(const size_t *v, size_t n)
{
	char *s = xstrdup(""), *t;

	for (size_t i = 0; i < n; i++) {
		t = xasprintf("%s%s%zu", s, i ? " " : "", v[i]);
		free(s);
		s = t;
	}
	return s;
}

static void
is_list(const size_t *v, size_t n, const char *want, const char *name)
{
	char *got = list_str(v, n);

	is_str(got, want, "%s", name);
	free(got);
}

/* Every edge goes forward in g->topo, and levels are longest paths. */
static int
dag_consistent(const struct dag *g)
{
	size_t *pos = xmalloc((g->n ? g->n : 1) * sizeof(*pos));
	unsigned char *seen = xcalloc(g->n ? g->n : 1, 1);
	int good = 1, maxlevel = -1;

	for (size_t i = 0; i < g->n; i++) {
		if (g->topo[i] >= g->n || seen[g->topo[i]])
			good = 0;
		else {
			seen[g->topo[i]] = 1;
			pos[g->topo[i]] = i;
		}
	}
	for (size_t v = 0; good && v < g->n; v++) {
		int want = 0;

		for (size_t k = g->dep_off[v]; k < g->dep_off[v + 1]; k++) {
			size_t u = g->deps[k];

			if (pos[u] >= pos[v])
				good = 0;
			if (g->level[u] + 1 > want)
				want = g->level[u] + 1;
		}
		if (g->level[v] != want)
			good = 0;
		if (g->level[v] > maxlevel)
			maxlevel = g->level[v];
		/* Every dependency edge appears once as a child edge. */
		for (size_t k = g->dep_off[v]; k < g->dep_off[v + 1]; k++) {
			size_t u = g->deps[k], c;

			for (c = g->child_off[u]; c < g->child_off[u + 1]; c++)
				if (g->children[c] == v)
					break;
			if (c == g->child_off[u + 1])
				good = 0;
		}
	}
	if (g->nlevels != maxlevel + 1)
		good = 0;
	if (g->child_off[g->n] != g->nedges || g->dep_off[g->n] != g->nedges)
		good = 0;
	free(pos);
	free(seen);
	return good;
}

static void
test_diamond(void)
{
	struct spec sp;
	struct dag *g;

	spec_init(&sp, 4);
	spec_dep(&sp, 1, 0);
	spec_dep(&sp, 2, 0);
	spec_dep(&sp, 3, 1);
	spec_dep(&sp, 3, 2);
	g = spec_build(&sp, NULL, NULL);
	ok(g != NULL, "diamond builds");
	is_int(g->n, 4, "diamond: 4 nodes");
	is_int(g->nedges, 4, "diamond: 4 edges");
	is_list(g->topo, 4, "0 1 2 3", "diamond: topological order");
	is_int(g->level[0], 0, "diamond: root level 0");
	is_int(g->level[1], 1, "diamond: level 1");
	is_int(g->level[2], 1, "diamond: level 1 too");
	is_int(g->level[3], 2, "diamond: sink level 2");
	is_int(g->nlevels, 3, "diamond: 3 levels");
	is_list(g->children + g->child_off[0],
	    g->child_off[1] - g->child_off[0], "1 2", "diamond: children of 0");
	is_list(g->deps + g->dep_off[3], g->dep_off[4] - g->dep_off[3], "1 2",
	    "diamond: deps of 3");
	is_int(g->child_off[4] - g->child_off[3], 0, "diamond: sink has none");
	ok(dag_consistent(g), "diamond consistent");
	dag_free(g);
	spec_free(&sp);
}

static void
test_chain(void)
{
	struct spec sp;
	struct dag *g;

	/* Node i depends on i+1: the order is the reverse of the indices. */
	spec_init(&sp, 5);
	for (size_t i = 0; i < 4; i++)
		spec_dep(&sp, i, i + 1);
	g = spec_build(&sp, NULL, NULL);
	ok(g != NULL, "reverse chain builds");
	is_list(g->topo, 5, "4 3 2 1 0", "reverse chain order");
	is_int(g->level[0], 4, "reverse chain: node 0 deepest");
	is_int(g->nlevels, 5, "reverse chain: 5 levels");
	ok(dag_consistent(g), "reverse chain consistent");
	dag_free(g);
	spec_free(&sp);
}

static void
test_fan(void)
{
	struct spec sp;
	struct dag *g;
	int good = 1;

	/* 0 -> 1..10 -> 11, and 12 hangs off 0 directly. */
	spec_init(&sp, 13);
	for (size_t i = 1; i <= 10; i++) {
		spec_dep(&sp, i, 0);
		spec_dep(&sp, 11, i);
	}
	spec_dep(&sp, 12, 0);
	g = spec_build(&sp, NULL, NULL);
	ok(g != NULL, "fan-out/fan-in builds");
	is_int(g->nedges, 21, "fan: 21 edges");
	is_int(
	    g->child_off[1] - g->child_off[0], 11, "fan: root has 11 children");
	for (size_t k = g->child_off[0]; k + 1 < g->child_off[1]; k++)
		if (g->children[k] >= g->children[k + 1])
			good = 0;
	ok(good, "fan: children listed in increasing index order");
	is_int(g->dep_off[12] - g->dep_off[11], 10, "fan: sink has 10 deps");
	is_list(g->topo, 13, "0 1 2 3 4 5 6 7 8 9 10 11 12",
	    "fan: order ties broken by index");
	is_int(g->level[11], 2, "fan: sink level 2");
	is_int(g->level[12], 1, "fan: leaf off the root level 1");
	ok(dag_consistent(g), "fan consistent");
	dag_free(g);
	spec_free(&sp);
}

static void
test_disconnected_and_stable(void)
{
	struct spec sp;
	struct dag *g;

	/* Components {0 -> 2}, {1 -> 3} and the lone 4. */
	spec_init(&sp, 5);
	spec_dep(&sp, 2, 0);
	spec_dep(&sp, 3, 1);
	g = spec_build(&sp, NULL, NULL);
	ok(g != NULL, "disconnected builds");
	is_list(g->topo, 5, "0 1 2 3 4", "disconnected: smallest ready first");
	is_int(g->level[4], 0, "lone node is a root");
	is_int(g->level[3], 1, "second component level");
	is_int(g->nlevels, 2, "disconnected: 2 levels");
	ok(dag_consistent(g), "disconnected consistent");
	dag_free(g);
	spec_free(&sp);

	/* A low index that must wait for a high one. */
	spec_init(&sp, 4);
	spec_dep(&sp, 0, 3);
	g = spec_build(&sp, NULL, NULL);
	is_list(g->topo, 4, "1 2 3 0", "stable: 0 waits for 3, rest by index");
	dag_free(g);
	g = spec_build(&sp, NULL, NULL);
	is_list(g->topo, 4, "1 2 3 0", "stable: same order on a second build");
	dag_free(g);
	spec_free(&sp);

	/* Duplicate dependencies are harmless. */
	spec_init(&sp, 2);
	spec_dep(&sp, 1, 0);
	spec_dep(&sp, 1, 0);
	g = spec_build(&sp, NULL, NULL);
	ok(g != NULL && g->topo[0] == 0 && g->topo[1] == 1,
	    "duplicate dependency still orders");
	dag_free(g);
	spec_free(&sp);

	/* The empty graph. */
	spec_init(&sp, 0);
	g = spec_build(&sp, NULL, NULL);
	ok(g != NULL && g->n == 0 && g->nlevels == 0 && g->nedges == 0,
	    "empty graph builds");
	dag_free(g);
	spec_free(&sp);
	dag_free(NULL);
	ok(1, "dag_free(NULL) is a no-op");
}

static void
test_cycles(void)
{
	struct spec sp;
	struct dag *g;
	size_t *cyc = NULL, len = 0;

	spec_init(&sp, 3);
	spec_dep(&sp, 1, 0);
	spec_dep(&sp, 1, 1);
	errno = 0;
	g = spec_build(&sp, &cyc, &len);
	ok(g == NULL && errno == ELOOP, "self-edge is a cycle (ELOOP)");
	is_list(cyc, len, "1 1", "self-edge path 1 -> 1");
	free(cyc);
	spec_free(&sp);

	/* 0 needs 2, 1 needs 0, 2 needs 1: edges 0 -> 1 -> 2 -> 0. */
	spec_init(&sp, 3);
	spec_dep(&sp, 0, 2);
	spec_dep(&sp, 1, 0);
	spec_dep(&sp, 2, 1);
	g = spec_build(&sp, &cyc, &len);
	ok(g == NULL, "3-cycle refused");
	is_int(len, 4, "3-cycle path has 4 entries");
	is_list(cyc, len, "0 1 2 0", "3-cycle path exactly");
	free(cyc);
	spec_free(&sp);

	/* The same cycle, numbered the other way round. */
	spec_init(&sp, 3);
	spec_dep(&sp, 0, 1);
	spec_dep(&sp, 1, 2);
	spec_dep(&sp, 2, 0);
	g = spec_build(&sp, &cyc, &len);
	is_list(cyc, len, "0 2 1 0", "reversed 3-cycle path follows edges");
	free(cyc);
	spec_free(&sp);

	/*
	 * 0 is fine; 1 needs 0 and 4; 2 needs 1; 3 needs 2; 4 needs 3; 5
	 * needs 4: the cycle 1 -> 2 -> 3 -> 4 -> 1 sits in the middle.
	 */
	spec_init(&sp, 6);
	spec_dep(&sp, 1, 0);
	spec_dep(&sp, 1, 4);
	spec_dep(&sp, 2, 1);
	spec_dep(&sp, 3, 2);
	spec_dep(&sp, 4, 3);
	spec_dep(&sp, 5, 4);
	g = spec_build(&sp, &cyc, &len);
	ok(g == NULL, "cycle in the middle refused");
	is_list(cyc, len, "1 2 3 4 1", "cycle in the middle: exact path");
	free(cyc);
	spec_free(&sp);

	/* The walk starts outside the cycle: 0 needs 3, 3 <-> 2. */
	spec_init(&sp, 4);
	spec_dep(&sp, 0, 3);
	spec_dep(&sp, 3, 2);
	spec_dep(&sp, 2, 3);
	spec_dep(&sp, 1, 0);
	g = spec_build(&sp, &cyc, &len);
	is_list(cyc, len, "2 3 2", "only the cycle, not the way into it");
	free(cyc);
	/* No place to put the path: still refused, nothing leaks. */
	g = spec_build(&sp, NULL, NULL);
	ok(g == NULL && errno == ELOOP, "cycle refused with cycle == NULL");
	spec_free(&sp);

	/* A dependency that is not a node. */
	spec_init(&sp, 2);
	spec_dep(&sp, 1, 7);
	cyc = (size_t *)1;
	g = spec_build(&sp, &cyc, &len);
	ok(g == NULL && errno == EINVAL && cyc == NULL,
	    "out-of-range dependency is EINVAL, no cycle");
	spec_free(&sp);
}

static void
test_ready(void)
{
	static const struct {
		enum task_state st[4];
		unsigned char ok[4];
		const char *want;
	} cases[] = {
		{ { TASK_PENDING, TASK_PENDING, TASK_PENDING, TASK_PENDING },
		    { 0, 0, 0, 0 }, "0" },
		{ { TASK_READY, TASK_PENDING, TASK_PENDING, TASK_PENDING },
		    { 0, 0, 0, 0 }, "" },
		{ { TASK_SUCCESS, TASK_PENDING, TASK_PENDING, TASK_PENDING },
		    { 1, 0, 0, 0 }, "1 2" },
		{ { TASK_SUCCESS, TASK_RUNNING, TASK_PENDING, TASK_PENDING },
		    { 1, 0, 0, 0 }, "2" },
		{ { TASK_SUCCESS, TASK_SUCCESS, TASK_RUNNING, TASK_PENDING },
		    { 1, 1, 0, 0 }, "" },
		{ { TASK_SUCCESS, TASK_SUCCESS, TASK_SUCCESS, TASK_PENDING },
		    { 1, 1, 1, 0 }, "3" },
		{ { TASK_SUCCESS, TASK_SUCCESS, TASK_SKIPPED, TASK_PENDING },
		    { 1, 1, 1, 0 }, "3" }, /* skipped by condition */
		{ { TASK_SUCCESS, TASK_SUCCESS, TASK_SKIPPED, TASK_PENDING },
		    { 1, 1, 0, 0 }, "" }, /* skipped upstream */
		{ { TASK_SUCCESS, TASK_DEAD, TASK_SUCCESS, TASK_PENDING },
		    { 1, 0, 1, 0 }, "" },
		{ { TASK_SUCCESS, TASK_SUCCESS, TASK_SUCCESS, TASK_SUCCESS },
		    { 1, 1, 1, 1 }, "" },
	};
	struct spec sp;
	struct dag *g;
	size_t out[4], n;

	spec_init(&sp, 4);
	spec_dep(&sp, 1, 0);
	spec_dep(&sp, 2, 0);
	spec_dep(&sp, 3, 1);
	spec_dep(&sp, 3, 2);
	g = spec_build(&sp, NULL, NULL);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = dag_ready(g, cases[i].st, cases[i].ok, out);
		is_list(out, n, cases[i].want, "ready set, case");
	}
	dag_free(g);
	spec_free(&sp);

	/* Out of index order: ready nodes come in topological order. */
	spec_init(&sp, 3);
	spec_dep(&sp, 0, 2);
	spec_dep(&sp, 1, 2);
	g = spec_build(&sp, NULL, NULL);
	{
		enum task_state st[3] = { TASK_PENDING, TASK_PENDING,
			TASK_PENDING };
		unsigned char okv[3] = { 0, 0, 0 };

		n = dag_ready(g, st, okv, out);
		is_list(out, n, "2", "only the root 2 is ready");
		st[2] = TASK_SUCCESS;
		okv[2] = 1;
		n = dag_ready(g, st, okv, out);
		is_list(out, n, "0 1", "then 0 and 1");
	}
	dag_free(g);
	spec_free(&sp);
}

static void
test_big(void)
{
	const size_t n = 100000;
	struct spec sp;
	struct dag *g;
	size_t *cyc = NULL, len = 0;
	int good = 1;

	/* A 100,000-node chain: no recursion may be involved. */
	spec_init(&sp, n);
	for (size_t i = 1; i < n; i++)
		spec_dep(&sp, i, i - 1);
	g = spec_build(&sp, NULL, NULL);
	ok(g != NULL, "100,000-node chain builds");
	for (size_t i = 0; g && i < n; i++)
		if (g->topo[i] != i || g->level[i] != (int)i)
			good = 0;
	ok(good, "chain: order and levels are the indices");
	is_int(g ? g->nlevels : 0, n, "chain: 100,000 levels");
	dag_free(g);

	/* Closing the chain makes a 100,000-node cycle. */
	spec_dep(&sp, 0, n - 1);
	g = spec_build(&sp, &cyc, &len);
	ok(g == NULL, "100,000-node cycle refused");
	is_int(len, n + 1, "cycle path holds every node");
	good = cyc != NULL && len == n + 1;
	for (size_t i = 0; good && i < n; i++)
		if (cyc[i] != i)
			good = 0;
	ok(good && cyc[n] == 0, "cycle path 0 -> 1 -> ... -> 99999 -> 0");
	free(cyc);
	spec_free(&sp);

	/* 100,000 nodes, ~200,000 edges, dependencies pointing backwards. */
	spec_init(&sp, n);
	for (size_t i = 1; i < n; i++) {
		spec_dep(&sp, n - 1 - i, n - i); /* chain, reversed */
		if (i >= 2)
			spec_dep(&sp, n - 1 - i, n - 1 - i / 2);
	}
	g = spec_build(&sp, NULL, NULL);
	ok(g != NULL, "100,000 nodes / ~200,000 edges build");
	ok(g && g->nedges == 2 * (n - 1) - 1, "edge count %zu",
	    g ? g->nedges : 0);
	ok(g && dag_consistent(g), "big graph consistent");
	dag_free(g);
	spec_free(&sp);
}

/*
 * The same random graph numbered forwards (the heap-free path) and
 * backwards (Kahn's heap): levels must agree node for node.
 */
static void
test_both_paths(void)
{
	const size_t n = 2000;
	struct spec fw, bw;
	struct dag *g, *h;
	int good = 1;
	unsigned seed = 12345;

	spec_init(&fw, n);
	spec_init(&bw, n);
	for (size_t v = 1; v < n; v++)
		for (int k = 0; k < 3; k++) {
			size_t u;

			seed = seed * 1103515245u + 12345u;
			u = (seed >> 8) % v;
			spec_dep(&fw, v, u);
			spec_dep(&bw, n - 1 - v, n - 1 - u);
		}
	g = spec_build(&fw, NULL, NULL);
	h = spec_build(&bw, NULL, NULL);
	ok(g && h && dag_consistent(g) && dag_consistent(h),
	    "random graph consistent both ways");
	for (size_t v = 0; g && h && v < n; v++)
		if (g->level[v] != h->level[n - 1 - v])
			good = 0;
	ok(good && g->nlevels == h->nlevels, "levels agree both ways");
	for (size_t i = 0; g && i < n; i++)
		if (g->topo[i] != i)
			good = 0;
	ok(good, "forward numbering: index order");
	dag_free(g);
	dag_free(h);
	spec_free(&fw);
	spec_free(&bw);
}

int
main(void)
{
	test_both_paths();
	test_diamond();
	test_chain();
	test_fan();
	test_disconnected_and_stable();
	test_cycles();
	test_ready();
	test_big();
	return t_done();
}
