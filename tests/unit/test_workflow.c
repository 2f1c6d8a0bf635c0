/*
 * Unit tests for the workflow DSL (lib/core/workflow.c) and the YAML tree under
 * it (lib/core/yamlnode.c): the seed example with its defaults, one table row
 * per kind of error (message, line and column), every error at once, alias
 * bombs, the size cap, JSON input, the canonical JSON round trip (also
 * through the engine's JSON reader, and the per-task request text it
 * makes), and a 100,000-task workflow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/dag.h"
#include "core/diag.h"
#include "core/dispatch.h"
#include "core/duration.h"
#include "t.h"
#include "core/workflow.h"
#include "util/workflow_file.h"
#include "core/xalloc.h"
#include "core/yamlnode.h"
#include "util/tzload.h"

static const char seed[] =
    "id: daily-report\n"
    "name: Daily Report\n"
    "schedule: \"0 3 * * *\"  # Cron: 3 AM every day\n"
    "retryStrategy: exponential\n"
    "\n"
    "tasks:\n"
    "  - id: fetch_data\n"
    "    type: http\n"
    "    method: POST\n"
    "    url: http://user-backend:8080/api/tasks/fetch-data\n"
    "    timeout: 5m\n"
    "    maxAttempts: 3\n"
    "    retryOn: [TimeoutException, ConnectionException]\n"
    "    \n"
    "  - id: validate\n"
    "    type: http\n"
    "    method: POST\n"
    "    url: http://user-backend:8080/api/tasks/validate\n"
    "    timeout: 2m\n"
    "    dependsOn: [fetch_data]\n"
    "    \n"
    "  - id: process\n"
    "    type: http\n"
    "    method: POST\n"
    "    url: http://user-backend:8080/api/tasks/process\n"
    "    timeout: 10m\n"
    "    dependsOn: [fetch_data, validate]\n"
    "    \n"
    "  - id: send_email\n"
    "    type: http\n"
    "    method: POST\n"
    "    url: http://user-backend:8080/api/tasks/send-email\n"
    "    timeout: 1m\n"
    "    dependsOn: [process]\n";

/* Zones are checked as loom validate and loom-api check them. */
static const struct workflow_opts zones = { tzload_known };

static struct workflow *
load(const char *yaml, struct diags *d)
{
	diags_init(d);
	return workflow_load_buf_opts("t.yaml", yaml, strlen(yaml), &zones, d);
}

/* Compact JSON text of v (consumed), malloc'd. */
static char *
dump(jv v)
{
	jv s = jv_dump_string(v, 0);
	char *r = xstrdup(jv_string_value(s));

	jv_free(s);
	return r;
}

static void
dump_diags(const struct diags *d)
{
	for (size_t i = 0; i < d->n && i < 20; i++)
		printf(
		    "#   %d:%d: %s\n", d->v[i].line, d->v[i].col, d->v[i].msg);
}

static void
test_seed(void)
{
	struct diags d;
	struct workflow *wf = load(seed, &d);
	struct retry_policy def;
	const struct task *t;

	ok(wf != NULL && d.n == 0, "seed example loads without diagnostics");
	if (wf == NULL) {
		dump_diags(&d);
		diags_clear(&d);
		return;
	}
	retry_policy_default(&def);
	is_str(wf->id, "daily-report", "workflow id");
	is_str(wf->name, "Daily Report", "workflow name");
	is_str(wf->schedule, "0 3 * * *", "schedule");
	is_str(wf->timezone, "UTC", "timezone defaults to UTC");
	ok(wf->description == NULL, "no description");
	is_int(wf->timeout_ms, 0, "no run timeout");
	is_int(wf->concurrency_max, 0, "concurrency unlimited");
	is_int(wf->concurrency_policy, CONC_QUEUE, "concurrency policy queue");
	is_int(wf->default_timeout_ms, 5 * 60000, "default task timeout 5m");
	is_int(wf->retry_defaults.strategy, BACKOFF_EXPONENTIAL,
	    "retryStrategy exponential");
	ok(jv_get_kind(wf->params) == JV_KIND_OBJECT &&
		jv_object_length(jv_copy(wf->params)) == 0,
	    "params empty object");
	is_int(wf->ntasks, 4, "four tasks");
	is_str(wf->tasks[0].id, "fetch_data", "task 0 id");
	is_str(wf->tasks[3].id, "send_email", "task 3 id");
	is_str(wf->tasks[0].name, "fetch_data", "task name defaults to id");
	for (size_t i = 0; i < wf->ntasks; i++) {
		t = &wf->tasks[i];
		is_int(t->type, TASK_HTTP, "task %s is http", t->id);
		is_str(t->method, "POST", "task %s method POST", t->id);
		ok(t->url &&
			!strncmp(t->url,
			    "http://user-backend:8080/api/"
			    "tasks/",
			    35),
		    "task %s url", t->id);
		ok(t->when == NULL && jv_get_kind(t->input) == JV_KIND_NULL &&
			!jv_is_valid(t->body),
		    "task %s: no when/input/body", t->id);
	}
	is_int(wf->tasks[0].timeout_ms, 300000, "fetch_data timeout 5m");
	is_int(wf->tasks[1].timeout_ms, 120000, "validate timeout 2m");
	is_int(wf->tasks[2].timeout_ms, 600000, "process timeout 10m");
	is_int(wf->tasks[3].timeout_ms, 60000, "send_email timeout 1m");
	t = &wf->tasks[0];
	is_int(t->retry.max_attempts, 3, "fetch_data maxAttempts 3");
	is_int(t->retry.retry_on,
	    ERRCLASS_BIT(ERR_TIMEOUT) | ERRCLASS_BIT(ERR_CONNECTION),
	    "fetch_data retryOn as written");
	is_int(t->retry.dont_retry_on, def.dont_retry_on,
	    "fetch_data dontRetryOn default");
	t = &wf->tasks[1];
	is_int(t->retry.max_attempts, def.max_attempts,
	    "validate: default "
	    "attempts");
	is_int(t->retry.retry_on, def.retry_on, "validate: default retryOn");
	is_int(t->retry.initial_delay_ms, def.initial_delay_ms,
	    "validate: default initial delay");
	is_int(wf->tasks[0].ndepends, 0, "fetch_data has no deps");
	t = &wf->tasks[2];
	is_int(t->ndepends, 2, "process has two deps");
	ok(t->ndepends == 2 && t->dep_index[0] == 0 && t->dep_index[1] == 1,
	    "process deps resolve to 0, 1");
	ok(wf->tasks[3].ndepends == 1 && wf->tasks[3].dep_index[0] == 2,
	    "send_email depends on process");
	ok(wf->dag != NULL && wf->dag->n == 4, "dag built with 4 nodes");
	is_int(workflow_task_index(wf, "send_email"), 3, "task index lookup");
	is_int(workflow_task_index(wf, "nope"), -1, "unknown task index -1");
	is_str(task_type_name(TASK_SHELL), "shell", "task_type_name");
	is_str(concurrency_policy_name(CONC_CANCEL_OTHER), "cancelOther",
	    "concurrency_policy_name");
	is_int(wf->tasks[0].pos.line, 7, "task position line");
	is_int(wf->tasks[0].pos.col, 5, "task position column");
	workflow_free(wf);
	diags_clear(&d);

	/* The same file as shipped, when the test runs from the repo root. */
	if (access("contrib/examples/daily-report.yaml", R_OK) == 0) {
		diags_init(&d);
		wf = workflow_load_file(
		    "contrib/examples/daily-report.yaml", &d);
		ok(wf != NULL && wf->ntasks == 4, "contrib example loads");
		workflow_free(wf);
		diags_clear(&d);
	}
}

/* ---- one row per kind of error --------------------------------------- */

/* clang-format off */

static const struct errcase {
	const char *name;
	const char *yaml;
	int line, col;
	const char *msg;	/* exact, or a prefix when it ends in '*' */
} errcases[] = {
	{ "wrong type", "id: w\ntasks:\n  - id: a\n    url: [x]\n", 4, 10,
	  "expected a string for 'url', found a sequence" },
	{ "unknown key with hint",
	  "id: w\ntasks:\n  - id: a\n    command: x\n  - id: b\n"
	  "    command: y\n    dependOn: [a]\n", 7, 5,
	  "unknown key 'dependOn' in task 'b'; did you mean 'dependsOn'?" },
	{ "unknown key, case only",
	  "id: w\ntasks:\n  - id: a\n    command: x\n    DependsOn: []\n",
	  5, 5, "unknown key 'DependsOn' in task 'a'; did you mean "
	  "'dependsOn'?" },
	{ "unknown workflow key",
	  "id: w\nshedule: '* * * * *'\ntasks:\n  - {id: a, command: x}\n",
	  2, 1, "unknown key 'shedule' in workflow; did you mean 'schedule'?" },
	{ "unknown key, no hint",
	  "id: w\ntasks:\n  - {id: a, command: x, frobnicate: 1}\n", 3, 25,
	  "unknown key 'frobnicate' in task 'a'" },
	{ "retry key outside retryPolicy",
	  "id: w\ntasks:\n  - id: a\n    command: x\n    jitter: 0.5\n", 5, 5,
	  "unknown key 'jitter' in task 'a'; it belongs under 'retryPolicy'" },
	{ "missing task id", "id: w\ntasks:\n  - command: x\n", 3, 5,
	  "task has no 'id'" },
	{ "missing workflow id", "tasks:\n  - {id: a, command: x}\n", 1, 1,
	  "workflow has no 'id'" },
	{ "missing tasks", "id: w\n", 1, 1, "workflow has no 'tasks'" },
	{ "empty task list", "id: w\ntasks: []\n", 2, 8,
	  "'tasks' is empty: a workflow needs at least one task" },
	{ "bad id", "id: w\ntasks:\n  - id: fetch data\n    command: x\n", 3,
	  9, "invalid task id 'fetch data': use 1 to 128 letters, digits, "
	  "'_', '.' or '-'" },
	{ "duplicate task id",
	  "id: w\ntasks:\n  - id: a\n    command: x\n  - id: a\n"
	  "    command: y\n", 5, 9,
	  "duplicate task id 'a' (first at line 3, column 9)" },
	{ "dangling dependsOn",
	  "id: w\ntasks:\n  - id: fetch_data\n    command: x\n"
	  "  - id: process\n    command: y\n    dependsOn: [fetchdata]\n",
	  7, 17, "task 'process' depends on 'fetchdata', which does not "
	  "exist; did you mean 'fetch_data'?" },
	{ "dangling dependsOn, no hint",
	  "id: w\ntasks:\n  - id: a\n    command: x\n    dependsOn: zzzzzz\n",
	  5, 16, "task 'a' depends on 'zzzzzz', which does not exist" },
	{ "self dependency",
	  "id: w\ntasks:\n  - id: a\n    command: x\n    dependsOn: [a]\n", 5,
	  17, "task 'a' depends on itself" },
	{ "dependency listed twice",
	  "id: w\ntasks:\n  - {id: a, command: x}\n"
	  "  - {id: b, command: x, dependsOn: [a, a]}\n", 4, 40,
	  "task 'b' lists 'a' twice in 'dependsOn'" },
	{ "cycle",
	  "id: w\ntasks:\n  - id: a\n    command: x\n    dependsOn: [b]\n"
	  "  - id: b\n    command: x\n    dependsOn: [c]\n"
	  "  - id: c\n    command: x\n    dependsOn: [a]\n", 3, 5,
	  "dependency cycle: a -> b -> c -> a" },
	{ "two-task cycle starts at the first task",
	  "id: w\ntasks:\n  - {id: x, command: x}\n"
	  "  - {id: p, command: x, dependsOn: [q]}\n"
	  "  - {id: q, command: x, dependsOn: [p, x]}\n", 4, 5,
	  "dependency cycle: p -> q -> p" },
	{ "unknown task type",
	  "id: w\ntasks:\n  - id: a\n    type: htp\n    url: http://h/\n", 4,
	  11, "unknown task type 'htp': expected http, shell or java; did you "
	  "mean 'http'?" },
	{ "key of another type",
	  "id: w\ntasks:\n  - id: a\n    type: shell\n    command: x\n"
	  "    url: http://h/\n", 6, 5, "'url' is not valid for a shell task" },
	{ "type cannot be told",
	  "id: w\ntasks:\n  - id: a\n    name: A\n", 3, 5,
	  "task 'a' has no 'type', and no 'url', 'command' or 'class' to tell "
	  "it by" },
	{ "type ambiguous",
	  "id: w\ntasks:\n  - id: a\n    url: http://h/\n    command: x\n", 3,
	  5, "cannot tell the type of task 'a': it has 'url' (http) and "
	  "'command' (shell); add 'type'" },
	{ "http without url", "id: w\ntasks:\n  - id: a\n    type: http\n", 3,
	  5, "http task 'a' has no 'url'" },
	{ "shell without command", "id: w\ntasks:\n  - id: a\n    type: shell\n",
	  3, 5, "shell task 'a' has no 'command'" },
	{ "java without class",
	  "id: w\ntasks:\n  - id: a\n    classpath: a.jar\n", 3, 5,
	  "java task 'a' has no 'class'" },
	{ "bad url scheme",
	  "id: w\ntasks:\n  - id: a\n    url: ftp://h/x\n", 4, 10,
	  "bad URL 'ftp://h/x': expected http:// or https://" },
	{ "url without host",
	  "id: w\ntasks:\n  - id: a\n    url: http:///x\n", 4, 10,
	  "bad URL 'http:///x': it has no host" },
	{ "url bad port",
	  "id: w\ntasks:\n  - id: a\n    url: http://h:99999/\n", 4, 10,
	  "bad URL 'http://h:99999/': port out of range" },
	{ "bad http method",
	  "id: w\ntasks:\n  - id: a\n    method: CONNECT\n    url: http://h/\n",
	  4, 13, "unknown HTTP method 'CONNECT': expected GET, POST, PUT, "
	  "PATCH, DELETE or HEAD" },
	{ "http method with a hint",
	  "id: w\ntasks:\n  - id: a\n    method: PSOT\n    url: http://h/\n",
	  4, 13, "unknown HTTP method 'PSOT': expected GET, POST, PUT, PATCH, "
	  "DELETE or HEAD; did you mean 'POST'?" },
	{ "bad cron", "id: w\nschedule: \"61 3 * * *\"\ntasks:\n"
	  "  - {id: a, command: x}\n", 2, 11, "bad schedule '61 3 * * *': *" },
	{ "bad duration",
	  "id: w\ntasks:\n  - id: a\n    command: x\n    timeout: 5 min\n", 5,
	  14, "bad duration '5 min' for 'timeout': *" },
	{ "duration as a number",
	  "id: w\ntasks:\n  - id: a\n    command: x\n    timeout: 30\n", 5, 14,
	  "expected a duration like 30s, 5m or 500ms for 'timeout', found an "
	  "integer" },
	{ "zero timeout",
	  "id: w\ntasks:\n  - id: a\n    command: x\n    timeout: 0s\n", 5, 14,
	  "'timeout' must be longer than 0s" },
	{ "bad timezone", "id: w\ntimezone: Mars/Olympus_Mons\ntasks:\n"
	  "  - {id: a, command: x}\n", 2, 11, "unknown time zone "
	  "'Mars/Olympus_Mons' (expected an IANA name like Europe/Kyiv or "
	  "UTC)" },
	{ "bad jq in when",
	  "id: w\ntasks:\n  - id: a\n    command: x\n    when: '.a | | .'\n",
	  5, 11, "bad jq in 'when': *" },
	{ "bad template in input",
	  "id: w\ntasks:\n  - id: a\n    command: x\n    input:\n"
	  "      n: \"${{ .params. | }}\"\n", 6, 10,
	  "bad template in 'input': *" },
	{ "quoted number",
	  "id: w\ntasks:\n  - id: a\n    command: x\n    maxAttempts: \"3\"\n",
	  5, 18, "expected an integer for 'maxAttempts', found a string "
	  "(remove the quotes)" },
	{ "number as a string", "id: 42\ntasks:\n  - {id: a, command: x}\n",
	  1, 5, "expected a string for 'id', found an integer (quote it to use "
	  "it as text)" },
	{ "maxAttempts out of range",
	  "id: w\ntasks:\n  - id: a\n    command: x\n    maxAttempts: 0\n", 5,
	  18, "'maxAttempts' must be between 1 and 1000, found 0" },
	{ "unknown error class",
	  "id: w\ntasks:\n  - id: a\n    command: x\n"
	  "    retryOn: [TimeoutExeption]\n", 5, 15,
	  "unknown error class 'TimeoutExeption' in 'retryOn'; did you mean "
	  "'TimeoutException'?" },
	{ "class in both lists",
	  "id: w\ntasks:\n  - id: a\n    command: x\n    retryPolicy:\n"
	  "      retryOn: [TimeoutException]\n"
	  "      dontRetryOn: [TimeoutException]\n", 7, 20,
	  "'TimeoutException' is in both retryOn and dontRetryOn" },
	{ "jitter out of range",
	  "id: w\ntasks:\n  - id: a\n    command: x\n    retryPolicy:\n"
	  "      jitter: 2\n", 6, 15,
	  "'jitter' must be a number from 0 to 1, found 2" },
	{ "bad backoff",
	  "id: w\nretryStrategy: expo\ntasks:\n  - {id: a, command: x}\n", 2, 16,
	  "unknown retryStrategy 'expo': expected exponential, linear or "
	  "fixed" },
	{ "maxDelay below initialDelay",
	  "id: w\ntasks:\n  - id: a\n    command: x\n    retryPolicy:\n"
	  "      initialDelay: 10m\n", 6, 7,
	  "the task's retry policy has maxDelay 5m shorter than its "
	  "initialDelay 10m" },
	{ "the old name of cancelOther is for stored specs only",
	  "id: w\nconcurrency: {max: 1, policy: cancel-oldest}\ntasks:\n"
	  "  - {id: a, command: x}\n", 2, 31,
	  "unknown concurrency policy 'cancel-oldest': expected queue, skip, "
	  "bufferOne, cancelOther or allow" },
	{ "concurrency without max",
	  "id: w\nconcurrency: {policy: skip}\ntasks:\n"
	  "  - {id: a, command: x}\n", 2, 14, "'concurrency' has no 'max'" },
	{ "bad catchup",
	  "id: w\ncatchup: every\ntasks:\n  - {id: a, command: x}\n", 2, 10,
	  "unknown catchup 'every': expected latest, none or all" },
	{ "catchupMax too big",
	  "id: w\ncatchupMax: 5000\ntasks:\n  - {id: a, command: x}\n", 2, 13,
	  "'catchupMax' must be between 1 and 1000, found 5000" },
	{ "pauseOnFailure not a bool",
	  "id: w\npauseOnFailure: yes please\ntasks:\n"
	  "  - {id: a, command: x}\n", 2, 17,
	  "expected true or false for 'pauseOnFailure', found a string" },
	{ "file trigger with a relative path",
	  "id: w\ntriggers:\n  - file: {path: in/x}\ntasks:\n"
	  "  - {id: a, command: x}\n", 3, 18,
	  "file trigger path 'in/x' is not absolute" },
	{ "file trigger with a wildcard directory",
	  "id: w\ntriggers:\n  - file: {path: /srv/*/x}\ntasks:\n"
	  "  - {id: a, command: x}\n", 3, 18,
	  "file trigger path '/srv/*/x' has a wildcard in a directory: only "
	  "the last part may have one" },
	{ "file trigger with an unknown event",
	  "id: w\ntriggers:\n  - file: {path: /srv/x, events: [open]}\n"
	  "tasks:\n  - {id: a, command: x}\n", 3, 34,
	  "unknown file event 'open': expected create, close_write, "
	  "moved_to, delete or modify" },
	{ "trigger with both kinds",
	  "id: w\ntriggers:\n  - {file: {path: /srv/x}, message: {}}\n"
	  "tasks:\n  - {id: a, command: x}\n", 3, 5,
	  "a trigger needs exactly one of 'file' or 'message'" },
	{ "file trigger and params without file",
	  "id: w\nparams: {x: 1}\ntriggers:\n  - file: {path: /srv/x}\n"
	  "tasks:\n  - {id: a, command: x}\n", 4, 3,
	  "a file trigger passes its event in the param 'file', but "
	  "'params' does not declare it: add 'file: null' to params" },
	{ "schedule that never fires",
	  "id: w\nschedule: \"0 0 31 2 *\"\ntasks:\n  - {id: a, command: x}\n",
	  2, 11, "schedule '0 0 31 2 *' never fires: no date matches its "
	  "day-of-month, month and day-of-week fields" },
	{ "schedule with seconds that never fires",
	  "id: w\nschedule: \"0 0 0 31 4,6,9,11 */2\"\ntasks:\n"
	  "  - {id: a, command: x}\n", 2, 11,
	  "schedule '0 0 0 31 4,6,9,11 */2' never fires: *" },
	{ "template in a shell command",
	  "id: w\ntasks:\n  - id: a\n    command: echo ${{ .params.x }}\n", 4,
	  14, "templates are not expanded in 'command': '${{ }}' stays as "
	  "written; pass the value in 'input' and read it from the request on "
	  "stdin" },
	{ "template in an argv item",
	  "id: w\ntasks:\n  - id: a\n    command: [echo, \"${{ .params.x }}\"]\n",
	  4, 21, "templates are not expanded in 'command': *" },
	{ "template in env",
	  "id: w\ntasks:\n  - id: a\n    command: x\n"
	  "    env: {X: \"n=${{ .params.n }}\"}\n", 5, 14,
	  "templates are not expanded in 'env': *" },
	{ "escaped template in env",
	  "id: w\ntasks:\n  - id: a\n    command: x\n"
	  "    env: {X: \"$${{ .params.n }}\"}\n", 5, 14,
	  "templates are not expanded in 'env': *" },
	{ "template in workdir",
	  "id: w\ntasks:\n  - id: a\n    command: x\n"
	  "    workdir: /srv/${{ .params.d }}\n", 5, 14,
	  "templates are not expanded in 'workdir': *" },
	{ "template in java args",
	  "id: w\ntasks:\n  - id: a\n    class: Main\n"
	  "    args: [--day, \"${{ .params.day }}\"]\n", 5, 19,
	  "templates are not expanded in 'args': *" },
	{ "bad java class",
	  "id: w\ntasks:\n  - id: a\n    class: com..Main\n", 4, 12,
	  "'com..Main' is not a Java class name (like com.example.Main)" },
	{ "empty argv", "id: w\ntasks:\n  - id: a\n    command: []\n", 4, 14,
	  "'command' is an empty list" },
	{ "bad env name",
	  "id: w\ntasks:\n  - id: a\n    command: x\n    env: {\"A=B\": x}\n",
	  5, 11, "invalid environment variable name 'A=B'" },
	{ "input not a mapping",
	  "id: w\ntasks:\n  - id: a\n    command: x\n    input: [1]\n", 5, 12,
	  "expected a mapping for 'input', found a sequence" },
	{ "task not a mapping", "id: w\ntasks:\n  - a\n", 3, 5,
	  "expected a mapping for a task, found a string" },
	{ "top level not a mapping", "- a\n- b\n", 1, 1,
	  "expected a workflow (a mapping with 'id' and 'tasks') at the top "
	  "level, found a sequence" },
	{ "empty file", "# nothing\n", 0, 0,
	  "empty file: expected a workflow (a mapping with 'id' and 'tasks')" },
	{ "duplicate yaml key", "id: w\nid: v\ntasks:\n  - {id: a, command: x}\n",
	  2, 1, "duplicate key 'id' (first at line 1, column 1)" },
	{ "yaml syntax error", "id: w\ntasks:\n  - id: a\n   command: x\n", 4,
	  4, "YAML syntax error: did not find expected '-' indicator (while "
	  "parsing a block collection at line 3, column 3)" },
	{ "tab indentation", "id: w\ntasks:\n\t- id: a\n", 3, 1,
	  "YAML syntax error: *" },
	{ "two documents", "id: w\n---\nid: v\n", 2, 1,
	  "a second YAML document: a workflow file holds exactly one" },
	{ "unknown anchor", "id: w\ntasks: *nope\n", 2, 8,
	  "unknown anchor '*nope' (an alias must come after its anchor's node "
	  "is complete)" },
	{ "unsupported tag", "id: !custom w\ntasks:\n  - {id: a, command: x}\n",
	  1, 5, "unsupported YAML tag '!custom'" },
	{ "params not a mapping",
	  "id: w\nparams: [a]\ntasks:\n  - {id: a, command: x}\n", 2, 9,
	  "expected a mapping for 'params', found a sequence" },
	{ "workflow key inside a task",
	  "id: w\ntasks:\n  - id: a\n    command: x\n    schedule: '* * * * *'\n",
	  5, 5, "unknown key 'schedule' in task 'a'; it is a workflow key: "
	  "check the indentation" },
};

/* clang-format on */

static int
msg_matches(const char *got, const char *want)
{
	size_t n = strlen(want);

	if (n > 0 && want[n - 1] == '*')
		return strncmp(got, want, n - 1) == 0;
	return strcmp(got, want) == 0;
}

static void
test_errors(void)
{
	for (size_t i = 0; i < sizeof(errcases) / sizeof(errcases[0]); i++) {
		const struct errcase *e = &errcases[i];
		struct diags d;
		struct workflow *wf = load(e->yaml, &d);
		int found = 0;

		for (size_t j = 0; j < d.n; j++)
			if (d.v[j].line == e->line && d.v[j].col == e->col &&
			    msg_matches(d.v[j].msg, e->msg))
				found = 1;
		ok(wf == NULL && found, "%s: %d:%d %s", e->name, e->line,
		    e->col, e->msg);
		if (wf != NULL || !found)
			dump_diags(&d);
		is_str(d.n ? d.v[0].file : NULL, "t.yaml",
		    "%s: file name in "
		    "diagnostic",
		    e->name);
		workflow_free(wf);
		diags_clear(&d);
	}
}

static void
test_all_at_once(void)
{
	static const char y[] = "id: w\n"		   /* 1 */
				"timezone: Nowhere/Town\n" /* 2 */
				"tasks:\n"		   /* 3 */
				"  - id: a\n"		   /* 4 */
				"    url: htp://x\n"	   /* 5 */
				"    timeout: 3x\n"	   /* 6 */
				"  - id: b\n"		   /* 7 */
				"    command: x\n"	   /* 8 */
				"    dependsOn: [c]\n"	   /* 9 */
				"    colour: red\n";	   /* 10 */
	struct diags d;
	struct workflow *wf = load(y, &d);
	static const int lines[] = { 2, 5, 6, 9, 10 };

	ok(wf == NULL, "a file with five errors is refused");
	is_int(d.n, 5, "all five errors are reported");
	for (size_t i = 0; i < 5 && i < d.n; i++)
		is_int(d.v[i].line, lines[i], "error %zu sorted at line %d", i,
		    lines[i]);
	if (d.n != 5)
		dump_diags(&d);
	diags_clear(&d);

	/* Sorting touches only what this load added. */
	diags_init(&d);
	diags_add(&d, "other.yaml", 99, 1, "earlier file");
	wf = workflow_load_buf_opts("t.yaml", y, strlen(y), &zones, &d);
	ok(wf == NULL && d.n == 6 && strcmp(d.v[0].file, "other.yaml") == 0,
	    "earlier diagnostics stay first");
	diags_clear(&d);
}

/* ---- YAML limits and typing ------------------------------------------- */

static void
test_alias_bomb(void)
{
	char *y = xstrdup("id: lol\nx-a: &a [\"lol\",\"lol\",\"lol\",\"lol\","
			  "\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
	struct diags d;
	struct workflow *wf;
	int found = 0;

	for (char c = 'b'; c <= 'j'; c++) {
		char *n = xasprintf("%sx-%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,"
				    "*%c,*%c]\n",
		    y, c, c, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1, c - 1,
		    c - 1, c - 1);

		free(y);
		y = n;
	}
	{
		char *n = xasprintf("%stasks:\n  - {id: a, command: x, input: "
				    "{v: *j}}\n",
		    y);

		free(y);
		y = n;
	}
	wf = load(y, &d);
	for (size_t i = 0; i < d.n; i++)
		if (strstr(d.v[i].msg, "billion laughs"))
			found = 1;
	ok(wf == NULL && found, "billion laughs refused");
	if (!found)
		dump_diags(&d);
	diags_clear(&d);
	free(y);

	/* Many small aliases: over WORKFLOW_MAX_ALIASES. */
	{
		size_t cap = 64 + 4 * (WORKFLOW_MAX_ALIASES + 10);
		char *b = xmalloc(cap), *p = b;

		p += sprintf(p, "id: w\nx-a: &a 1\nx-l: [");
		for (int i = 0; i < WORKFLOW_MAX_ALIASES + 1; i++)
			p += sprintf(p, "*a,");
		sprintf(p, "]\ntasks: [{id: a, command: x}]\n");
		wf = load(b, &d);
		found = 0;
		for (size_t i = 0; i < d.n; i++)
			if (strstr(d.v[i].msg, "too many aliases"))
				found = 1;
		ok(wf == NULL && found, "more than %d aliases refused",
		    WORKFLOW_MAX_ALIASES);
		diags_clear(&d);
		free(b);
	}
}

static void
test_aliases_ok(void)
{
	static const char y[] =
	    "id: w\n"
	    "x-http: &http\n"
	    "  type: http\n"
	    "  method: PUT\n"
	    "  timeout: 30s\n"
	    "x-retry: &retry {maxAttempts: 7, backoffStrategy: fixed}\n"
	    "tasks:\n"
	    "  - <<: *http\n"
	    "    id: a\n"
	    "    url: http://h/a\n"
	    "    retryPolicy: *retry\n"
	    "  - <<: *http\n"
	    "    id: b\n"
	    "    method: GET\n"
	    "    url: http://h/b\n"
	    "    dependsOn: a\n";
	struct diags d;
	struct workflow *wf = load(y, &d);

	ok(wf != NULL, "anchors, aliases and merge keys work");
	if (wf == NULL) {
		dump_diags(&d);
		diags_clear(&d);
		return;
	}
	is_str(wf->tasks[0].method, "PUT", "merged method");
	is_str(wf->tasks[1].method, "GET", "explicit key wins over merge");
	is_int(wf->tasks[1].timeout_ms, 30000, "merged timeout");
	is_int(wf->tasks[0].retry.max_attempts, 7, "aliased retryPolicy");
	is_int(wf->tasks[0].retry.strategy, BACKOFF_FIXED, "aliased backoff");
	ok(wf->tasks[1].ndepends == 1 && wf->tasks[1].dep_index[0] == 0,
	    "dependsOn as a single string");
	workflow_free(wf);
	diags_clear(&d);
}

static void
test_size_cap(void)
{
	size_t n = WORKFLOW_MAX_BYTES + 1;
	char *b = xmalloc(n);
	struct diags d;
	struct workflow *wf;

	memset(b, '#', n);
	diags_init(&d);
	wf = workflow_load_buf("big.yaml", b, n, &d);
	ok(wf == NULL && d.n == 1 && strstr(d.v[0].msg, "too large"),
	    "input over WORKFLOW_MAX_BYTES refused");
	diags_clear(&d);
	free(b);
}

static void
test_typing(void)
{
	static const struct {
		const char *text;
		int kind;
		int quoted;
		/* clang-format off */
	} cases[] = {
		{ "3", YS_INT, 0 }, { "\"3\"", YS_STR, 1 }, { "'3'", YS_STR, 1 },
		{ "-17", YS_INT, 0 }, { "0x1F", YS_INT, 0 }, { "0o17", YS_INT, 0 },
		{ "1.5", YS_FLOAT, 0 }, { "1e3", YS_FLOAT, 0 },
		{ ".inf", YS_FLOAT, 0 }, { ".nan", YS_FLOAT, 0 },
		{ "null", YS_NULL, 0 }, { "~", YS_NULL, 0 }, { "", YS_NULL, 0 },
		{ "true", YS_BOOL, 0 }, { "False", YS_BOOL, 0 },
		{ "yes", YS_STR, 0 }, { "on", YS_STR, 0 }, { "0x", YS_STR, 0 },
		{ "1.2.3", YS_STR, 0 }, { "!!str 3", YS_STR, 0 },
		{ "!!int \"3\"", YS_INT, 1 }, { "|\n  3\n", YS_STR, 1 },
	};
	/* clang-format on */
	struct diags d;

	diags_init(&d);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *y = xasprintf("k: %s\n", cases[i].text);
		struct ydoc *doc = ydoc_parse("t", y, strlen(y), NULL, &d);
		struct ynode *v = doc ? ynode_map_get(doc->root, "k") : NULL;

		ok(v != NULL && v->type == YN_SCALAR &&
			v->kind == cases[i].kind &&
			v->quoted == cases[i].quoted,
		    "scalar #%zu resolves to kind %d", i, cases[i].kind);
		ydoc_free(doc);
		free(y);
	}
	{
		const char *y = "a: 0x1F\nb: 1e3\nc: [1, \"x\", {d: null}]\n";
		struct ydoc *doc = ydoc_parse("t", y, strlen(y), NULL, &d);
		int64_t iv = 0;
		jv j;

		ok(doc && ynode_int(ynode_map_get(doc->root, "a"), &iv) == 0 &&
			iv == 31,
		    "0x1F is 31");
		ok(doc && ynode_int(ynode_map_get(doc->root, "b"), &iv) == 0 &&
			iv == 1000,
		    "1e3 is the integer 1000");
		j = doc ? ynode_to_jv(doc->root) : jv_invalid();
		ok(jv_equal(j,
		       jv_parse("{\"a\":31,\"b\":1000,\"c\":[1,\"x\","
				"{\"d\":null}]}")),
		    "tree to JSON");
		is_int(ynode_map_get(doc->root, "c")->line, 3, "node line");
		is_int(ynode_map_get(doc->root, "c")->col, 4, "node column");
		ydoc_free(doc);
	}
	{
		/* Empty collections before any child was ever seen. */
		struct ydoc *doc = ydoc_parse("t", "[[[]]]", 6, NULL, &d);

		ok(doc && doc->root->type == YN_SEQ && doc->root->n == 1 &&
			doc->root->u.items[0]->u.items[0]->n == 0,
		    "nested empty sequences");
		ydoc_free(doc);
		doc = ydoc_parse("t", "{}", 2, NULL, &d);
		ok(doc && doc->root->type == YN_MAP && doc->root->n == 0,
		    "empty mapping");
		ydoc_free(doc);
	}
	is_int(d.n, 0, "no diagnostics for valid scalars");
	diags_clear(&d);
}

/* ---- JSON and the canonical form -------------------------------------- */

static void
test_json_input(void)
{
	static const char js[] =
	    "{\"id\":\"j\",\"params\":{\"n\":1},\"tasks\":[{\"id\":\"a\","
	    "\"command\":[\"echo\",\"hi\"]},{\"id\":\"b\",\"url\":"
	    "\"https://h:8443/x\",\"dependsOn\":[\"a\"],\"maxAttempts\":2}]}";
	static const char pretty[] =
	    "{\n  \"id\": \"j\",\n  \"tasks\": [\n    {\n      \"id\": \"a\",\n"
	    "      \"command\": \"echo hi\",\n      \"bogus\": 1\n    }\n  "
	    "]\n}\n";
	struct diags d;
	struct workflow *wf = load(js, &d);

	ok(wf != NULL, "compact JSON loads");
	if (wf != NULL) {
		is_int(wf->ntasks, 2, "JSON: two tasks");
		is_int(wf->tasks[0].type, TASK_SHELL, "JSON: shell inferred");
		ok(wf->tasks[0].argc == 2 &&
			!strcmp(wf->tasks[0].argv[1], "hi") &&
			wf->tasks[0].argv[2] == NULL,
		    "JSON: argv");
		is_int(wf->tasks[1].retry.max_attempts, 2, "JSON: maxAttempts");
		ok(jv_equal(jv_copy(wf->params), jv_parse("{\"n\":1}")),
		    "JSON: params");
	} else
		dump_diags(&d);
	workflow_free(wf);
	diags_clear(&d);

	wf = load(pretty, &d);
	ok(wf == NULL && d.n == 1 && d.v[0].line == 7 && d.v[0].col == 7,
	    "pretty JSON errors have line:col (7:7)");
	diags_clear(&d);
}

static int
streq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static int
strv_eq(char *const *a, size_t na, char *const *b, size_t nb)
{
	if (na != nb || (a == NULL) != (b == NULL))
		return 0;
	for (size_t i = 0; i < na; i++)
		if (!streq(a[i], b[i]))
			return 0;
	return 1;
}

static int
jv_eq(jv a, jv b)
{
	return jv_equal(jv_copy(a), jv_copy(b));
}

static int
retry_eq(const struct retry_policy *a, const struct retry_policy *b)
{
	return a->max_attempts == b->max_attempts &&
	    a->strategy == b->strategy &&
	    a->initial_delay_ms == b->initial_delay_ms &&
	    a->max_delay_ms == b->max_delay_ms &&
	    a->multiplier == b->multiplier && a->jitter == b->jitter &&
	    a->retry_on == b->retry_on && a->dont_retry_on == b->dont_retry_on;
}

static int
task_eq(const struct task *a, const struct task *b)
{
	if (!streq(a->id, b->id) || !streq(a->name, b->name) ||
	    !streq(a->description, b->description) || a->type != b->type ||
	    !strv_eq(a->depends_on, a->ndepends, b->depends_on, b->ndepends) ||
	    a->timeout_ms != b->timeout_ms || !retry_eq(&a->retry, &b->retry) ||
	    !streq(a->when, b->when) || !jv_eq(a->input, b->input) ||
	    !streq(a->method, b->method) || !streq(a->url, b->url) ||
	    !jv_eq(a->headers, b->headers) ||
	    jv_is_valid(a->body) != jv_is_valid(b->body) ||
	    (jv_is_valid(a->body) && !jv_eq(a->body, b->body)) ||
	    !strv_eq(a->argv, a->argc, b->argv, b->argc) ||
	    !streq(a->command, b->command) || !jv_eq(a->env, b->env) ||
	    !streq(a->workdir, b->workdir) ||
	    !streq(a->class_name, b->class_name) ||
	    !streq(a->classpath, b->classpath) ||
	    !strv_eq(a->args, a->nargs, b->args, b->nargs) ||
	    !strv_eq(a->jvm_options, a->njvm_options, b->jvm_options,
		b->njvm_options))
		return 0;
	for (size_t i = 0; i < a->ndepends; i++)
		if (a->dep_index[i] != b->dep_index[i])
			return 0;
	return 1;
}

static int
workflow_eq(const struct workflow *a, const struct workflow *b)
{
	if (!streq(a->id, b->id) || !streq(a->name, b->name) ||
	    !streq(a->description, b->description) ||
	    !streq(a->schedule, b->schedule) ||
	    !streq(a->timezone, b->timezone) ||
	    a->timeout_ms != b->timeout_ms || !jv_eq(a->params, b->params) ||
	    a->concurrency_max != b->concurrency_max ||
	    a->concurrency_policy != b->concurrency_policy ||
	    !retry_eq(&a->retry_defaults, &b->retry_defaults) ||
	    a->default_timeout_ms != b->default_timeout_ms ||
	    a->ntasks != b->ntasks)
		return 0;
	for (size_t i = 0; i < a->ntasks; i++)
		if (!task_eq(&a->tasks[i], &b->tasks[i]))
			return 0;
	return 1;
}

static const char rich[] =
    "id: rich.flow\n"
    "name: Rich\n"
    "description: every feature at once\n"
    "schedule: \"*/15 * * * *\"\n"
    "timezone: UTC\n"
    "retryStrategy: linear\n"
    "retryPolicy: {initialDelay: 2s, maxDelay: 1m, jitter: 0.25}\n"
    "defaults:\n"
    "  timeout: 30s\n"
    "  maxAttempts: 5\n"
    "  headers: {X-Team: data, Authorization: \"Bearer ${{ .params.tok }}\"}\n"
    "params: {tok: abc, limit: 1000, day: null, tags: [a, b]}\n"
    "timeout: 2h\n"
    "tasks:\n"
    "  - id: fetch\n"
    "    url: https://api.example.com/fetch?x=1\n"
    "    method: get\n"
    "    headers: {x-team: mine}\n"
    "    body: {limit: \"${{ .params.limit }}\", fixed: [1, 2.5, true]}\n"
    "    input: {day: \"${{ .params.day }}\"}\n"
    "  - id: sh1\n"
    "    command: [sh, -c, 'echo \"$1\"', x, 42]\n"
    "    env: {PORT: 8080, MODE: fast}\n"
    "    workdir: /tmp\n"
    "    dependsOn: fetch\n"
    "    when: .tasks.fetch.output.count > 0\n"
    "    retryPolicy:\n"
    "      maxAttempts: 4\n"
    "      backoffStrategy: exponential\n"
    "      multiplier: 3\n"
    "      retryOn: [TaskFailedException, HttpClientError (4xx)]\n"
    "    dontRetryOn: [ValidationException]\n"
    "  - id: sh2\n"
    "    type: shell\n"
    "    command: echo done\n"
    "    timeout: 1h30m\n"
    "    when: false\n"
    "    dependsOn: [sh1, fetch]\n"
    "  - id: jv\n"
    "    class: com.example.Report$Main\n"
    "    classpath: [lib/a.jar, lib/b.jar]\n"
    "    args: [--day, 3]\n"
    "    jvmOptions: [-Xmx256m]\n"
    "    dependsOn: [sh2]\n"
    "  - id: jv2\n"
    "    type: java\n"
    "    class: Main\n";

/*
 * dispatch_task_texts() gives what dispatch_task_specs() gives: the text
 * of each untemplated task, the object of each templated one.
 */
static void
check_task_texts(size_t k, const struct workflow *wf, const char *text)
{
	char *err = NULL, **texts = NULL;
	struct ydoc *doc = ydoc_parse_json(text, strlen(text), &err);
	jv specs = dispatch_task_specs(wf), tasks = jv_null();
	int same = 1,
	    rc = doc ? dispatch_task_texts(wf, doc, &texts, &tasks) : -1;

	ok(rc == 0, "round trip %zu: task texts from the tree", k);
	for (size_t i = 0; rc == 0 && i < wf->ntasks; i++) {
		jv want = jv_array_get(jv_copy(specs), (int)i);
		int tmpl = dispatch_spec_has_template(want);
		jv got = texts[i] ? jv_parse(texts[i]) :
				    jv_array_get(jv_copy(tasks), (int)i);

		if ((texts[i] == NULL) != tmpl || !jv_equal(want, got)) {
			printf("# task %zu: %s\n", i,
			    texts[i] ? texts[i] : "(templated)");
			same = 0;
		}
		free(texts[i]);
	}
	ok(rc == 0 && same, "round trip %zu: task texts equal the specs", k);
	free(texts);
	jv_free(specs);
	jv_free(tasks);
	ydoc_free(doc);
	free(err);
}

/* The JSON reader against jv's, and the JSON writer. */
static void
test_json_reader(void)
{
	static const char *const good[] = {
		("{\"a\": [1, -0, 1.5, 1e3, -2.5E-3, 12345678901234567890, "
		 "true, false, null], \"b\": {}, \"c\": []}"),
		"\"\\u00e9\\ud83d\\ude00 \\n\\t\\\"\\\\\\/ x\"",
		"[\"\u00e9 raw\", \"\\u001f\", \"\x7f\"]",
		" 42 ",
		"{\"k\": {\"deep\": [[[{\"x\": \"y\"}]]]}, \"z\": 0.1}",
	};
	static const char *const bad[] = {
		"",
		"[1",
		"{\"a\" 1}",
		"{a: 1}",
		"01",
		"1.",
		"1e",
		"-",
		"[1,]",
		"\"\\x\"",
		"\"a\x01b\"",
		"[1] x",
		"tru",
		"\"\\u0000\"",
		"\"\\u12\"",
		"\"open",
		"\"lone \\ud800\"",
		"\"\\udc00\"",
	};
	static const char *const skip[] = { "b", "c", NULL };
	struct buf b = BUF_INIT;
	char deep[2001];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char *err = NULL;
		struct ydoc *mine =
		    ydoc_parse_json(good[i], strlen(good[i]), &err);
		jv a = mine ? ynode_to_jv(mine->root) : jv_null();
		jv t = jv_parse(good[i]);

		ok(mine != NULL, "json %zu reads%s%s", i, err ? ": " : "",
		    err ? err : "");
		ok(mine != NULL && jv_equal(jv_copy(a), jv_copy(t)),
		    "json %zu: the tree jv's parser gives", i);
		buf_reset(&b);
		ok(mine != NULL && ynode_json(mine->root, &b, NULL) == 0 &&
			jv_equal(jv_parse_sized(b.p, (int)b.len), jv_copy(t)),
		    "json %zu: written back, the same value", i);
		jv_free(a);
		jv_free(t);
		free(err);
		ydoc_free(mine);
	}
	{
		/* Numbers: integral ones a double holds are integers. */
		static const char nums[] =
		    "[1, -0, 1.5, 1e3, 12345678901234567890, \"7\"]";
		static const struct {
			enum yscalar_kind kind;
			const char *text;
		} want[] = { { YS_INT, "1" }, { YS_INT, "0" },
			{ YS_FLOAT, "1.5" }, { YS_INT, "1000" },
			{ YS_FLOAT, "1.2345678901234567e+19" },
			{ YS_STR, "7" } };
		char *err = NULL;
		struct ydoc *doc = ydoc_parse_json(nums, strlen(nums), &err);

		for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			const struct ynode *n =
			    doc ? doc->root->u.items[i] : NULL;

			ok(n != NULL && n->kind == want[i].kind &&
				strcmp(n->u.str, want[i].text) == 0,
			    "json number %zu typed %d '%s': %s", i,
			    (int)want[i].kind, want[i].text,
			    n ? n->u.str : "?");
		}
		free(err);
		ydoc_free(doc);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *err = NULL;
		struct ydoc *doc =
		    ydoc_parse_json(bad[i], strlen(bad[i]), &err);

		ok(doc == NULL && err != NULL &&
			strstr(err, "at byte ") != NULL,
		    "json '%s' is refused: %s", bad[i], err ? err : "");
		ydoc_free(doc);
		free(err);
	}
	memset(deep, '[', 1000);
	memset(deep + 1000, ']', 1000);
	deep[2000] = '\0';
	{
		char *err = NULL;
		struct ydoc *doc = ydoc_parse_json(deep, 2000, &err);

		ok(doc == NULL && err && strstr(err, "nested too deeply"),
		    "json nested 1,000 deep is refused");
		ydoc_free(doc);
		free(err);
	}
	{
		const char *m = "{\"a\": 1, \"b\": 2, \"c\": {\"b\": 3}}";
		char *err = NULL;
		struct ydoc *doc = ydoc_parse_json(m, strlen(m), &err);

		buf_reset(&b);
		ok(doc && ynode_json(doc->root, &b, skip) == 0 &&
			strcmp(b.p, "{\"a\":1}") == 0,
		    "json writer leaves out the listed top-level keys");
		ydoc_free(doc);
		free(err);
	}
	buf_free(&b);
}

static void
test_round_trip(void)
{
	const char *srcs[] = { seed, rich };

	for (size_t k = 0; k < 2; k++) {
		struct diags d;
		struct workflow *a = load(srcs[k], &d), *b = NULL;
		jv ja, jb;
		char *text;

		ok(a != NULL, "round trip %zu: source loads", k);
		if (a == NULL) {
			dump_diags(&d);
			diags_clear(&d);
			continue;
		}
		ja = workflow_to_jv(a);
		text = dump(jv_copy(ja));
		diags_clear(&d);
		b = workflow_load_buf("canon.json", text, strlen(text), &d);
		ok(b != NULL, "round trip %zu: canonical JSON loads", k);
		if (b == NULL) {
			printf("# %s\n", text);
			dump_diags(&d);
		}
		ok(b != NULL && workflow_eq(a, b),
		    "round trip %zu: equal model", k);
		jb = b ? workflow_to_jv(b) : jv_null();
		ok(jv_equal(jv_copy(ja), jv_copy(jb)),
		    "round trip %zu: same "
		    "canonical JSON",
		    k);
		/* The engine's path: the stored text, no YAML parser. */
		diags_clear(&d);
		workflow_free(b);
		b = workflow_load_json("canon", text, strlen(text), &d);
		ok(b != NULL && workflow_eq(a, b),
		    "round trip %zu: canonical JSON text, equal model", k);
		jv_free(jb);
		jb = b ? workflow_to_jv(b) : jv_null();
		ok(jv_equal(jv_copy(ja), jv_copy(jb)),
		    "round trip %zu: as text, same canonical JSON", k);
		if (b != NULL)
			check_task_texts(k, b, text);
		jv_free(ja);
		jv_free(jb);
		free(text);
		workflow_free(a);
		workflow_free(b);
		diags_clear(&d);
	}
	{
		struct diags d;

		diags_init(&d);
		ok(workflow_load_json("bad", "[1", 2, &d) == NULL && d.n > 0,
		    "an invalid stored spec is refused");
		diags_clear(&d);
		ok(workflow_load_json("bad", "{\"id\": 5}", 9, &d) == NULL &&
			d.n > 0,
		    "a stored spec that does not validate is "
		    "refused");
		diags_clear(&d);
		ok(workflow_load_json("bad", "{\"id\": ", 7, &d) == NULL &&
			d.n > 0 && strstr(d.v[0].msg, "byte 8") != NULL,
		    "stored text that is not JSON is refused, with where");
		diags_clear(&d);
	}
}

static void
test_rich(void)
{
	struct diags d;
	struct workflow *wf = load(rich, &d);
	const struct task *t;
	jv j;
	char *text;

	ok(wf != NULL, "rich workflow loads");
	if (wf == NULL) {
		dump_diags(&d);
		diags_clear(&d);
		return;
	}
	is_int(wf->timeout_ms, 7200000, "run timeout 2h");
	is_int(wf->default_timeout_ms, 30000, "defaults.timeout");
	is_int(wf->retry_defaults.strategy, BACKOFF_LINEAR, "retryStrategy");
	is_int(
	    wf->retry_defaults.initial_delay_ms, 2000, "workflow retryPolicy");
	is_int(wf->retry_defaults.max_attempts, 5, "defaults.maxAttempts");
	ok(wf->retry_defaults.jitter == 0.25, "workflow jitter");

	t = &wf->tasks[0];
	is_int(t->type, TASK_HTTP, "url implies http");
	is_str(t->method, "GET", "method upper-cased");
	is_int(t->timeout_ms, 30000, "task timeout from defaults");
	is_int(t->retry.max_attempts, 5, "task inherits defaults");
	j = jv_object_get(jv_copy(t->headers), jv_string("x-team"));
	is_str(jv_get_kind(j) == JV_KIND_STRING ? jv_string_value(j) : NULL,
	    "mine", "task header wins over default, case-insensitively");
	jv_free(j);
	is_int(jv_object_length(jv_copy(t->headers)), 2,
	    "default "
	    "Authorization header merged in");
	ok(jv_get_kind(t->body) == JV_KIND_OBJECT, "body kept");
	ok(jv_get_kind(t->input) == JV_KIND_OBJECT, "input kept");

	t = &wf->tasks[1];
	is_int(t->type, TASK_SHELL, "command implies shell");
	ok(t->argc == 5 && t->command == NULL && !strcmp(t->argv[4], "42"),
	    "argv with a number item");
	j = jv_object_get(jv_copy(t->env), jv_string("PORT"));
	is_str(jv_get_kind(j) == JV_KIND_STRING ? jv_string_value(j) : NULL,
	    "8080", "env number becomes a string");
	jv_free(j);
	is_str(t->workdir, "/tmp", "workdir");
	is_str(t->when, ".tasks.fetch.output.count > 0", "when");
	is_int(t->retry.max_attempts, 4, "task retryPolicy over defaults");
	is_int(t->retry.strategy, BACKOFF_EXPONENTIAL, "task backoff");
	ok(t->retry.multiplier == 3, "task multiplier");
	is_int(t->retry.initial_delay_ms, 2000, "initialDelay inherited");
	is_int(t->retry.retry_on,
	    ERRCLASS_BIT(ERR_TASK_FAILED) | ERRCLASS_BIT(ERR_HTTP_CLIENT),
	    "retryOn with an annotation");
	is_int(t->retry.dont_retry_on, ERRCLASS_BIT(ERR_VALIDATION),
	    "task-level dontRetryOn replaces the inherited one");
	ok(!(t->retry.retry_on & t->retry.dont_retry_on), "sets disjoint");

	t = &wf->tasks[2];
	is_str(t->command, "echo done", "command string");
	ok(t->argv == NULL, "no argv for a string command");
	is_int(t->timeout_ms, 5400000, "timeout 1h30m");
	is_str(t->when, "false", "when: false is the jq program false");

	t = &wf->tasks[3];
	is_int(t->type, TASK_JAVA, "class implies java");
	is_str(t->class_name, "com.example.Report$Main", "class");
	is_str(
	    t->classpath, "lib/a.jar:lib/b.jar", "classpath joined with ':'");
	ok(t->nargs == 2 && !strcmp(t->args[1], "3") && t->args[2] == NULL,
	    "args");
	ok(t->njvm_options == 1 && !strcmp(t->jvm_options[0], "-Xmx256m"),
	    "jvmOptions");
	t = &wf->tasks[4];
	ok(t->args != NULL && t->nargs == 0 && t->args[0] == NULL &&
		t->jvm_options != NULL && t->jvm_options[0] == NULL &&
		t->classpath == NULL,
	    "java lists empty, not NULL");

	j = workflow_to_jv(wf);
	text = dump(jv_copy(j));
	ok(strstr(text, "\"timeout\":\"1h30m\"") != NULL,
	    "canonical durations use duration_format");
	ok(strstr(text, "\"classpath\":\"lib/a.jar:lib/b.jar\"") != NULL,
	    "canonical classpath is a string");
	ok(strstr(text, "\"command\":[\"sh\",\"-c\"") != NULL &&
		strstr(text, "\"command\":\"echo done\"") != NULL,
	    "canonical command as written");
	free(text);
	jv_free(j);
	workflow_free(wf);
	diags_clear(&d);
}

/* ---- jq programs, checked in batches ---------------------------------- */

static void
test_jq(void)
{
	static const struct {
		const char *yaml_value; /* a when: or an input value */
		int when;
		int good;
		/* clang-format off */
	} cases[] = {
		{ "'.a # a comment'", 1, 1 },
		/* bad, in a batch of good ones: it must not hide there */
		{ "'1); def g: (2'", 1, 0 },
		{ "'.params.x == 1 and (.tasks | length) > 0'", 1, 1 },
		{ "'reduce .[] as $x (0; . + $x)'", 1, 1 },
		{ "'def f: 1; f'", 1, 1 },
		{ "'nosuch_function'", 1, 0 },
		{ "'$undefined_var'", 1, 0 },
		{ "'.a # )'", 1, 1 },
		{ "'\"(\"'", 1, 1 },
		{ "\"${{ {a: {b: 1}} }}\"", 0, 1 },
		{ "'${{ \"}}\" }} and more'", 0, 1 },
		{ "'${{ \"\\(.a)\" }}'", 0, 1 },
		{ "'$${{ not an expression'", 0, 1 },
		{ "'x ${{ .a }} y ${{ .b | length }}'", 0, 1 },
		{ "'${{ nosuch }}'", 0, 0 },
		{ "'${{ .a'", 0, 0 },
		{ "'${{ .a ) }}'", 0, 0 },
	};
	/* clang-format on */
	size_t n = sizeof(cases) / sizeof(cases[0]);
	char *y = xstrdup("id: w\ntasks:\n");
	struct diags d;
	struct workflow *wf;
	int line = 3, bad_lines[64], nbad = 0, found;

	/* Filler tasks so the cases spread over several batches. */
	for (size_t i = 0; i < n + 150; i++) {
		char *t;

		if (i % 10 == 0 && i / 10 < n) {
			size_t k = i / 10;

			t = cases[k].when ?
			    xasprintf(
				"%s  - {id: t%zu, command: x, when: %s}\n", y,
				i, cases[k].yaml_value) :
			    xasprintf("%s  - {id: t%zu, command: x, input: {v: "
				      "%s}}\n",
				y, i, cases[k].yaml_value);
			if (!cases[k].good)
				bad_lines[nbad++] = line;
		} else
			t = xasprintf(
			    "%s  - {id: t%zu, command: x, when: "
			    "'.params.n == %zu', input: {v: \"${{ .params.n + "
			    "%zu }}\"}}\n",
			    y, i, i, i);
		free(y);
		y = t;
		line++;
	}
	wf = load(y, &d);
	ok(wf == NULL, "bad jq among many good programs is found");
	is_int(d.n, nbad, "exactly the %d bad programs are reported", nbad);
	for (int k = 0; k < nbad; k++) {
		found = 0;
		for (size_t j = 0; j < d.n; j++)
			if (d.v[j].line == bad_lines[k] &&
			    (strncmp(d.v[j].msg, "bad jq in 'when': ", 18) ==
				    0 ||
				strncmp(d.v[j].msg,
				    "bad template in 'input': ", 25) == 0))
				found = 1;
		ok(found, "bad program on line %d reported", bad_lines[k]);
	}
	if (d.n != (size_t)nbad)
		dump_diags(&d);
	workflow_free(wf);
	diags_clear(&d);
	free(y);

	/* An alias to a bad template is reported once, at the anchor. */
	wf = load("id: w\nx-in: &in {a: \"${{ .x | }}\"}\ntasks:\n"
		  "  - {id: a, command: x, input: *in}\n"
		  "  - {id: b, command: x, input: *in}\n",
	    &d);
	ok(wf == NULL && d.n == 1 && d.v[0].line == 2 && d.v[0].col == 15,
	    "aliased mistake reported once, at its anchor");
	diags_clear(&d);
}

/* ---- files and scale -------------------------------------------------- */

static void
test_files(void)
{
	char path[] = "/tmp/loom-test-wf-XXXXXX";
	int fd = mkstemp(path);
	struct diags d;
	struct workflow *wf;

	ok(fd >= 0 && write(fd, seed, strlen(seed)) == (ssize_t)strlen(seed),
	    "temp file written");
	close(fd);
	diags_init(&d);
	wf = workflow_load_file(path, &d);
	ok(wf != NULL && streq(wf->file, path), "load from a file; file kept");
	workflow_free(wf);
	unlink(path);
	wf = workflow_load_file(path, &d);
	ok(wf == NULL && d.n == 1 && d.v[0].line == 0 &&
		strstr(d.v[0].msg, "cannot open") && streq(d.v[0].file, path),
	    "missing file names the file");
	diags_clear(&d);
	wf = workflow_load_file("/", &d);
	ok(wf == NULL && d.n == 1 && strstr(d.v[0].msg, "directory"),
	    "a directory is refused");
	diags_clear(&d);
}

static void
test_scale(void)
{
	const size_t n = 100000;
	size_t cap = n * 96 + 64, len = 0;
	char *b = xmalloc(cap);
	struct diags d;
	struct workflow *wf;
	struct timespec t0, t1;
	double secs, secs10k;
	size_t len10k = 0;
	unsigned seedv = 12345;

	len += (size_t)sprintf(b + len, "id: big\ntasks:\n");
	for (size_t i = 0; i < n; i++) {
		if (i == n / 10)
			len10k = len; /* the first tenth is a workflow too */
		len += (size_t)sprintf(b + len,
		    "  - id: t%zu\n    command: "
		    "\"true\"\n",
		    i);
		if (i > 0) {
			/* t(i-1) and up to two distinct earlier tasks */
			size_t k = (size_t)rand_r(&seedv) % 3,
			       span = i > 50 ? 50 : i - 1, a, b2;

			len += (size_t)sprintf(
			    b + len, "    dependsOn: [t%zu", i - 1);
			if (k >= 1 && span >= 1) {
				a = i - 2 - (size_t)rand_r(&seedv) % span;
				len += (size_t)sprintf(b + len, ", t%zu", a);
				b2 = i - 2 - (size_t)rand_r(&seedv) % span;
				if (k == 2 && b2 != a)
					len += (size_t)sprintf(
					    b + len, ", t%zu", b2);
			}
			len += (size_t)sprintf(b + len, "]\n");
		}
	}
	diags_init(&d);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	wf = workflow_load_buf("big.yaml", b, len10k, &d);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs10k = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ok(wf != NULL && wf->ntasks == n / 10, "the first 10,000 tasks load");
	workflow_free(wf);
	diags_clear(&d);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	wf = workflow_load_buf("big.yaml", b, len, &d);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# 100,000 tasks (%zu bytes) loaded in %.3f s\n", len, secs);
	/*
	 * Speed is make bench's; here only the growth: ten times the tasks
	 * take about ten times as long, on any machine and under valgrind,
	 * while anything quadratic takes a hundred times.
	 */
	ok(wf != NULL && wf->ntasks == n && wf->dag != NULL && wf->dag->n == n,
	    "100,000-task workflow loads with its DAG");
	ok(secs < 40 * secs10k + 0.5,
	    "100,000 tasks in %.3f s, 10,000 in %.3f s: linear", secs, secs10k);
	if (wf == NULL)
		dump_diags(&d);
	workflow_free(wf);
	diags_clear(&d);

	/* A dangling dependency in a big file still gets its hint quickly. */
	len += (size_t)sprintf(b + len,
	    "  - id: last\n    command: x\n"
	    "    dependsOn: [t9999x]\n");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	wf = workflow_load_buf("big.yaml", b, len, &d);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	ok(wf == NULL && d.n == 1 && strstr(d.v[0].msg, "did you mean 't9999'"),
	    "dangling dependency in a big file, with a hint (%.3f s)", secs);
	if (d.n != 1)
		dump_diags(&d);
	diags_clear(&d);
	free(b);
}

/*
 * What a new workflow may not have (concurrency, a schedule that never
 * fires, a template where none is expanded) a spec stored when it was
 * accepted still has: such a spec keeps loading, so its runs go on.  The
 * canonical form of a new workflow has no concurrency.
 */
static void
test_stored(void)
{
	static const char old[] =
	    "{\"id\":\"old\",\"schedule\":\"0 0 31 2 *\","
	    "\"concurrency\":{\"max\":2,\"policy\":\"cancel-oldest\"},"
	    "\"tasks\":[{\"id\":\"a\",\"type\":\"shell\","
	    "\"command\":\"echo ${{ .params.x }}\","
	    "\"env\":{\"X\":\"${{ .params.x }}\"}}]}";
	struct diags d;
	struct workflow *wf;
	jv j, c;

	diags_init(&d);
	wf = workflow_load_json("stored", old, strlen(old), &d);
	ok(wf != NULL,
	    "a stored spec with the old cancel-oldest, a never-firing "
	    "schedule and shell templates still loads");
	if (wf != NULL) {
		is_int(wf->concurrency_max, 2, "stored concurrency kept");
		j = workflow_to_jv(wf);
		c = jv_object_get(j, jv_string("concurrency"));
		ok(jv_get_kind(c) == JV_KIND_OBJECT,
		    "stored concurrency in its canonical form");
		jv_free(c);
		workflow_free(wf);
	}
	dump_diags(&d);
	diags_clear(&d);

	wf = workflow_load_buf("new.yaml", old, strlen(old), &d);
	ok(wf == NULL && d.n == 4, "the same text applied anew: four errors");
	diags_clear(&d);

	wf = load(seed, &d);
	if (wf != NULL) {
		j = workflow_to_jv(wf);
		ok(!jv_object_has(j, jv_string("concurrency")),
		    "a new workflow's canonical form has no concurrency");
		workflow_free(wf);
	} else
		ok(0, "seed loads");
	diags_clear(&d);
}

int
main(void)
{
	test_seed();
	test_errors();
	test_all_at_once();
	test_alias_bomb();
	test_aliases_ok();
	test_size_cap();
	test_typing();
	test_json_input();
	test_rich();
	test_round_trip();
	test_json_reader();
	test_stored();
	test_jq();
	test_files();
	test_scale();
	return t_done();
}
