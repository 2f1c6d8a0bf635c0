/*
 * dag: see dag.h.
 *
 * The graph is built in three passes over the dependency lists: copy them
 * into CSR form (dep_off/deps), count and fill the reverse adjacency
 * (child_off/children, each child list in increasing index order), then
 * run Kahn's algorithm with a binary min-heap of ready nodes, so the
 * topological order is the lexicographically smallest one ("ties by
 * index") and stays stable across loads of the same file.  Levels fall out
 * of the same pass: a node's level is one more than its deepest dependency.
 *
 * When every dependency points to a smaller index (tasks written after
 * what they need, the usual case) index order already is that order, and
 * the heap is skipped.
 *
 * When Kahn's algorithm stalls, every node it could not emit still has at
 * least one unemitted dependency.  Walking from one such node to an
 * unemitted dependency, again and again, must therefore revisit a node, and
 * the revisited stretch of the walk is a cycle.  The walk is a plain loop
 * over arrays (no recursion), visits each node at most once, and so costs
 * O(n + e) even for a 100,000-node chain.  The cycle is reported in edge
 * direction (each node depends on the one before it) starting at its
 * smallest index, so the same file always gives the same message.
 *
 * Nothing here allocates through anything but xalloc, and nothing does I/O.
 */
#include "dag.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "xalloc.h"

/* A binary min-heap of node indices: the ready queue of Kahn's algorithm. */
struct minheap {
	size_t *v;
	size_t n;
};

static void
heap_push(struct minheap *h, size_t x)
{
	size_t i = h->n++;

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (h->v[parent] <= x)
			break;
		h->v[i] = h->v[parent];
		i = parent;
	}
	h->v[i] = x;
}

static size_t
heap_pop(struct minheap *h)
{
	size_t top = h->v[0];
	size_t last = h->v[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1] < h->v[c])
			c++;
		if (last <= h->v[c])
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n > 0)
		h->v[i] = last;
	return top;
}

/*
 * Finds one cycle among the nodes Kahn's algorithm left behind (those with
 * indeg[v] > 0).  Returns it as a malloc'd array a, b, ..., a.
 */
static size_t *
find_cycle(const struct dag *g, const size_t *indeg, size_t *len)
{
	/* pos[v]: 1 + position of v in the walk, 0 when not visited. */
	size_t *pos = xcalloc(g->n ? g->n : 1, sizeof(*pos));
	size_t *walk = xmalloc((g->n ? g->n : 1) * sizeof(*walk));
	size_t nwalk = 0, start = 0, v, first, k, best;
	size_t *cycle;

	while (start < g->n && indeg[start] == 0)
		start++;
	v = start;
	while (pos[v] == 0) {
		pos[v] = ++nwalk;
		walk[nwalk - 1] = v;
		/* Some dependency of v is unemitted (indeg counts those). */
		for (k = g->dep_off[v]; k < g->dep_off[v + 1]; k++)
			if (indeg[g->deps[k]] > 0)
				break;
		v = g->deps[k];
	}
	/*
	 * walk[first .. nwalk) each depend on the next, and walk[nwalk-1]
	 * depends on walk[first]: reversed, that is a path along the edges.
	 */
	first = pos[v] - 1;
	k = nwalk - first; /* nodes on the cycle */
	best = first;
	for (size_t i = first; i < nwalk; i++)
		if (walk[i] < walk[best])
			best = i;
	cycle = xmalloc((k + 1) * sizeof(*cycle));
	/* Reverse order starting from best: best, best-1, ..., wrapping. */
	for (size_t i = 0; i < k; i++) {
		size_t off = (best - first + k - i) % k;

		cycle[i] = walk[first + off];
	}
	cycle[k] = cycle[0];
	*len = k + 1;
	free(walk);
	free(pos);
	return cycle;
}

/* Copies the dependency lists into CSR form (dep_off/deps). */
static void
dag_copy_deps(struct dag *g, const size_t *const *deps_of, const size_t *ndeps)
{
	size_t n = g->n;

	g->dep_off = xcalloc(n + 1, sizeof(*g->dep_off));
	for (size_t v = 0; v < n; v++)
		g->dep_off[v + 1] = g->dep_off[v] + ndeps[v];
	g->nedges = g->dep_off[n];
	g->deps = xmalloc((g->nedges ? g->nedges : 1) * sizeof(*g->deps));
	for (size_t v = 0; v < n; v++)
		if (ndeps[v] > 0)
			memcpy(g->deps + g->dep_off[v], deps_of[v],
			    ndeps[v] * sizeof(*g->deps));
}

/* Reverse adjacency: count, prefix-sum, fill in increasing v. */
static void
dag_fill_children(struct dag *g)
{
	size_t n = g->n, *fill;

	g->child_off = xcalloc(n + 1, sizeof(*g->child_off));
	for (size_t e = 0; e < g->nedges; e++)
		g->child_off[g->deps[e] + 1]++;
	for (size_t u = 0; u < n; u++)
		g->child_off[u + 1] += g->child_off[u];
	g->children =
	    xmalloc((g->nedges ? g->nedges : 1) * sizeof(*g->children));
	fill = xmalloc((n ? n : 1) * sizeof(*fill));
	memcpy(fill, g->child_off, n * sizeof(*fill));
	for (size_t v = 0; v < n; v++)
		for (size_t k = g->dep_off[v]; k < g->dep_off[v + 1]; k++)
			g->children[fill[g->deps[k]]++] = v;
	free(fill);
}

/*
 * Tasks listed after what they depend on (the usual way to write a
 * workflow): index order is then the smallest topological order, there
 * can be no cycle, and levels are one pass over the dependency lists.
 * No heap needed.
 */
static void
dag_order_forward(struct dag *g)
{
	int maxlevel = -1;

	for (size_t v = 0; v < g->n; v++) {
		g->topo[v] = v;
		for (size_t k = g->dep_off[v]; k < g->dep_off[v + 1]; k++)
			if (g->level[v] < g->level[g->deps[k]] + 1)
				g->level[v] = g->level[g->deps[k]] + 1;
		if (g->level[v] > maxlevel)
			maxlevel = g->level[v];
	}
	g->nlevels = maxlevel + 1;
}

/*
 * Kahn's algorithm; indeg[v] = dependencies not yet emitted, left for
 * find_cycle() when it stalls.  Returns the number of nodes emitted.
 */
static size_t
dag_order_kahn(struct dag *g, const size_t *ndeps, size_t *indeg)
{
	struct minheap heap = { NULL, 0 };
	size_t n = g->n, ntopo = 0;
	int maxlevel = -1;

	heap.v = xmalloc((n ? n : 1) * sizeof(*heap.v));
	for (size_t v = 0; v < n; v++) {
		indeg[v] = ndeps[v];
		if (indeg[v] == 0)
			heap_push(&heap, v);
	}
	while (heap.n > 0) {
		size_t u = heap_pop(&heap);

		g->topo[ntopo++] = u;
		if (g->level[u] > maxlevel)
			maxlevel = g->level[u];
		for (size_t k = g->child_off[u]; k < g->child_off[u + 1]; k++) {
			size_t c = g->children[k];

			if (g->level[c] < g->level[u] + 1)
				g->level[c] = g->level[u] + 1;
			if (--indeg[c] == 0)
				heap_push(&heap, c);
		}
	}
	free(heap.v);
	g->nlevels = maxlevel + 1;
	return ntopo;
}

struct dag *
dag_build(size_t n, const size_t *const *deps_of, const size_t *ndeps,
    size_t **cycle, size_t *cycle_len)
{
	struct dag *g;
	size_t *indeg;
	int forward = 1; /* every dependency has a smaller index */

	if (cycle != NULL)
		*cycle = NULL;
	if (cycle_len != NULL)
		*cycle_len = 0;
	for (size_t v = 0; v < n; v++)
		for (size_t k = 0; k < ndeps[v]; k++) {
			if (deps_of[v][k] >= n) {
				errno = EINVAL;
				return NULL;
			}
			if (deps_of[v][k] >= v)
				forward = 0;
		}

	g = xcalloc(1, sizeof(*g));
	g->n = n;
	dag_copy_deps(g, deps_of, ndeps);
	dag_fill_children(g);
	g->topo = xmalloc((n ? n : 1) * sizeof(*g->topo));
	g->level = xcalloc(n ? n : 1, sizeof(*g->level));
	if (forward) {
		dag_order_forward(g);
		return g;
	}

	indeg = xmalloc((n ? n : 1) * sizeof(*indeg));
	if (dag_order_kahn(g, ndeps, indeg) < n) {
		size_t *cyc, len;

		cyc = find_cycle(g, indeg, &len);
		if (cycle != NULL && cycle_len != NULL) {
			*cycle = cyc;
			*cycle_len = len;
		} else
			free(cyc);
		free(indeg);
		dag_free(g);
		errno = ELOOP;
		return NULL;
	}
	free(indeg);
	return g;
}

void
dag_free(struct dag *g)
{
	if (g == NULL)
		return;
	free(g->dep_off);
	free(g->deps);
	free(g->child_off);
	free(g->children);
	free(g->topo);
	free(g->level);
	free(g);
}

size_t
dag_ready(const struct dag *g, const enum task_state *states,
    const unsigned char *ok, size_t *out)
{
	size_t nout = 0;

	for (size_t i = 0; i < g->n; i++) {
		size_t v = g->topo[i], k;

		if (states[v] != TASK_PENDING)
			continue;
		for (k = g->dep_off[v]; k < g->dep_off[v + 1]; k++)
			if (!ok[g->deps[k]])
				break;
		if (k == g->dep_off[v + 1])
			out[nout++] = v;
	}
	return nout;
}
