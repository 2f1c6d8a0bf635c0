/*
 * yamlnode: see yamlnode.h.
 *
 * libyaml delivers a flat stream of events; the tree is built with two
 * explicit stacks (no recursion, so nesting depth cannot overflow the C
 * stack): a stack of open collections (frames) and a stack of finished
 * child nodes.  A collection's children sit on the child stack from the
 * frame's start index up; when the collection ends they are copied once into
 * an exactly sized array in the arena and popped.  Anchors are registered
 * when their node is complete, so an alias can never point into an
 * unfinished node and the tree cannot contain a cycle.  Every node and
 * string is allocated from a bump arena, which keeps a 100,000-task file to
 * a few allocations per kilobyte and lets aliases share nodes freely.
 */
#include "yamlnode.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "buf.h"
#include "hmap.h"
#include "xalloc.h"

#define YNODE_MAX_DEPTH 512
#define ARENA_CHUNK (64 * 1024)

/* ---- arena ---------------------------------------------------------- */

struct achunk {
	struct achunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct yarena {
	struct achunk *head;
};

static void *
arena_alloc(struct yarena *a, size_t n)
{
	struct achunk *c = a->head;

	n = (n + 7) & ~(size_t)7;
	if (c == NULL || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK / 4 ? n : ARENA_CHUNK;

		c = xmalloc(sizeof(*c) + cap);
		c->used = 0;
		c->cap = cap;
		/*
		 * A big one-off block goes behind the current chunk so the
		 * current chunk's free space is not wasted.
		 */
		if (a->head != NULL && cap != ARENA_CHUNK) {
			c->next = a->head->next;
			a->head->next = c;
		} else {
			c->next = a->head;
			a->head = c;
		}
	}
	c->used += n;
	return (char *)c->data + c->used - n;
}

static char *
arena_strndup(struct yarena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static void
arena_free(struct yarena *a)
{
	struct achunk *c, *next;

	if (a == NULL)
		return;
	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(a);
}

/* ---- scalar resolution (YAML 1.2 core schema) ------------------------ */

static int
all_of(const char *s, const char *set)
{
	if (*s == '\0')
		return 0;
	for (; *s; s++)
		if (strchr(set, *s) == NULL)
			return 0;
	return 1;
}

static int
is_core_null(const char *s)
{
	return *s == '\0' || !strcmp(s, "~") || !strcmp(s, "null") ||
	    !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int
is_core_bool(const char *s)
{
	return !strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE") ||
	    !strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE");
}

static int
is_core_int(const char *s)
{
	if (s[0] == '0' && s[1] == 'o')
		return all_of(s + 2, "01234567");
	if (s[0] == '0' && s[1] == 'x')
		return all_of(s + 2, "0123456789abcdefABCDEF");
	if (*s == '-' || *s == '+')
		s++;
	return all_of(s, "0123456789");
}

static int
is_core_float(const char *s)
{
	const char *p = s;
	int digits = 0;

	if (*p == '-' || *p == '+')
		p++;
	if (!strcmp(p, ".inf") || !strcmp(p, ".Inf") || !strcmp(p, ".INF"))
		return 1;
	if (!strcmp(s, ".nan") || !strcmp(s, ".NaN") || !strcmp(s, ".NAN"))
		return 1;
	/* [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
	while (isdigit((unsigned char)*p)) {
		p++;
		digits++;
	}
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			p++;
			digits++;
		}
	}
	if (digits == 0)
		return 0;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!isdigit((unsigned char)*p))
			return 0;
		while (isdigit((unsigned char)*p))
			p++;
	}
	return *p == '\0';
}

static enum yscalar_kind
resolve_plain(const char *s)
{
	if (is_core_null(s))
		return YS_NULL;
	if (is_core_bool(s))
		return YS_BOOL;
	if (is_core_int(s))
		return YS_INT;
	if (is_core_float(s))
		return YS_FLOAT;
	return YS_STR;
}

/* ---- the parser state ------------------------------------------------ */

struct frame {
	struct ynode *node; /* the open collection */
	size_t start;	    /* its first child on the child stack */
	char *anchor;	    /* arena copy, or NULL */
};

struct anchor {
	const char *name; /* arena copy: also the hmap key */
	struct ynode *node;
};

struct pstate {
	const char *file;
	struct diags *d;
	struct ylimits lim;
	struct yarena *arena;
	const char *buf;
	size_t len;

	struct ynode **kids; /* the child stack */
	size_t nkids, kidscap;
	struct frame *frames;
	size_t nframes, framescap;

	struct anchor *anchors;
	size_t nanchors, anchorscap;
	struct hmap *anchormap;

	struct ynode *root;
	size_t nodes, aliases, expansion;
	int ndocs;
	int fatal;
};

static uint32_t
sat_add(uint32_t a, uint32_t b)
{
	return a > UINT32_MAX - b ? UINT32_MAX : a + b;
}

static struct ynode *
node_new(struct pstate *ps, enum ynode_type type, const yaml_mark_t *m)
{
	struct ynode *n;

	if (++ps->nodes > ps->lim.max_nodes) {
		diags_add(ps->d, ps->file, (int)m->line + 1, (int)m->column + 1,
		    "too many YAML nodes (the limit is %zu)",
		    ps->lim.max_nodes);
		ps->fatal = 1;
		return NULL;
	}
	n = arena_alloc(ps->arena, sizeof(*n));
	memset(n, 0, sizeof(*n));
	n->type = type;
	n->line = (int)m->line + 1;
	n->col = (int)m->column + 1;
	n->weight = 1;
	return n;
}

/* Hands a finished node to its parent (or makes it the root). */
static void
attach(struct pstate *ps, struct ynode *n)
{
	if (ps->nframes == 0) {
		ps->root = n;
		return;
	}
	if (ps->nkids == ps->kidscap) {
		ps->kidscap = ps->kidscap ? ps->kidscap * 2 : 256;
		ps->kids =
		    xreallocarray(ps->kids, ps->kidscap, sizeof(*ps->kids));
	}
	ps->kids[ps->nkids++] = n;
}

static void
anchor_set(struct pstate *ps, const char *name, struct ynode *n)
{
	size_t i;

	/* A redefined anchor applies to the aliases after it. */
	if (hmap_get(ps->anchormap, name, &i) == 0) {
		ps->anchors[i].node = n;
		return;
	}
	if (ps->nanchors == ps->anchorscap) {
		ps->anchorscap = ps->anchorscap ? ps->anchorscap * 2 : 16;
		ps->anchors = xreallocarray(
		    ps->anchors, ps->anchorscap, sizeof(*ps->anchors));
	}
	ps->anchors[ps->nanchors].name =
	    arena_strndup(ps->arena, name, strlen(name));
	ps->anchors[ps->nanchors].node = n;
	hmap_put(ps->anchormap, ps->anchors[ps->nanchors].name, ps->nanchors);
	ps->nanchors++;
}

/*
 * Types a scalar from its style and tag.  Explicit core tags are checked
 * against the text; unknown tags are reported and the text kept as a
 * string.
 */
static void
scalar_resolve(struct pstate *ps, struct ynode *n, const yaml_event_t *ev)
{
	const char *tag = (const char *)ev->data.scalar.tag;
	const char *s = n->u.str;
	static const char core[] = "tag:yaml.org,2002:";
	int ok = 1;

	n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	if (tag == NULL || !strcmp(tag, "?")) {
		n->kind = n->quoted ? YS_STR : resolve_plain(s);
		return;
	}
	if (!strcmp(tag, "!")) {
		n->kind = YS_STR;
		return;
	}
	if (strncmp(tag, core, sizeof(core) - 1) != 0) {
		diags_add(ps->d, ps->file, n->line, n->col,
		    "unsupported YAML tag '%s'", tag);
		n->kind = YS_STR;
		return;
	}
	tag += sizeof(core) - 1;
	n->kind = YS_STR;
	if (!strcmp(tag, "str"))
		return;
	if (!strcmp(tag, "null")) {
		if ((ok = is_core_null(s)))
			n->kind = YS_NULL;
	} else if (!strcmp(tag, "bool")) {
		if ((ok = is_core_bool(s)))
			n->kind = YS_BOOL;
	} else if (!strcmp(tag, "int")) {
		if ((ok = is_core_int(s)))
			n->kind = YS_INT;
	} else if (!strcmp(tag, "float")) {
		if ((ok = is_core_float(s) || is_core_int(s)))
			n->kind = YS_FLOAT;
	} else {
		diags_add(ps->d, ps->file, n->line, n->col,
		    "YAML tag '!!%s' is not allowed on a scalar", tag);
		return;
	}
	if (!ok)
		diags_add(ps->d, ps->file, n->line, n->col,
		    "'%s' is not a valid !!%s", s, tag);
}

static void
collection_tag_check(
    struct pstate *ps, const char *tag, enum ynode_type t, const yaml_mark_t *m)
{
	const char *want =
	    t == YN_MAP ? "tag:yaml.org,2002:map" : "tag:yaml.org,2002:seq";

	if (tag != NULL && strcmp(tag, "!") != 0 && strcmp(tag, want) != 0)
		diags_add(ps->d, ps->file, (int)m->line + 1, (int)m->column + 1,
		    "unsupported YAML tag '%s'", tag);
}

static void
on_scalar(struct pstate *ps, const yaml_event_t *ev)
{
	struct ynode *n = node_new(ps, YN_SCALAR, &ev->start_mark);

	if (n == NULL)
		return;
	n->n = ev->data.scalar.length;
	n->u.str = arena_strndup(ps->arena, (const char *)ev->data.scalar.value,
	    ev->data.scalar.length);
	scalar_resolve(ps, n, ev);
	if (ev->data.scalar.anchor != NULL)
		anchor_set(ps, (const char *)ev->data.scalar.anchor, n);
	attach(ps, n);
}

static void
on_alias(struct pstate *ps, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	const yaml_mark_t *m = &ev->start_mark;
	size_t i;
	struct ynode *target;

	if (hmap_get(ps->anchormap, name, &i) != 0) {
		diags_add(ps->d, ps->file, (int)m->line + 1, (int)m->column + 1,
		    "unknown anchor '*%s' (an alias must come after its "
		    "anchor's node is complete)",
		    name);
		ps->fatal = 1;
		return;
	}
	target = ps->anchors[i].node;
	if (++ps->aliases > ps->lim.max_aliases) {
		diags_add(ps->d, ps->file, (int)m->line + 1, (int)m->column + 1,
		    "too many aliases (the limit is %zu)", ps->lim.max_aliases);
		ps->fatal = 1;
		return;
	}
	ps->expansion += target->weight;
	if (ps->expansion > ps->lim.max_expansion) {
		diags_add(ps->d, ps->file, (int)m->line + 1, (int)m->column + 1,
		    "aliases expand to too many nodes (more than %zu); "
		    "refusing a possible \"billion laughs\" document",
		    ps->lim.max_expansion);
		ps->fatal = 1;
		return;
	}
	attach(ps, target);
}

static void
on_start(struct pstate *ps, const yaml_event_t *ev, enum ynode_type t)
{
	struct ynode *n;
	const yaml_char_t *anchor, *tag;
	struct frame *f;

	if (ps->nframes >= YNODE_MAX_DEPTH) {
		diags_add(ps->d, ps->file, (int)ev->start_mark.line + 1,
		    (int)ev->start_mark.column + 1,
		    "YAML nesting is too deep (more than %d levels)",
		    YNODE_MAX_DEPTH);
		ps->fatal = 1;
		return;
	}
	if ((n = node_new(ps, t, &ev->start_mark)) == NULL)
		return;
	if (t == YN_MAP) {
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
	} else {
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
	}
	collection_tag_check(ps, (const char *)tag, t, &ev->start_mark);
	if (ps->nframes == ps->framescap) {
		ps->framescap = ps->framescap ? ps->framescap * 2 : 16;
		ps->frames = xreallocarray(
		    ps->frames, ps->framescap, sizeof(*ps->frames));
	}
	f = &ps->frames[ps->nframes++];
	f->node = n;
	f->start = ps->nkids;
	f->anchor = anchor ? arena_strndup(ps->arena, (const char *)anchor,
				 strlen((const char *)anchor)) :
			     NULL;
}

/*
 * Set of the keys already in a mapping being built: a linear scan for
 * small mappings, a hash map once it grows (params or env may be large).
 */
struct keyset {
	struct ynode **pairs; /* (key, value) pairs, 2n entries */
	size_t n;
	struct hmap *h;
};

static long
keyset_find(const struct keyset *ks, const char *key)
{
	size_t i;

	if (ks->h != NULL)
		return hmap_get(ks->h, key, &i) == 0 ? (long)i : -1;
	for (i = 0; i < ks->n; i++)
		if (strcmp(ks->pairs[2 * i]->u.str, key) == 0)
			return (long)i;
	return -1;
}

static void
keyset_add(struct keyset *ks, struct ynode *k, struct ynode *v)
{
	ks->pairs[2 * ks->n] = k;
	ks->pairs[2 * ks->n + 1] = v;
	if (ks->h == NULL && ks->n >= 16) {
		ks->h = hmap_new(64);
		for (size_t i = 0; i < ks->n; i++)
			hmap_put(ks->h, ks->pairs[2 * i]->u.str, i);
	}
	if (ks->h != NULL)
		hmap_put(ks->h, k->u.str, ks->n);
	ks->n++;
}

static int
is_merge_key(const struct ynode *k)
{
	return k->type == YN_SCALAR && !k->quoted &&
	    strcmp(k->u.str, "<<") == 0;
}

/* Adds the pairs of merge source src whose keys are not there yet. */
static void
merge_from(
    struct pstate *ps, struct keyset *ks, const struct ynode *src, size_t *cap)
{
	for (size_t i = 0; i < src->n; i++) {
		struct ynode *k = ynode_key(src, i);

		if (keyset_find(ks, k->u.str) >= 0)
			continue;
		if (ks->n == *cap) {
			*cap *= 2;
			ks->pairs = xreallocarray(
			    ks->pairs, *cap, 2 * sizeof(*ks->pairs));
		}
		keyset_add(ks, k, ynode_val(src, i));
	}
	(void)ps;
}

static void
map_finish(struct pstate *ps, struct ynode *m, struct ynode **kv, size_t nkv)
{
	struct keyset ks = { NULL, 0, NULL };
	size_t cap = nkv / 2 + 1;
	struct ynode *merges[16];
	size_t nmerges = 0;

	ks.pairs = xreallocarray(NULL, cap, 2 * sizeof(*ks.pairs));
	for (size_t i = 0; i + 1 < nkv; i += 2) {
		struct ynode *k = kv[i], *v = kv[i + 1];
		long prev;

		if (k->type != YN_SCALAR) {
			diags_add(ps->d, ps->file, k->line, k->col,
			    "mapping keys must be scalars, found %s",
			    ynode_kind_name(k));
			continue;
		}
		if (is_merge_key(k)) {
			if (nmerges == 16) {
				diags_add(ps->d, ps->file, k->line, k->col,
				    "too many merge keys in one mapping");
				continue;
			}
			merges[nmerges++] = v;
			continue;
		}
		if ((prev = keyset_find(&ks, k->u.str)) >= 0) {
			const struct ynode *p = ks.pairs[2 * prev];

			diags_add(ps->d, ps->file, k->line, k->col,
			    "duplicate key '%s' (first at line %d, column %d)",
			    k->u.str, p->line, p->col);
			continue;
		}
		keyset_add(&ks, k, v);
	}
	/* Merge keys: explicit keys win, then earlier sources. */
	for (size_t i = 0; i < nmerges; i++) {
		struct ynode *v = merges[i];

		if (v->type == YN_MAP) {
			merge_from(ps, &ks, v, &cap);
			continue;
		}
		if (v->type == YN_SEQ) {
			for (size_t j = 0; j < v->n; j++) {
				if (v->u.items[j]->type == YN_MAP)
					merge_from(
					    ps, &ks, v->u.items[j], &cap);
				else
					diags_add(ps->d, ps->file,
					    v->u.items[j]->line,
					    v->u.items[j]->col,
					    "'<<' expects mappings, found %s",
					    ynode_kind_name(v->u.items[j]));
			}
			continue;
		}
		diags_add(ps->d, ps->file, v->line, v->col,
		    "'<<' expects a mapping or a sequence of mappings, found "
		    "%s",
		    ynode_kind_name(v));
	}
	m->n = ks.n;
	m->u.items = arena_alloc(ps->arena, 2 * ks.n * sizeof(*m->u.items) + 1);
	memcpy(m->u.items, ks.pairs, 2 * ks.n * sizeof(*m->u.items));
	for (size_t i = 0; i < 2 * ks.n; i++)
		m->weight = sat_add(m->weight, ks.pairs[i]->weight);
	free(ks.pairs);
	hmap_free(ks.h);
}

static void
on_end(struct pstate *ps)
{
	struct frame *f = &ps->frames[ps->nframes - 1];
	struct ynode *n = f->node;
	size_t nk = ps->nkids - f->start;
	/* The child stack is still NULL when nothing was ever pushed. */
	struct ynode **kids = nk > 0 ? ps->kids + f->start : NULL;

	if (n->type == YN_MAP) {
		map_finish(ps, n, kids, nk);
	} else {
		n->n = nk;
		n->u.items = arena_alloc(ps->arena, nk * sizeof(*kids) + 1);
		if (nk > 0)
			memcpy(n->u.items, kids, nk * sizeof(*kids));
		for (size_t i = 0; i < nk; i++)
			n->weight = sat_add(n->weight, kids[i]->weight);
	}
	ps->nkids = f->start;
	if (f->anchor != NULL)
		anchor_set(ps, f->anchor, n);
	ps->nframes--;
	attach(ps, n);
}

/* Line and column (1-based) of a byte offset, for reader errors. */
static void
offset_pos(const char *buf, size_t len, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)buf[i] & 0xc0) != 0x80)
			(*col)++;
	}
}

static void
syntax_error(struct pstate *ps, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "cannot parse";
	const char *hint = "";
	int line, col;

	if (p->error == YAML_READER_ERROR) {
		offset_pos(ps->buf, ps->len, p->problem_offset, &line, &col);
		diags_add(ps->d, ps->file, line, col, "%s", problem);
		return;
	}
	if (p->problem_mark.index < ps->len) {
		char c = ps->buf[p->problem_mark.index];

		if (c == '\t' && strstr(problem, "tab") == NULL)
			hint = " (a tab: YAML indents with spaces only)";
		else if ((c == '@' || c == '`') &&
		    strstr(problem, "cannot start any token"))
			hint = " ('@' and '`' cannot start a plain value; "
			       "quote it)";
	}
	line = (int)p->problem_mark.line + 1;
	col = (int)p->problem_mark.column + 1;
	if (p->context != NULL)
		diags_add(ps->d, ps->file, line, col,
		    "YAML syntax error: %s%s (%s at line %d, column %d)",
		    problem, hint, p->context, (int)p->context_mark.line + 1,
		    (int)p->context_mark.column + 1);
	else
		diags_add(ps->d, ps->file, line, col, "YAML syntax error: %s%s",
		    problem, hint);
}

/* Hands one libyaml event to its handler; 1 at the end of the stream. */
static int
on_event(struct pstate *ps, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		return 1;
	case YAML_DOCUMENT_START_EVENT:
		if (++ps->ndocs > 1) {
			diags_add(ps->d, ps->file, (int)ev->start_mark.line + 1,
			    (int)ev->start_mark.column + 1,
			    "a second YAML document: a workflow file "
			    "holds exactly one");
			ps->fatal = 1;
		}
		break;
	case YAML_SCALAR_EVENT:
		on_scalar(ps, ev);
		break;
	case YAML_ALIAS_EVENT:
		on_alias(ps, ev);
		break;
	case YAML_SEQUENCE_START_EVENT:
		on_start(ps, ev, YN_SEQ);
		break;
	case YAML_MAPPING_START_EVENT:
		on_start(ps, ev, YN_MAP);
		break;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		on_end(ps);
		break;
	default:
		break;
	}
	return 0;
}

struct ydoc *
ydoc_parse(const char *file, const char *buf, size_t len,
    const struct ylimits *lim, struct diags *d)
{
	struct pstate ps;
	yaml_parser_t parser;
	yaml_event_t ev;
	struct ydoc *doc = NULL;
	int done = 0;

	memset(&ps, 0, sizeof(ps));
	ps.file = file;
	ps.d = d;
	ps.buf = buf;
	ps.len = len;
	if (lim != NULL)
		ps.lim = *lim;
	else {
		ps.lim.max_bytes = YNODE_DEFAULT_MAX_BYTES;
		ps.lim.max_nodes = YNODE_DEFAULT_MAX_NODES;
		ps.lim.max_aliases = YNODE_DEFAULT_MAX_ALIASES;
		ps.lim.max_expansion = YNODE_DEFAULT_MAX_EXPANSION;
	}
	if (len > ps.lim.max_bytes) {
		diags_add(d, file, 0, 0,
		    "file is too large: %zu bytes (the "
		    "limit is %zu)",
		    len, ps.lim.max_bytes);
		return NULL;
	}
	ps.arena = xcalloc(1, sizeof(*ps.arena));
	ps.anchormap = hmap_new(16);

	if (!yaml_parser_initialize(&parser)) {
		diags_add(d, file, 0, 0, "cannot initialise the YAML parser");
		goto fail;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
	while (!done && !ps.fatal) {
		if (!yaml_parser_parse(&parser, &ev)) {
			syntax_error(&ps, &parser);
			ps.fatal = 1;
			break;
		}
		done = on_event(&ps, &ev);
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	if (ps.fatal)
		goto fail;
	doc = xcalloc(1, sizeof(*doc));
	doc->root = ps.root;
	doc->arena = ps.arena;
	ps.arena = NULL;
fail:
	arena_free(ps.arena);
	hmap_free(ps.anchormap);
	free(ps.anchors);
	free(ps.kids);
	free(ps.frames);
	return doc;
}

void
ydoc_free(struct ydoc *doc)
{
	if (doc == NULL)
		return;
	arena_free(doc->arena);
	free(doc);
}

/* ---- JSON text ------------------------------------------------------ */

/*
 * A strict RFC 8259 reader straight into the arena, for stored specs:
 * recursive descent (depth bounded), children gathered on one shared
 * stack and copied into an exactly sized array when their container ends.
 */
struct jstate {
	const char *start, *p, *end;
	struct yarena *a;
	struct ynode **stk;
	size_t nstk, capstk;
	int depth;
	char *err;
};

static void
jfail(struct jstate *js, const char *what)
{
	if (js->err == NULL)
		js->err = xasprintf(
		    "%s at byte %zu", what, (size_t)(js->p - js->start) + 1);
}

static void
jskip(struct jstate *js)
{
	while (js->p < js->end &&
	    (*js->p == ' ' || *js->p == '\t' || *js->p == '\n' ||
		*js->p == '\r'))
		js->p++;
}

static void
jpush(struct jstate *js, struct ynode *n)
{
	if (js->nstk == js->capstk) {
		js->capstk = js->capstk ? 2 * js->capstk : 64;
		js->stk = xreallocarray(js->stk, js->capstk, sizeof(*js->stk));
	}
	js->stk[js->nstk++] = n;
}

static struct ynode *
jnode(struct jstate *js, enum ynode_type type)
{
	struct ynode *n = arena_alloc(js->a, sizeof(*n));

	memset(n, 0, sizeof(*n));
	n->type = (unsigned char)type;
	n->line = n->col = 1;
	n->weight = 1;
	return n;
}

static int
hex4(const char *s, unsigned *out)
{
	unsigned v = 0;

	for (int i = 0; i < 4; i++) {
		int c = (unsigned char)s[i], d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		v = v << 4 | (unsigned)d;
	}
	*out = v;
	return 0;
}

/*
 * A \u escape, q at its 'u' (and a low surrogate's escape after a high
 * one): the code point in *c, *qp left at its last digit.  -1 after
 * jfail() for a bad escape, a lone surrogate or U+0000.
 */
static int
junicode(struct jstate *js, const char **qp, unsigned *c)
{
	const char *q = *qp;
	unsigned lo;

	if (js->end - q < 5 || hex4(q + 1, c) < 0) {
		js->p = q;
		jfail(js, "bad \\u escape in a string");
		return -1;
	}
	q += 4;
	if (*c >= 0xd800 && *c < 0xdc00 && js->end - q >= 7 && q[1] == '\\' &&
	    q[2] == 'u' && hex4(q + 3, &lo) == 0 && lo >= 0xdc00 &&
	    lo < 0xe000) {
		*c = 0x10000 + ((*c - 0xd800) << 10) + (lo - 0xdc00);
		q += 6;
	} else if (*c >= 0xd800 && *c < 0xe000) {
		js->p = q;
		jfail(js, "lone surrogate in a string");
		return -1;
	}
	if (*c == 0) {
		js->p = q;
		jfail(js, "\\u0000 in a string");
		return -1;
	}
	*qp = q;
	return 0;
}

/* Writes code point c as UTF-8 at o; returns the end. */
static char *
utf8_put(char *o, unsigned c)
{
	if (c < 0x80)
		*o++ = (char)c;
	else if (c < 0x800) {
		*o++ = (char)(0xc0 | c >> 6);
		*o++ = (char)(0x80 | (c & 0x3f));
	} else if (c < 0x10000) {
		*o++ = (char)(0xe0 | c >> 12);
		*o++ = (char)(0x80 | (c >> 6 & 0x3f));
		*o++ = (char)(0x80 | (c & 0x3f));
	} else {
		*o++ = (char)(0xf0 | c >> 18);
		*o++ = (char)(0x80 | (c >> 12 & 0x3f));
		*o++ = (char)(0x80 | (c >> 6 & 0x3f));
		*o++ = (char)(0x80 | (c & 0x3f));
	}
	return o;
}

/* A string's text after its opening quote; js->p ends past the closing one. */
static struct ynode *
jstring(struct jstate *js)
{
	const char *s = js->p, *q;
	struct ynode *n = jnode(js, YN_SCALAR);
	char *o;

	n->kind = YS_STR;
	n->quoted = 1;
	/* The common case, no escapes: copied as is. */
	for (q = s; q < js->end && *q != '"' && *q != '\\' &&
	     (unsigned char)*q >= 0x20;
	     q++)
		;
	if (q < js->end && *q == '"') {
		n->n = (size_t)(q - s);
		n->u.str = arena_strndup(js->a, s, n->n);
		js->p = q + 1;
		return n;
	}
	/* Escapes never make a string longer than its source. */
	o = n->u.str = arena_alloc(js->a, (size_t)(js->end - s) + 1);
	for (q = s; q < js->end && *q != '"'; q++) {
		unsigned c;

		if ((unsigned char)*q < 0x20) {
			js->p = q;
			jfail(js, "control character in a string");
			return NULL;
		}
		if (*q != '\\') {
			*o++ = *q;
			continue;
		}
		if (++q == js->end)
			break;
		switch (*q) {
		case '"':
		case '\\':
		case '/':
			*o++ = *q;
			continue;
		case 'b':
			*o++ = '\b';
			continue;
		case 'f':
			*o++ = '\f';
			continue;
		case 'n':
			*o++ = '\n';
			continue;
		case 'r':
			*o++ = '\r';
			continue;
		case 't':
			*o++ = '\t';
			continue;
		case 'u':
			break;
		default:
			js->p = q;
			jfail(js, "bad escape in a string");
			return NULL;
		}
		if (junicode(js, &q, &c) < 0)
			return NULL;
		o = utf8_put(o, c);
	}
	if (q >= js->end) {
		js->p = q;
		jfail(js, "unterminated string");
		return NULL;
	}
	*o = '\0';
	n->n = (size_t)(o - n->u.str);
	js->p = q + 1;
	return n;
}

/* Integral numbers that a double holds exactly are YS_INT (jq reads them
 * the same way), others YS_FLOAT. */
static struct ynode *
jnumber(struct jstate *js)
{
	const char *s = js->p, *q = s;
	struct ynode *n;
	char num[40];
	double d;
	int integral = 1;

	if (q < js->end && *q == '-')
		q++;
	if (q < js->end && *q == '0')
		q++;
	else if (q < js->end && *q >= '1' && *q <= '9')
		while (q < js->end && *q >= '0' && *q <= '9')
			q++;
	else
		goto bad;
	if (q < js->end && *q == '.') {
		integral = 0;
		if (++q >= js->end || *q < '0' || *q > '9')
			goto bad;
		while (q < js->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < js->end && (*q == 'e' || *q == 'E')) {
		integral = 0;
		if (++q < js->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= js->end || *q < '0' || *q > '9')
			goto bad;
		while (q < js->end && *q >= '0' && *q <= '9')
			q++;
	}
	n = jnode(js, YN_SCALAR);
	js->p = q;
	if (integral && q - s <= 15) {
		n->kind = YS_INT;
		/* "-0" is 0, as a double would have it. */
		if (q - s == 2 && s[0] == '-' && s[1] == '0')
			s++;
		n->n = (size_t)(q - s);
		n->u.str = arena_strndup(js->a, s, n->n);
		return n;
	}
	if ((size_t)(q - s) >= sizeof(num)) {
		char *t = xstrndup(s, (size_t)(q - s));

		d = strtod(t, NULL);
		free(t);
	} else {
		memcpy(num, s, (size_t)(q - s));
		num[q - s] = '\0';
		d = strtod(num, NULL);
	}
	if (!isfinite(d)) {
		js->p = s;
		jfail(js, "number out of range");
		return NULL;
	}
	if (d > -9007199254740992.0 && d < 9007199254740992.0 &&
	    d == (double)(long long)d) {
		n->kind = YS_INT;
		snprintf(num, sizeof(num), "%lld", (long long)d);
	} else {
		n->kind = YS_FLOAT;
		snprintf(num, sizeof(num), "%.17g", d);
	}
	n->n = strlen(num);
	n->u.str = arena_strndup(js->a, num, n->n);
	return n;
bad:
	js->p = s;
	jfail(js, "bad number");
	return NULL;
}

static struct ynode *
jword(struct jstate *js, const char *w, enum yscalar_kind kind)
{
	size_t l = strlen(w);
	struct ynode *n;

	if ((size_t)(js->end - js->p) < l || memcmp(js->p, w, l) != 0) {
		jfail(js, "unexpected character");
		return NULL;
	}
	js->p += l;
	n = jnode(js, YN_SCALAR);
	n->kind = (unsigned char)kind;
	n->n = l;
	n->u.str = arena_strndup(js->a, w, l);
	return n;
}

static struct ynode *jvalue(struct jstate *js);

/* Past whitespace, takes c when it is next; else leaves js->p there. */
static int
jeat(struct jstate *js, char c)
{
	jskip(js);
	if (js->p < js->end && *js->p == c) {
		js->p++;
		return 1;
	}
	return 0;
}

/* An object or array after its opening bracket. */
static struct ynode *
jcontainer(struct jstate *js, int map)
{
	struct ynode *n = jnode(js, map ? YN_MAP : YN_SEQ), *k, *v;
	size_t base = js->nstk;
	char close = map ? '}' : ']';

	if (++js->depth > YNODE_MAX_DEPTH) {
		jfail(js, "nested too deeply");
		return NULL;
	}
	if (!jeat(js, close))
		for (;;) {
			if (map) {
				if (!jeat(js, '"')) {
					jfail(js, "expected a string key");
					return NULL;
				}
				if ((k = jstring(js)) == NULL)
					return NULL;
				jpush(js, k);
				if (!jeat(js, ':')) {
					jfail(js, "expected ':'");
					return NULL;
				}
			}
			if ((v = jvalue(js)) == NULL)
				return NULL;
			jpush(js, v);
			n->weight =
			    sat_add(n->weight, sat_add(map ? 1 : 0, v->weight));
			if (jeat(js, ','))
				continue;
			if (jeat(js, close))
				break;
			jfail(js,
			    map ? "expected ',' or '}'" :
				  "expected ',' or ']'");
			return NULL;
		}
	js->depth--;
	n->n = map ? (js->nstk - base) / 2 : js->nstk - base;
	n->u.items =
	    arena_alloc(js->a, (js->nstk - base + 1) * sizeof(struct ynode *));
	memcpy(n->u.items, js->stk + base,
	    (js->nstk - base) * sizeof(struct ynode *));
	js->nstk = base;
	return n;
}

static struct ynode *
jvalue(struct jstate *js)
{
	jskip(js);
	if (js->p >= js->end) {
		jfail(js, "unexpected end of text");
		return NULL;
	}
	switch (*js->p) {
	case '{':
		js->p++;
		return jcontainer(js, 1);
	case '[':
		js->p++;
		return jcontainer(js, 0);
	case '"':
		js->p++;
		return jstring(js);
	case 't':
		return jword(js, "true", YS_BOOL);
	case 'f':
		return jword(js, "false", YS_BOOL);
	case 'n':
		return jword(js, "null", YS_NULL);
	default:
		return jnumber(js);
	}
}

struct ydoc *
ydoc_parse_json(const char *buf, size_t len, char **err)
{
	struct jstate js;
	struct ydoc *doc = xcalloc(1, sizeof(*doc));

	memset(&js, 0, sizeof(js));
	js.start = js.p = buf;
	js.end = buf + len;
	js.a = doc->arena = xcalloc(1, sizeof(*doc->arena));
	doc->root = jvalue(&js);
	if (doc->root != NULL) {
		jskip(&js);
		if (js.p < js.end)
			jfail(&js, "text after the value");
	}
	free(js.stk);
	if (js.err != NULL) {
		ydoc_free(doc);
		*err = js.err;
		return NULL;
	}
	return doc;
}

/* ---- JSON out ------------------------------------------------------- */

int
ynode_json(const struct ynode *n, struct buf *b, const char *const *skip)
{
	int64_t iv;
	double dv;
	int first = 1;

	switch (n->type) {
	case YN_SEQ:
		buf_putc(b, '[');
		for (size_t i = 0; i < n->n; i++) {
			if (i > 0)
				buf_putc(b, ',');
			if (ynode_json(n->u.items[i], b, NULL) < 0)
				return -1;
		}
		buf_putc(b, ']');
		return 0;
	case YN_MAP:
		buf_putc(b, '{');
		for (size_t i = 0; i < n->n; i++) {
			const struct ynode *k = ynode_key(n, i);
			int skipped = 0;

			for (size_t s = 0; skip && skip[s] && !skipped; s++)
				skipped = strcmp(k->u.str, skip[s]) == 0;
			if (skipped)
				continue;
			if (!first)
				buf_putc(b, ',');
			first = 0;
			buf_json_str(b, k->u.str, k->n);
			buf_putc(b, ':');
			if (ynode_json(ynode_val(n, i), b, NULL) < 0)
				return -1;
		}
		buf_putc(b, '}');
		return 0;
	default:
		break;
	}
	switch (n->kind) {
	case YS_NULL:
		buf_puts(b, "null");
		return 0;
	case YS_BOOL:
		buf_puts(b,
		    n->u.str[0] == 't' || n->u.str[0] == 'T' ? "true" :
							       "false");
		return 0;
	case YS_INT:
		if (ynode_int(n, &iv) == 0) {
			buf_printf(b, "%lld", (long long)iv);
			return 0;
		}
		/* FALLTHROUGH */
	case YS_FLOAT:
		if (ynode_double(n, &dv) < 0 || !isfinite(dv))
			return -1;
		buf_printf(b, "%.17g", dv);
		return 0;
	default:
		buf_json_str(b, n->u.str, n->n);
		return 0;
	}
}

/* ---- accessors -------------------------------------------------------- */

struct ynode *
ynode_map_get(const struct ynode *map, const char *key)
{
	if (map == NULL || map->type != YN_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(ynode_key(map, i)->u.str, key) == 0)
			return ynode_val(map, i);
	return NULL;
}

int
ynode_is_str(const struct ynode *n)
{
	return n != NULL && n->type == YN_SCALAR && n->kind == YS_STR;
}

const char *
ynode_kind_name(const struct ynode *n)
{
	if (n == NULL)
		return "nothing";
	switch (n->type) {
	case YN_SEQ:
		return "a sequence";
	case YN_MAP:
		return "a mapping";
	default:
		break;
	}
	switch (n->kind) {
	case YS_NULL:
		return "null";
	case YS_BOOL:
		return "a boolean";
	case YS_INT:
		return "an integer";
	case YS_FLOAT:
		return "a number";
	default:
		return "a string";
	}
}

int
ynode_int(const struct ynode *n, int64_t *out)
{
	const char *s;
	char *end;
	long long v;
	double dv;

	if (n == NULL || n->type != YN_SCALAR)
		return -1;
	s = n->u.str;
	if (n->kind == YS_FLOAT) {
		if (ynode_double(n, &dv) < 0 || !isfinite(dv) ||
		    dv != floor(dv) || fabs(dv) > 9007199254740992.0)
			return -1;
		*out = (int64_t)dv;
		return 0;
	}
	if (n->kind != YS_INT)
		return -1;
	errno = 0;
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'o'))
		v = strtoll(s + 2, &end, s[1] == 'x' ? 16 : 8);
	else
		v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

int
ynode_double(const struct ynode *n, double *out)
{
	const char *s;
	int64_t iv;

	if (n == NULL || n->type != YN_SCALAR)
		return -1;
	s = n->u.str;
	if (n->kind == YS_INT) {
		if (ynode_int(n, &iv) == 0)
			*out = (double)iv;
		else
			*out = strtod(s, NULL); /* huge: approximate */
		return 0;
	}
	if (n->kind != YS_FLOAT)
		return -1;
	if (strstr(s, "nan") || strstr(s, "NaN") || strstr(s, "NAN")) {
		*out = NAN;
		return 0;
	}
	if (strstr(s, "inf") || strstr(s, "Inf") || strstr(s, "INF")) {
		*out = s[0] == '-' ? -INFINITY : INFINITY;
		return 0;
	}
	*out = strtod(s, NULL);
	return 0;
}

jv
ynode_to_jv(const struct ynode *n)
{
	jv v, e;
	double dv;

	switch (n->type) {
	case YN_SEQ:
		v = jv_array_sized((int)n->n);
		for (size_t i = 0; i < n->n; i++) {
			e = ynode_to_jv(n->u.items[i]);
			if (!jv_is_valid(e)) {
				jv_free(v);
				return e;
			}
			v = jv_array_append(v, e);
		}
		return v;
	case YN_MAP:
		v = jv_object();
		for (size_t i = 0; i < n->n; i++) {
			const struct ynode *k = ynode_key(n, i);

			e = ynode_to_jv(ynode_val(n, i));
			if (!jv_is_valid(e)) {
				jv_free(v);
				return e;
			}
			v = jv_object_set(
			    v, jv_string_sized(k->u.str, (int)k->n), e);
		}
		return v;
	default:
		break;
	}
	switch (n->kind) {
	case YS_NULL:
		return jv_null();
	case YS_BOOL:
		return jv_bool(n->u.str[0] == 't' || n->u.str[0] == 'T');
	case YS_INT:
	case YS_FLOAT:
		ynode_double(n, &dv);
		if (!isfinite(dv))
			return jv_invalid_with_msg(jv_string_fmt(
			    "'%s' cannot be represented in JSON", n->u.str));
		return jv_number(dv);
	default:
		return jv_string_sized(n->u.str, (int)n->n);
	}
}
