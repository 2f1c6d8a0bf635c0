/*
 * test_sign: HMAC signing of HTTP callbacks, end to end inside one
 * process: the DSL key (`signing: {secretEnv: NAME}` on the workflow and
 * on a task: inheritance, override, canonical JSON that loads back the
 * same, every error), the headers loom-exec adds (sign_task_headers with
 * the variable set, unset, empty, or the spec malformed), the signature
 * against a value computed independently (Python's hmac), and
 * sign_verify's refusals (wrong secret, changed body, changed timestamp,
 * old timestamp, garbage).
 */
#include <stdlib.h>
#include <string.h>

#include "net/sign.h"
#include "core/workflow.h"
#include "t.h"

#define WF_HEAD "id: s\n"

static struct workflow *
load(const char *yaml, struct diags *d)
{
	diags_init(d);
	return workflow_load_buf("t.yaml", yaml, strlen(yaml), d);
}

static const char *
task_env(const struct workflow *wf, const char *id)
{
	long i = workflow_task_index(wf, id);

	return i < 0 ? "?" : wf->tasks[i].signing_env;
}

static void
dsl(void)
{
	static const char yaml[] =
	    WF_HEAD "signing: {secretEnv: LOOM_SECRET_A}\n"
		    "tasks:\n"
		    "  - {id: a, url: 'http://x/a'}\n"
		    "  - id: b\n"
		    "    url: http://x/b\n"
		    "    signing: {secretEnv: OTHER_SECRET}\n"
		    "  - {id: c, command: [true]}\n";
	struct diags d;
	struct workflow *wf = load(yaml, &d), *back;
	jv spec, t;
	char *text;

	ok(wf != NULL, "a signed workflow loads");
	if (wf == NULL) {
		diags_print(&d, stdout);
		diags_clear(&d);
		return;
	}
	is_str(wf->signing_env, "LOOM_SECRET_A", "the workflow's secretEnv");
	is_str(task_env(wf, "a"), "LOOM_SECRET_A", "task a inherits it");
	is_str(task_env(wf, "b"), "OTHER_SECRET", "task b overrides it");
	ok(task_env(wf, "c") == NULL, "a shell task is not signed");

	spec = workflow_to_jv(wf);
	t = jv_getpath(jv_copy(spec),
	    JV_ARRAY(jv_string("tasks"), jv_number(0), jv_string("signing"),
		jv_string("secretEnv")));
	is_str(jv_get_kind(t) == JV_KIND_STRING ? jv_string_value(t) : NULL,
	    "LOOM_SECRET_A", "the task spec carries signing.secretEnv");
	jv_free(t);
	t = jv_getpath(jv_copy(spec),
	    JV_ARRAY(jv_string("tasks"), jv_number(2), jv_string("signing")));
	ok(jv_get_kind(t) == JV_KIND_NULL, "the shell task's spec has none");
	jv_free(t);

	/* canonical JSON loads back to the same canonical JSON */
	t = jv_dump_string(jv_copy(spec), 0);
	text = strdup(jv_string_value(t));
	jv_free(t);
	diags_clear(&d);
	back = load(text, &d);
	ok(back != NULL, "the canonical form loads");
	if (back != NULL) {
		jv again = workflow_to_jv(back);

		ok(jv_equal(jv_copy(spec), again), "...and is the same");
		is_str(task_env(back, "b"), "OTHER_SECRET",
		    "...with the override kept");
	}
	free(text);
	jv_free(spec);
	workflow_free(back);
	workflow_free(wf);
	diags_clear(&d);
}

static const struct {
	const char *yaml;
	const char *msg; /* part of one of the diagnostics */
} bad[] = {
	{ WF_HEAD "signing: {}\ntasks: [{id: a, url: 'http://x'}]\n",
	    "signing needs 'secretEnv'" },
	{ WF_HEAD "signing: SECRET\ntasks: [{id: a, url: 'http://x'}]\n",
	    "expected a mapping for 'signing'" },
	{ WF_HEAD "signing: {secretEnv: '1ABC'}\n"
		  "tasks: [{id: a, url: 'http://x'}]\n",
	    "not an environment variable name" },
	{ WF_HEAD "signing: {secretEnv: 'A-B'}\n"
		  "tasks: [{id: a, url: 'http://x'}]\n",
	    "not an environment variable name" },
	{ WF_HEAD "signing: {secretEnv: ''}\n"
		  "tasks: [{id: a, url: 'http://x'}]\n",
	    "is empty" },
	{ WF_HEAD "signing: {secretenv: A}\n"
		  "tasks: [{id: a, url: 'http://x'}]\n",
	    "did you mean 'secretEnv'" },
	{ WF_HEAD "signing: {secretEnv: A, secret: hunter2}\n"
		  "tasks: [{id: a, url: 'http://x'}]\n",
	    "unknown key 'secret'" },
	{ WF_HEAD "tasks: [{id: a, type: shell, command: 'true', "
		  "signing: {secretEnv: A}}]\n",
	    "'signing' is not valid for a shell" },
	{ WF_HEAD "signin: {secretEnv: A}\n"
		  "tasks: [{id: a, url: 'http://x'}]\n",
	    "did you mean 'signing'" },
	{ WF_HEAD "tasks: [{id: a, url: 'http://x', "
		  "headers: {x-loom-signature: forged}}]\n",
	    "is set by Link Loom and cannot be overridden" },
};

static void
dsl_errors(void)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct diags d;
		struct workflow *wf = load(bad[i].yaml, &d);
		int found = 0;

		ok(wf == NULL, "bad #%zu is refused", i);
		for (size_t k = 0; k < d.n; k++)
			found |= strstr(d.v[k].msg, bad[i].msg) != NULL;
		ok(found, "bad #%zu: '%s'", i, bad[i].msg);
		for (size_t k = 0; !found && k < d.n; k++)
			printf("#   got: %s\n", d.v[k].msg);
		workflow_free(wf);
		diags_clear(&d);
	}
}

static void
headers(void)
{
	static const char body[] = "{\"a\":1}";
	jv task =
	    jv_parse("{\"type\":\"http\",\"url\":\"http://x\","
		     "\"signing\":{\"secretEnv\":\"LOOM_TEST_SIGNING\"}}");
	jv plain = jv_parse("{\"type\":\"http\",\"url\":\"http://x\"}");
	char *lines[2], *err = NULL, value[SIGN_VALUE_LEN + 1];

	/* Python: hmac.new(b"topsecret", b'1700000000.{"a":1}', sha256) */
	sign_value("topsecret", 9, 1700000000LL, body, strlen(body), value);
	is_str(value,
	    "v1=6a939b0c71853d606167625a15168ee9188c6a511c773ef4f4"
	    "2d307f3849e50f",
	    "signature of a known message");
	sign_value("topsecret", 9, 1700000000LL, "", 0, value);
	is_str(value,
	    "v1=1736616ca502dd0795dd33e742aba65214c255d6064bb6035e"
	    "7b37d18983438e",
	    "signature of an empty body");

	ok(sign_task_headers(plain, body, strlen(body), 1, lines, &err) == 0 &&
		lines[0] == NULL && lines[1] == NULL,
	    "an unsigned task gets no headers");

	unsetenv("LOOM_TEST_SIGNING");
	ok(sign_task_headers(task, body, strlen(body), 1, lines, &err) == -1,
	    "an unset variable fails the request");
	is_str(err,
	    "signing secret $LOOM_TEST_SIGNING is not set on this "
	    "executor",
	    "...saying which variable");
	free(err);
	err = NULL;
	setenv("LOOM_TEST_SIGNING", "", 1);
	ok(sign_task_headers(task, body, strlen(body), 1, lines, &err) == -1,
	    "an empty secret fails the request");
	free(err);
	err = NULL;

	setenv("LOOM_TEST_SIGNING", "topsecret", 1);
	ok(sign_task_headers(
	       task, body, strlen(body), 1700000000, lines, &err) == 0,
	    "a set variable signs");
	is_str(lines[0], "X-Loom-Timestamp: 1700000000", "timestamp header");
	is_str(lines[1],
	    "X-Loom-Signature: v1=6a939b0c71853d606167625a15168e"
	    "e9188c6a511c773ef4f42d307f3849e50f",
	    "signature header");
	free(lines[0]);
	free(lines[1]);
	unsetenv("LOOM_TEST_SIGNING");

	{
		const char *const malformed[] = {
			"{\"signing\":\"X\"}",
			"{\"signing\":{}}",
			"{\"signing\":{\"secretEnv\":7}}",
			"{\"signing\":{\"secretEnv\":\"\"}}",
		};

		for (size_t i = 0; i < 4; i++) {
			jv t = jv_parse(malformed[i]);

			ok(sign_task_headers(t, "", 0, 1, lines, &err) == -1 &&
				err != NULL && strstr(err, "secretEnv"),
			    "malformed signing #%zu is an error", i);
			free(err);
			err = NULL;
			jv_free(t);
		}
	}
	jv_free(task);
	jv_free(plain);
}

static void
verify(void)
{
	static const char body[] = "{\"a\":1}";
	char v[SIGN_VALUE_LEN + 1];
	time_t now = 1700000100;

	sign_value("k", 1, 1700000000LL, body, strlen(body), v);
	is_int(sign_verify("k", 1, "1700000000", v, body, strlen(body), now,
		   SIGN_MAX_SKEW_S),
	    0, "verify: good");
	is_int(sign_verify("K", 1, "1700000000", v, body, strlen(body), now,
		   SIGN_MAX_SKEW_S),
	    -1, "verify: wrong secret");
	is_int(sign_verify("k", 1, "1700000000", v, "{\"a\":2}", 7, now,
		   SIGN_MAX_SKEW_S),
	    -1, "verify: changed body");
	is_int(sign_verify("k", 1, "1700000001", v, body, strlen(body), now,
		   SIGN_MAX_SKEW_S),
	    -1, "verify: changed timestamp");
	is_int(sign_verify("k", 1, "1700000000", v, body, strlen(body),
		   now + SIGN_MAX_SKEW_S, SIGN_MAX_SKEW_S),
	    -1, "verify: too old");
	is_int(sign_verify("k", 1, "1700000000", v, body, strlen(body),
		   now + SIGN_MAX_SKEW_S, -1),
	    0, "verify: age not checked");
	is_int(sign_verify("k", 1, "1700000000", v, body, strlen(body),
		   1700000000 - SIGN_MAX_SKEW_S - 1, SIGN_MAX_SKEW_S),
	    -1, "verify: from the future");
	is_int(sign_verify("k", 1, NULL, v, body, strlen(body), now, -1), -1,
	    "verify: no timestamp");
	is_int(sign_verify(
		   "k", 1, "1700000000", NULL, body, strlen(body), now, -1),
	    -1, "verify: no signature");
	is_int(
	    sign_verify("k", 1, " 1700000000", v, body, strlen(body), now, -1),
	    -1, "verify: a timestamp with a space");
	is_int(
	    sign_verify("k", 1, "1700000000x", v, body, strlen(body), now, -1),
	    -1, "verify: a timestamp with junk");
	v[3] = v[3] == 'a' ? 'b' : 'a';
	is_int(
	    sign_verify("k", 1, "1700000000", v, body, strlen(body), now, -1),
	    -1, "verify: one hex digit changed");
	is_int(sign_verify(
		   "k", 1, "1700000000", "v1=abc", body, strlen(body), now, -1),
	    -1, "verify: short signature");
}

int
main(void)
{
	dsl();
	dsl_errors();
	headers();
	verify();
	return t_done();
}
