/*
 * jqx: see jqx.h.
 *
 * Each distinct program text gets one jq_state, compiled on first use and
 * kept in a cache: an array of struct jqx_prog (which owns the text, the
 * jq_state and, for a program that failed to compile, jq's message) plus an
 * hmap from the text to the array index.  hmap keys are borrowed, so they
 * point at the strings the array owns; those are allocated separately, so
 * growing the array never moves them.  Failed compiles are cached too, so a
 * bad expression costs one compile however often it is evaluated.  The
 * cache is bounded: past JQX_CACHE_MAX programs it is emptied and refills.
 *
 * libjq 1.6 reports compile errors through a callback, returns runtime
 * errors as jv_invalid_with_msg, and signals halt/halt_error only through
 * jq_halted(); all three end up as one jv_invalid_with_msg string here.
 *
 * Expressions come from workflow files, and the rendered values travel to
 * user backends, so a program must not see the daemon's environment or
 * files.  Every program is compiled behind a one-line prelude that shadows
 * env, $ENV, input, stderr and modulemeta; the prelude also makes import and
 * include syntax errors, and the library search path is empty.  The
 * prelude has no newline, so jq's line numbers stay the user's.  The
 * user's text reaches libjq with each plain string written as the @text
 * string it is (text_strings() says why).  jq 1.6 has
 * no step or memory limit: a program that loops forever (`repeat(.)`, a
 * huge range) will hang or exhaust the process, which only a per-process
 * limit outside this module can stop.
 *
 * Templates are walked recursively; "${{ EXPR }}" is found by a small
 * scanner that knows jq string literals (with \( ) interpolation) and
 * bracket nesting, so `${{ {a: {b: 1}} }}` and `${{ "}}" }}` work.
 */
#include "jqx.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <jq.h>

#include "hmap.h"
#include "xalloc.h"

#define JQX_CACHE_MAX 4096

/* Nesting of strings inside \( ) inside strings the scanner will follow. */
#define SCAN_DEPTH_MAX 32

static const char prelude[] =
    "def env: {}; "
    "def input: error(\"input is not available in workflow expressions\"); "
    "def stderr: .; "
    "def modulemeta: error(\"modules are not available in workflow "
    "expressions\"); "
    "{} as $ENV | ";

struct jqx_prog {
	char *text;   /* owned; also the hmap key */
	jq_state *jq; /* owned; NULL when the compile failed */
	char *err;    /* owned compile error, or NULL */
};

struct jqx {
	struct jqx_prog *progs;
	size_t n, cap;
	struct hmap *index; /* text -> index in progs */
};

/* Collects compile errors for one jq_compile() call. */
struct errbuf {
	char *msg; /* owned; "; "-joined */
};

struct tmpl {
	struct jqx *x;
	jv ctx;	   /* borrowed */
	int check; /* only compile the expressions, evaluate nothing */
};

static jv render_value(struct tmpl *t, jv v);

/*
 * Rewrites one of jq's compile messages into a single line:
 *   "jq: error: syntax error, unexpected $end (Unix shell quoting
 *    issues?) at <top-level>, line 1:\n<source line>"
 * becomes "syntax error, unexpected $end at line 1".  The source line is
 * dropped: it would show the prelude, and callers name the expression.
 */
static char *
clean_message(const char *m)
{
	static const char *const drop[] = { " (Unix shell quoting issues?)",
		"<top-level>, " };
	char *s, *p;
	size_t len;

	if (strncmp(m, "jq: error: ", 11) == 0)
		m += 11;
	s = xstrndup(m, strcspn(m, "\n"));
	for (size_t i = 0; i < sizeof(drop) / sizeof(drop[0]); i++)
		while ((p = strstr(s, drop[i])) != NULL)
			memmove(p, p + strlen(drop[i]),
			    strlen(p + strlen(drop[i])) + 1);
	len = strlen(s);
	while (len > 0 &&
	    (isspace((unsigned char)s[len - 1]) || s[len - 1] == ':'))
		s[--len] = '\0';
	return s;
}

static void
collect_error(void *data, jv msg)
{
	struct errbuf *eb = data;
	char *line, *joined;
	int n;

	if (jv_get_kind(msg) != JV_KIND_STRING)
		msg = jq_format_error(msg);
	/* "jq: 1 compile error" only counts the messages we already have. */
	if (sscanf(jv_string_value(msg), "jq: %d compile error", &n) == 1) {
		jv_free(msg);
		return;
	}
	line = clean_message(jv_string_value(msg));
	jv_free(msg);
	if (eb->msg == NULL) {
		eb->msg = line;
		return;
	}
	joined = xasprintf("%s; %s", eb->msg, line);
	free(eb->msg);
	free(line);
	eb->msg = joined;
}

static void
discard_error(void *data, jv msg)
{
	jv_free(msg);
}

/*
 * libjq 1.6's parser keeps the format name "text" of a plain string
 * literal ("...") from its opening quote to its closing one, and drops it
 * without freeing it when a syntax error ends the parse in between: 21
 * bytes lost for every plain string open at the error (an unterminated
 * "..., or an error inside a \( ), 7 for each byte of "\("\("\(... (to
 * some 50 kB a program: the parser's stack).  A plain string is, in jq's
 * grammar, the format string @text "..." (its \( ) parts are formatted with
 * @text), and that rule keeps the format's token, which the parser frees.  So
 * the program compiled is the user's with "@text " before the opening quote of
 * every string that has no format: it means the same, and no syntax error
 * leaks.  The scanner follows jq 1.6's lexer: its stack of brackets and
 * string interpolations (a closing bracket that does not match pops
 * nothing), comments, escapes, and @name tokens, after which (spaces
 * between) a string is already a format string.  *formats counts those.
 * Two things differ from libjq's own: an error at a plain string's quote
 * in a program that also has a format says "unexpected FORMAT" (with no
 * format, string_start_message() gives back libjq's QQSTRING_START), and
 * strings nest 1999 deep, not 2499 (the parser's stack holds 10000).
 */
static int
name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_';
}

static char *
text_strings(const char *s, int *formats)
{
	size_t len = strlen(s), nq = 0, top = 0, o = 0;
	char *stack, *out;
	int fmt = 0;

	for (size_t i = 0; i < len; i++)
		nq += s[i] == '"';
	out = xmalloc(len + nq * 6 + 1);
	stack = xmalloc(len + 1);
	*formats = 0;
	for (size_t i = 0; i < len;) {
		char c = s[i];

		if (top > 0 && stack[top - 1] == '"') {
			if (c == '\\' && i + 1 < len && s[i + 1] == '(')
				stack[top++] = 'I';
			else if (c == '"')
				top--;
			if (c == '\\' && i + 1 < len)
				out[o++] = s[i++];
			out[o++] = s[i++];
			continue;
		}
		if (c == '#') {
			while (i < len && s[i] != '\n' && s[i] != '\r')
				out[o++] = s[i++];
			continue;
		}
		if (c == '@' && name_char(s[i + 1])) {
			out[o++] = s[i++];
			while (name_char(s[i]))
				out[o++] = s[i++];
			fmt = 1;
			(*formats)++;
			continue;
		}
		if (c == '"') {
			if (!fmt) {
				memcpy(out + o, "@text ", 6);
				o += 6;
			}
			stack[top++] = '"';
		} else if (c == '(' || c == '[' || c == '{') {
			stack[top++] = c;
		} else if (top > 0 &&
		    ((c == ')' && strchr("(I", stack[top - 1])) ||
			(c == ']' && stack[top - 1] == '[') ||
			(c == '}' && stack[top - 1] == '{'))) {
			top--;
		}
		if (!strchr(" \t\n\r\f\v", c))
			fmt = 0;
		out[o++] = s[i++];
	}
	out[o] = '\0';
	free(stack);
	return out;
}

/*
 * Where the user wrote no format, an "unexpected FORMAT" can only be one
 * of text_strings()'s: libjq would have said QQSTRING_START.
 */
static char *
string_start_message(char *msg)
{
	static const char from[] = "unexpected FORMAT",
			  to[] = "unexpected QQSTRING_START";
	char *p, *r;

	while ((p = strstr(msg, from)) != NULL) {
		r = xasprintf(
		    "%.*s%s%s", (int)(p - msg), msg, to, p + strlen(from));
		free(msg);
		msg = r;
	}
	return msg;
}

/* `inputs` has nothing to read (the prelude replaces `input` itself). */
static jv
no_input(jq_state *jq, void *data)
{
	return jv_invalid();
}

static void
prog_compile(struct jqx_prog *p)
{
	struct errbuf eb = { NULL };
	const char *t = p->text;
	jq_state *jq;
	char *src, *text;
	int ok, formats;

	while (isspace((unsigned char)*t))
		t++;
	if (*t == '\0') {
		p->err = xstrdup("empty jq expression");
		return;
	}
	if ((jq = jq_init()) == NULL) {
		p->err = xstrdup("cannot initialise jq");
		return;
	}
	/*
	 * jq_init() in 1.6 leaves the nomem handler and the input and debug
	 * callbacks uninitialised (jq_compile() already passes the handler
	 * on): set every one of them.
	 */
	jq_set_nomem_handler(jq, NULL, NULL);
	jq_set_input_cb(jq, no_input, NULL);
	jq_set_debug_cb(jq, NULL, NULL);
	jq_set_error_cb(jq, collect_error, &eb);
	jq_set_attr(jq, jv_string("JQ_LIBRARY_PATH"), jv_array());
	text = text_strings(p->text, &formats);
	src = xasprintf("%s%s", prelude, text);
	free(text);
	ok = jq_compile(jq, src);
	free(src);
	/* eb lives on this stack frame: do not leave jq pointing at it. */
	jq_set_error_cb(jq, discard_error, NULL);
	if (!ok) {
		jq_teardown(&jq);
		if (eb.msg != NULL && formats == 0)
			eb.msg = string_start_message(eb.msg);
		p->err =
		    eb.msg != NULL ? eb.msg : xstrdup("invalid jq program");
		return;
	}
	free(eb.msg);
	p->jq = jq;
}

static void
cache_clear(struct jqx *x)
{
	for (size_t i = 0; i < x->n; i++) {
		jq_teardown(&x->progs[i].jq);
		free(x->progs[i].err);
		free(x->progs[i].text);
	}
	x->n = 0;
	hmap_free(x->index);
	x->index = hmap_new(64);
}

/*
 * Returns the cache entry for text, compiling it on first use.  The
 * pointer is only good until the next lookup (the array may move).
 */
static struct jqx_prog *
prog_lookup(struct jqx *x, const char *text)
{
	struct jqx_prog *p;
	size_t i;

	if (hmap_get(x->index, text, &i) == 0)
		return &x->progs[i];
	if (x->n >= JQX_CACHE_MAX)
		cache_clear(x);
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 16;
		x->progs = xreallocarray(x->progs, x->cap, sizeof(*x->progs));
	}
	p = &x->progs[x->n];
	p->text = xstrdup(text);
	p->jq = NULL;
	p->err = NULL;
	prog_compile(p);
	hmap_put(x->index, p->text, x->n);
	x->n++;
	return p;
}

/* A jq error value as text: strings as they are, the rest as JSON. */
static char *
value_text(jv v)
{
	char *s;

	if (jv_get_kind(v) == JV_KIND_STRING) {
		s = xstrdup(jv_string_value(v));
	} else if (jv_is_valid(v)) {
		jv d = jv_dump_string(jv_copy(v), 0);

		s = xasprintf("%s (not a string)", jv_string_value(d));
		jv_free(d);
	} else {
		s = xstrdup("unknown error");
	}
	jv_free(v);
	return s;
}

static jv
error_value(char *owned)
{
	jv e = jv_invalid_with_msg(jv_string(owned));

	free(owned);
	return e;
}

/* halt -> no output; halt_error -> an error naming its message. */
static jv
halt_result(jq_state *jq)
{
	jv code = jq_get_exit_code(jq), msg = jq_get_error_message(jq);
	double d =
	    jv_get_kind(code) == JV_KIND_NUMBER ? jv_number_value(code) : 0;
	int status = d >= -255 && d <= 255 ? (int)d : 1;
	size_t len;
	char *text;
	jv r;

	jv_free(code);
	if (jv_is_valid(msg)) {
		/* halt_error's text normally ends in a newline: drop it. */
		text = value_text(msg);
		len = strlen(text);
		while (len > 0 && text[len - 1] == '\n')
			text[--len] = '\0';
		r = error_value(
		    xasprintf("halt_error (exit %d): %s", status, text));
		free(text);
		return r;
	}
	jv_free(msg);
	if (status != 0)
		return error_value(
		    xasprintf("halted with exit code %d", status));
	return jv_null();
}

static jv
prog_run(struct jqx_prog *p, jv input)
{
	int halted = 0;
	jv r;

	jq_start(p->jq, input, 0);
	r = jq_next(p->jq);
	if (jv_is_valid(r)) {
		/* keep r */
	} else if (jq_halted(p->jq)) {
		jv_free(r);
		r = halt_result(p->jq);
		halted = 1;
	} else if (jv_invalid_has_msg(jv_copy(r))) {
		r = error_value(value_text(jv_invalid_get_msg(r)));
	} else {
		jv_free(r); /* no output (also error(null)) */
		r = jv_null();
	}
	/*
	 * Restart on null so the suspended generator and its copy of the
	 * (possibly large) input are released now, not at the next use.
	 */
	jq_start(p->jq, jv_null(), 0);
	if (halted)
		/*
		 * libjq 1.6's jq_reset() frees the halt exit code and
		 * message but does not clear them, so the reset just done
		 * left them dangling and the next one (jq_start() or
		 * jq_teardown()) would free them again.  jq_halt() is the
		 * only public setter: overwrite both with invalids, which
		 * are never freed.  Harmless where jq_reset() is fixed.
		 */
		jq_halt(p->jq, jv_invalid(), jv_invalid());
	return r;
}

struct jqx *
jqx_new(void)
{
	struct jqx *x = xcalloc(1, sizeof(*x));

	x->index = hmap_new(64);
	return x;
}

void
jqx_free(struct jqx *x)
{
	if (x == NULL)
		return;
	cache_clear(x);
	hmap_free(x->index);
	free(x->progs);
	free(x);
}

size_t
jqx_cache_size(const struct jqx *x)
{
	return x->n;
}

int
jqx_check(struct jqx *x, const char *program, char **err)
{
	struct jqx_prog *p;

	if (err != NULL)
		*err = NULL;
	if (program == NULL) {
		if (err != NULL)
			*err = xstrdup("no jq expression");
		errno = EINVAL;
		return -1;
	}
	p = prog_lookup(x, program);
	if (p->err != NULL) {
		if (err != NULL)
			*err = xstrdup(p->err);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

jv
jqx_eval(struct jqx *x, const char *program, jv input)
{
	struct jqx_prog *p;

	if (program == NULL) {
		jv_free(input);
		return jv_invalid_with_msg(jv_string("no jq expression"));
	}
	p = prog_lookup(x, program);
	if (p->err != NULL) {
		jv_free(input);
		return jv_invalid_with_msg(jv_string(p->err));
	}
	return prog_run(p, input);
}

int
jqx_eval_bool(struct jqx *x, const char *program, jv ctx, char **err)
{
	jv v = jqx_eval(x, program, ctx);
	jv_kind k = jv_get_kind(v);

	if (err != NULL)
		*err = NULL;
	if (k == JV_KIND_INVALID) {
		char *m = value_text(jv_invalid_get_msg(v));

		if (err != NULL)
			*err = m;
		else
			free(m);
		errno = EINVAL;
		return -1;
	}
	jv_free(v);
	return k != JV_KIND_FALSE && k != JV_KIND_NULL;
}

/*
 * Scanners over the text of an expression inside "${{ }}".  scan_code()
 * returns the index of the closer at bracket depth 0 (for '}' the first of
 * a "}}" pair), scan_string() the index just past a string's closing
 * quote; both return -1 when the text ends first.
 */
static ssize_t scan_string(const char *s, size_t i, size_t len, int depth);

static ssize_t
scan_code(const char *s, size_t i, size_t len, char closer, int depth)
{
	int nest = 0;
	ssize_t j;

	if (depth > SCAN_DEPTH_MAX)
		return -1;
	while (i < len) {
		char c = s[i];

		if (c == '"') {
			if ((j = scan_string(s, i + 1, len, depth + 1)) < 0)
				return -1;
			i = (size_t)j;
			continue;
		}
		if (nest == 0 && c == closer &&
		    (closer != '}' || (i + 1 < len && s[i + 1] == '}')))
			return (ssize_t)i;
		if (c == '(' || c == '[' || c == '{')
			nest++;
		else if ((c == ')' || c == ']' || c == '}') && nest > 0)
			nest--;
		i++;
	}
	return -1;
}

static ssize_t
scan_string(const char *s, size_t i, size_t len, int depth)
{
	ssize_t j;

	while (i < len) {
		if (s[i] == '\\' && i + 1 < len && s[i + 1] == '(') {
			j = scan_code(s, i + 2, len, ')', depth + 1);
			if (j < 0)
				return -1;
			i = (size_t)j + 1;
		} else if (s[i] == '\\') {
			i += 2;
		} else if (s[i] == '"') {
			return (ssize_t)i + 1;
		} else {
			i++;
		}
	}
	return -1;
}

/* Value of one expression (in check mode: null once it compiles). */
static jv
template_expr(struct tmpl *t, const char *expr)
{
	struct jqx_prog *p;
	jv v;
	char *m;

	if (t->check) {
		p = prog_lookup(t->x, expr);
		v = p->err == NULL ? jv_null() :
				     jv_invalid_with_msg(jv_string(p->err));
	} else {
		v = jqx_eval(t->x, expr, jv_copy(t->ctx));
	}
	if (jv_is_valid(v))
		return v;
	m = value_text(jv_invalid_get_msg(v));
	v = error_value(xasprintf("in \"${{ %s }}\": %s", expr, m));
	free(m);
	return v;
}

static int
starts(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(s, prefix, n) == 0;
}

/* Renders one string of a template; consumes v. */
static jv
render_string(struct tmpl *t, jv v)
{
	const char *s = jv_string_value(v);
	size_t len = (size_t)jv_string_length_bytes(jv_copy(v));
	size_t i = 0, a, b;
	ssize_t end;
	jv out, val;
	char *expr;

	if (memmem(s, len, "${{", 3) == NULL)
		return v;
	out = jv_string("");
	while (i < len) {
		const char *dollar;

		if (starts(s + i, len - i, "$${{")) {
			out = jv_string_append_buf(out, "${{", 3);
			i += 4;
			continue;
		}
		if (!starts(s + i, len - i, "${{")) {
			dollar = memchr(s + i + 1, '$', len - i - 1);
			b = dollar ? (size_t)(dollar - s) : len;
			out = jv_string_append_buf(out, s + i, (int)(b - i));
			i = b;
			continue;
		}
		end = scan_code(s, i + 3, len, '}', 0);
		if (end < 0) {
			val = error_value(
			    xasprintf("unterminated \"${{\" (no "
				      "matching \"}}\") at \"%.40s\"",
				s + i));
			goto fail;
		}
		for (a = i + 3; a < (size_t)end && isspace((unsigned char)s[a]);
		     a++)
			;
		for (b = (size_t)end; b > a && isspace((unsigned char)s[b - 1]);
		     b--)
			;
		if (memchr(s + a, '\0', b - a) != NULL) {
			val = error_value(xstrdup("NUL byte in \"${{ }}\""));
			goto fail;
		}
		expr = xstrndup(s + a, b - a);
		val = template_expr(t, expr);
		free(expr);
		if (!jv_is_valid(val))
			goto fail;
		if (i == 0 && (size_t)end + 2 == len) {
			/* The whole string is one expression: its value. */
			jv_free(out);
			jv_free(v);
			return val;
		}
		if (jv_get_kind(val) == JV_KIND_STRING) {
			out = jv_string_concat(out, val);
		} else {
			out = jv_string_concat(out, jv_dump_string(val, 0));
		}
		i = (size_t)end + 2;
	}
	jv_free(v);
	return out;
fail:
	jv_free(out);
	jv_free(v);
	return val;
}

static jv
render_array(struct tmpl *t, jv v)
{
	int n = jv_array_length(jv_copy(v));

	for (int i = 0; i < n; i++) {
		jv e = render_value(t, jv_array_get(jv_copy(v), i));

		if (!jv_is_valid(e)) {
			jv_free(v);
			return e;
		}
		v = jv_array_set(v, i, e);
	}
	return v;
}

static jv
render_object(struct tmpl *t, jv v)
{
	jv out = jv_object();

	/* Keys are copied as they are: they are never templates. */
	for (int it = jv_object_iter(v); jv_object_iter_valid(v, it);
	     it = jv_object_iter_next(v, it)) {
		jv e = render_value(t, jv_object_iter_value(v, it));

		if (!jv_is_valid(e)) {
			jv_free(out);
			jv_free(v);
			return e;
		}
		out = jv_object_set(out, jv_object_iter_key(v, it), e);
	}
	jv_free(v);
	return out;
}

static jv
render_value(struct tmpl *t, jv v)
{
	switch (jv_get_kind(v)) {
	case JV_KIND_STRING:
		return render_string(t, v);
	case JV_KIND_ARRAY:
		return render_array(t, v);
	case JV_KIND_OBJECT:
		return render_object(t, v);
	default:
		return v;
	}
}

int
jqx_template_check(struct jqx *x, jv tmpl, char **err)
{
	struct tmpl t = { x, jv_null(), 1 };
	jv r = render_value(&t, tmpl);

	if (err != NULL)
		*err = NULL;
	if (jv_is_valid(r)) {
		jv_free(r);
		return 0;
	}
	if (err != NULL)
		*err = value_text(jv_invalid_get_msg(r));
	else
		jv_free(r);
	errno = EINVAL;
	return -1;
}

jv
jqx_render(struct jqx *x, jv tmpl, jv ctx)
{
	struct tmpl t = { x, ctx, 0 };
	jv r = render_value(&t, tmpl);

	jv_free(ctx);
	return r;
}

int
jqx_template_has_expr(jv tmpl)
{
	int found = 0, n;

	switch (jv_get_kind(tmpl)) {
	case JV_KIND_STRING:
		found = memmem(jv_string_value(tmpl),
			    (size_t)jv_string_length_bytes(jv_copy(tmpl)),
			    "${{", 3) != NULL;
		break;
	case JV_KIND_ARRAY:
		n = jv_array_length(jv_copy(tmpl));
		for (int i = 0; i < n && !found; i++)
			found = jqx_template_has_expr(
			    jv_array_get(jv_copy(tmpl), i));
		break;
	case JV_KIND_OBJECT:
		for (int it = jv_object_iter(tmpl);
		     !found && jv_object_iter_valid(tmpl, it);
		     it = jv_object_iter_next(tmpl, it))
			found = jqx_template_has_expr(
			    jv_object_iter_value(tmpl, it));
		break;
	default:
		break;
	}
	jv_free(tmpl);
	return found;
}
