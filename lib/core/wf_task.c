/*
 * wf_task: one task of the workflow DSL (part of the loader, see
 * workflow.c).
 *
 * parse_task() reads one entry of 'tasks': it works out the type (from
 * 'type' or from the keys present), checks every key, including those of
 * the other types so that each mistake is reported, resolves the
 * workflow's defaults (timeout, retry policy, headers, signing) into the
 * task, and keeps the dependsOn nodes for the resolution pass (wf_dag.c).
 * The task owns every string and jv it is given; task_clear() frees them.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wf_int.h"
#include "xalloc.h"

/* clang-format off */
static const char *const http_methods[] = { "GET", "POST", "PUT", "PATCH",
	"DELETE", "HEAD" };
/* clang-format on */

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

void
task_init(struct task *t)
{
	memset(t, 0, sizeof(*t));
	t->input = jv_null();
	t->headers = jv_null();
	t->body = jv_invalid();
	t->env = jv_null();
}

void
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
	int found[3] = { -1, -1, -1 };
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
char *
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
		report(c, n,
		    "signing needs 'secretEnv': the name of the "
		    "executor's environment variable that holds the secret");
		return NULL;
	}
	if ((name = get_nonempty(c, s[0], "secretEnv")) == NULL)
		return NULL;
	if (!(isalpha((unsigned char)name[0]) || name[0] == '_') ||
	    strspn(name,
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		"0123456789_") != strlen(name)) {
		report(c, s[0],
		    "secretEnv '%s' is not an environment "
		    "variable name (letters, digits and '_', not starting "
		    "with a digit)",
		    name);
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
	if (s[TK_ARGS] &&
	    (t->args = get_text_list(c, s[TK_ARGS], "args", 0, &t->nargs)) !=
		NULL)
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

/*
 * Works out the type of a task and reports the keys that do not belong
 * in it: another type's keys, and unknown ones (with hints drawn from the
 * keys valid here).  Returns the type, or -1 when it cannot be told.
 */
static int
task_check_keys(struct wctx *c, const struct ynode *tn, const char *label,
    const struct ynode **s, const struct ynode **keys,
    const struct ynode **unknown, size_t nu)
{
	const char *cands[TK__COUNT];
	size_t ncands = 0;
	int type;

	type = task_type_of(c, tn, label, s);
	if (type >= 0) {
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
	return type;
}

/* dependsOn: keep each name's node for the resolution pass (wf_dag.c). */
static void
parse_depends_on(struct wctx *c, struct task *t, const struct ynode *dn)
{
	const struct ynode *const *items = NULL;
	size_t count = 0;
	const char *str;

	if (ynode_is_str(dn)) {
		items = &dn;
		count = 1;
	} else if (dn->type == YN_SEQ) {
		items = (const struct ynode *const *)dn->u.items;
		count = dn->n;
	} else
		expect(
		    c, dn, "a task id or a list of task ids", "dependsOn", 0);
	t->depends_on = xcalloc(count + 1, sizeof(char *));
	for (size_t i = 0; i < count; i++) {
		if ((str = get_str(c, items[i], "dependsOn", 1)) == NULL)
			continue;
		if (c->ndep_nodes == c->dep_nodes_cap) {
			c->dep_nodes_cap =
			    c->dep_nodes_cap ? c->dep_nodes_cap * 2 : 1024;
			c->dep_nodes = xreallocarray(c->dep_nodes,
			    c->dep_nodes_cap, sizeof(*c->dep_nodes));
		}
		c->dep_nodes[c->ndep_nodes++] = items[i];
		t->depends_on[t->ndepends++] = xstrdup(str);
	}
}

/*
 * The task's retry policy: the workflow's defaults, then its retryPolicy
 * mapping, then its own maxAttempts, retryOn and dontRetryOn.
 */
static void
parse_task_retry(struct wctx *c, struct task *t, const struct ynode *tn,
    const struct ynode **s)
{
	struct rp_over block = { 0 }, direct = { 0 };

	t->retry = c->wf->retry_defaults;
	if (s[TK_RETRYPOLICY])
		parse_retry_policy(c, s[TK_RETRYPOLICY], &block);
	parse_retry_keys(
	    c, s[TK_MAXATTEMPTS], s[TK_RETRYON], s[TK_DONTRETRYON], &direct);
	rp_apply(&t->retry, &block);
	rp_apply(&t->retry, &direct);
	if (c->defaults_ok && (block.set | direct.set))
		rp_check(c, s[TK_RETRYPOLICY] ? s[TK_RETRYPOLICY] : tn,
		    &t->retry, "the task's");
}

/* when: a jq condition, or a plain true/false. */
static void
parse_when(struct wctx *c, struct task *t, const struct ynode *w)
{
	const char *str;

	if (w->type == YN_SCALAR && w->kind == YS_BOOL)
		t->when =
		    xstrdup(w->u.str[0] == 't' || w->u.str[0] == 'T' ? "true" :
								       "false");
	else if ((str = get_nonempty(c, w, "when")) != NULL) {
		t->when = xstrdup(str); /* compiled in jq_check_all */
		jq_queue(c, w, "when");
	}
}

/*
 * What a task of its type must have, and what an http task inherits from
 * the workflow: method POST, defaults.headers, signing.
 */
static void
task_finish_type(struct wctx *c, struct task *t, int type,
    const struct ynode *tn, const char *label, const struct ynode **s)
{
	const struct workflow *wf = c->wf;

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

void
parse_task(struct wctx *c, size_t idx, const struct ynode *tn)
{
	struct workflow *wf = c->wf;
	struct task *t = &wf->tasks[idx];
	const struct ynode *s[TK__COUNT], *keys[TK__COUNT], *unknown[32];
	char label[ID_MAX + 16];
	size_t nu;
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

	type = task_check_keys(c, tn, label, s, keys, unknown, nu);
	if (type >= 0)
		t->type = (enum task_type)type;

	if (s[TK_NAME] && (str = get_str(c, s[TK_NAME], "name", 0)))
		t->name = xstrdup(str);
	else if (t->id != NULL)
		t->name = xstrdup(t->id);
	if (s[TK_DESCRIPTION] &&
	    (str = get_str(c, s[TK_DESCRIPTION], "description", 0)))
		t->description = xstrdup(str);

	if (s[TK_DEPENDSON] != NULL)
		parse_depends_on(c, t, s[TK_DEPENDSON]);
	if (t->depends_on == NULL) /* never NULL, so models compare simply */
		t->depends_on = xcalloc(1, sizeof(char *));
	t->timeout_ms = wf->default_timeout_ms;
	if (s[TK_TIMEOUT])
		get_duration(c, s[TK_TIMEOUT], "timeout", 1, &t->timeout_ms);

	parse_task_retry(c, t, tn, s);
	if (s[TK_WHEN] != NULL)
		parse_when(c, t, s[TK_WHEN]);
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
	task_finish_type(c, t, type, tn, label, s);
}
