/*
 * jqx: jq expressions in workflows (libjq).  No I/O.
 *
 * Two uses, both evaluated against the context
 *     {"params": {...}, "tasks": {"<id>": {"output": ...}, ...}}
 *   - `when:` is a whole jq program; the task runs when its first output is
 *     truthy (anything but false and null; no output counts as false).
 *   - `input:`, `headers:` and `body:` are templates: any JSON value in which
 *     a string that is exactly "${{ EXPR }}" is replaced by the (JSON) value
 *     of EXPR, and "${{ EXPR }}" inside a longer string is replaced by the
 *     value as text (strings without quotes, other values as compact JSON).
 *     Every other string is literal.  "$${{" writes a literal "${{".
 *
 * Compiled programs are cached in a struct jqx by their text, so the same
 * expression across thousands of runs compiles once.
 *
 * Ownership follows jv: every jv argument is consumed.  Programs cannot
 * read the environment (env, $ENV are empty), files (no import, include
 * or input) or write to stderr.  A struct jqx is not thread-safe.
 */
#ifndef LOOM_JQX_H
#define LOOM_JQX_H

#include <stddef.h>

#include <jv.h>

struct jqx;

struct jqx *jqx_new(void);
void jqx_free(struct jqx *x);

/*
 * Compiles program (caching it).  Returns 0, or -1 with *err a malloc'd
 * message (jq's own words) which the caller frees.
 */
int jqx_check(struct jqx *x, const char *program, char **err);

/*
 * Checks every "${{ }}" in a template.  Returns 0, or -1 with *err as above
 * (naming the expression at fault).
 */
int jqx_template_check(struct jqx *x, jv tmpl, char **err);

/*
 * First output of program on input; jv_null() when it has no output
 * (`empty`, `halt`); jv_invalid_with_msg (a string) on a compile error, a
 * runtime error or halt_error.
 */
jv jqx_eval(struct jqx *x, const char *program, jv input);

/* Returns 1 (truthy), 0 (false/null/no output), -1 with *err on error. */
int jqx_eval_bool(struct jqx *x, const char *program, jv ctx, char **err);

/* The rendered template, or jv_invalid_with_msg on error. */
jv jqx_render(struct jqx *x, jv tmpl, jv ctx);

/* Whether a template has any "${{" at all (cheap; no compile). */
int jqx_template_has_expr(jv tmpl);

/* Number of programs in the cache (compiled or failed); for tests. */
size_t jqx_cache_size(const struct jqx *x);

#endif
