/*
 * yamlnode: a small YAML document tree with source positions.
 *
 * The buffer is read with libyaml's event API into a tree of scalars,
 * sequences and mappings; every node keeps the 1-based line and column of
 * its first character so that validators can point at it.  Plain scalars
 * are typed by the YAML 1.2 core schema (null, true/false, integers,
 * floats, everything else a string); quoted and block scalars are always
 * strings, so `"3"` and `3` stay different.  JSON is YAML flow style and
 * parses the same way.
 *
 * Hostile input is bounded: files over a byte cap, more than a number of
 * nodes, more than a number of alias uses, or aliases that would expand to
 * too many nodes (the "billion laughs") are refused with a diagnostic.
 * Aliases share the anchored node rather than copying it, and the expansion
 * count is what bounds every later walk of the tree.  Merge keys (`<<:`) are
 * supported.  Duplicate mapping keys are errors (the first one is kept).
 *
 * Memory: every node and string lives in an arena owned by the struct
 * ydoc; ydoc_free() releases all of it at once.  Nodes may be shared (an
 * alias), so nothing is ever freed piecemeal.
 */
#ifndef LOOM_YAMLNODE_H
#define LOOM_YAMLNODE_H

#include <stddef.h>
#include <stdint.h>

#include <jv.h>

#include "diag.h"

enum ynode_type {
	YN_SCALAR = 0,
	YN_SEQ,
	YN_MAP,
};

/* How a scalar resolves under the YAML 1.2 core schema (or its tag). */
enum yscalar_kind {
	YS_STR = 0,
	YS_NULL,
	YS_BOOL,
	YS_INT,
	YS_FLOAT,
};

struct ynode {
	unsigned char type;   /* enum ynode_type */
	unsigned char kind;   /* enum yscalar_kind, scalars only */
	unsigned char quoted; /* scalar was not plain (quoted or block) */
	int line;	      /* 1-based */
	int col;	      /* 1-based, in characters */
	uint32_t weight; /* nodes in the fully expanded subtree (saturating) */
	size_t n;	 /* scalar: length; seq: items; map: pairs */
	union {
		char *str;	      /* scalar: NUL-terminated text */
		struct ynode **items; /* seq: n items; map: 2n (key, value) */
	} u;
};

struct ylimits {
	size_t max_bytes;     /* input size */
	size_t max_nodes;     /* nodes actually in the text */
	size_t max_aliases;   /* alias uses */
	size_t max_expansion; /* nodes added by all alias uses together */
};

struct yarena;

struct ydoc {
	struct ynode *root; /* NULL for an empty document */
	struct yarena *arena;
};

/*
 * Parses buf (len bytes, need not be NUL-terminated).  file names the input
 * in diagnostics.  Returns the document, or NULL after a fatal error (syntax,
 * limits), in both cases having added every problem found to d; a returned
 * document may still come with non-fatal diagnostics (duplicate keys).
 * lim may be NULL for the defaults below.
 */
struct ydoc *ydoc_parse(const char *file, const char *buf, size_t len,
    const struct ylimits *lim, struct diags *d);
void ydoc_free(struct ydoc *doc);

/*
 * The tree of JSON text (len bytes, strict RFC 8259) as ydoc_parse() would
 * give it, but without positions (every node is at line 1, column 1) and
 * several times faster: for documents that were validated already, such
 * as a stored workflow spec.  Strings are quoted scalars; integral numbers
 * that a double holds exactly are YS_INT, others YS_FLOAT.  Returns NULL
 * with *err (malloc'd, naming the byte) for text that is not one JSON
 * value, or nests too deeply.
 */
struct ydoc *ydoc_parse_json(const char *buf, size_t len, char **err);

#define YNODE_DEFAULT_MAX_BYTES (16u * 1024 * 1024)
#define YNODE_DEFAULT_MAX_NODES 5000000u
#define YNODE_DEFAULT_MAX_ALIASES 10000u
#define YNODE_DEFAULT_MAX_EXPANSION 1000000u

/* Map helpers: key i and value i of a mapping (i < n). */
static inline struct ynode *
ynode_key(const struct ynode *m, size_t i)
{
	return m->u.items[2 * i];
}

static inline struct ynode *
ynode_val(const struct ynode *m, size_t i)
{
	return m->u.items[2 * i + 1];
}

/* The value for a string key in a mapping, or NULL. */
struct ynode *ynode_map_get(const struct ynode *map, const char *key);

/* Whether n is a scalar that resolved to a string. */
int ynode_is_str(const struct ynode *n);

/*
 * What a node is, with an article, for messages: "a string", "an integer",
 * "a number", "a boolean", "null", "a sequence", "a mapping".
 */
const char *ynode_kind_name(const struct ynode *n);

/*
 * Numeric value of an YS_INT (decimal, 0x, 0o) or YS_FLOAT scalar.
 * ynode_int() also accepts a float with an integral value.  Return 0, or -1
 * when the node is not such a number (or an integer overflows int64).
 */
int ynode_int(const struct ynode *n, int64_t *out);
int ynode_double(const struct ynode *n, double *out);

/*
 * The node as a JSON value (mapping keys become their text).  Returns
 * jv_invalid_with_msg when a value has no JSON form (.inf, .nan).
 */
jv ynode_to_jv(const struct ynode *n);

/*
 * The node as compact JSON text appended to b, leaving out the members of
 * a top-level mapping whose keys are in skip (a NULL-terminated list, or
 * NULL).  Returns 0, or -1 when a value has no JSON form (.inf, .nan).
 */
struct buf;
int ynode_json(const struct ynode *n, struct buf *b, const char *const *skip);

#endif
