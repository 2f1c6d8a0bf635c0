/*
 * dag: the dependency graph of a workflow's tasks.  Pure code.
 *
 * Nodes are task indices 0..n-1.  An edge u -> v means v depends on u
 * (u must finish first).  Built in O(n + e); a 100,000-task graph builds in
 * milliseconds.  Adjacency is stored as CSR arrays for locality.
 */
#ifndef LOOM_DAG_H
#define LOOM_DAG_H

#include <stddef.h>

#include "state.h"

struct dag {
	size_t n;
	size_t nedges;
	size_t *dep_off; /* deps of v: deps[dep_off[v] .. dep_off[v+1]) */
	size_t *deps;
	size_t *child_off; /* children of u: children[child_off[u] ..
			      child_off[u+1]) */
	size_t *children;
	size_t *topo; /* a topological order (stable: ties by index) */
	int *level;   /* longest path from a root; roots are level 0 */
	int nlevels;
};

/*
 * Builds the graph from, for each node v, the list of nodes it depends on
 * (deps_of[v][0..ndeps[v])).  Returns NULL when there is a cycle; then, if
 * cycle is not NULL, *cycle is a malloc'd array of node indices a, b, ..., a
 * (first == last) and *cycle_len its length.  Self-edges are cycles too.
 * The path follows the edges (b depends on a, ...) and starts at the
 * cycle's smallest index, so the same input always gives the same path.
 * errno is ELOOP for a cycle, EINVAL for a dependency index >= n.
 */
struct dag *dag_build(size_t n, const size_t *const *deps_of,
    const size_t *ndeps, size_t **cycle, size_t *cycle_len);
void dag_free(struct dag *g);

/*
 * The ready set: nodes in TASK_PENDING whose every dependency is satisfied
 * (ok[] says, per node, whether it counts as satisfied — normally SUCCESS, or
 * SKIPPED because its own condition was false).  Writes indices in
 * topological order into out (room for g->n) and returns how many.
 */
size_t dag_ready(const struct dag *g, const enum task_state *states,
    const unsigned char *ok, size_t *out);

#endif
