/*
 * loom workflow: workflows on a running Link Loom, through loom-api.
 *
 *   loom workflow apply FILE...             create or update workflows
 *   loom workflow list                      every workflow
 *   loom workflow describe ID [--version N] one workflow: metadata, tasks,
 *                                           the definition as submitted
 *   loom workflow trigger ID [--input JSON|@FILE] [--param K=V]...
 *                            [--token TOKEN]
 *                            [--force] [--wait [--timeout DUR]]
 *   loom workflow delete|pause|unpause|history ...  (cmd_workflow_life.c)
 *
 * Every subcommand takes -o text|json and --api URL (cli.c).  Text goes
 * through table.h; JSON is one object per line.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jv.h>

#include "cli.h"
#include "net/client.h"
#include "util/config.h"
#include "core/duration.h"
#include "table.h"
#include "core/xalloc.h"

#define FILE_MAX_BYTES (16u * 1024 * 1024)

/* ---- small helpers ---------------------------------------------------- */

static void
workflow_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom workflow apply FILE...\n"
	    "       loom workflow list\n"
	    "       loom workflow describe ID [--version N]\n"
	    "       loom workflow trigger ID [--input JSON|@FILE] "
	    "[--param K=V]...\n"
	    "                                [--force] [--token TOKEN] "
	    "[--wait [--timeout DUR]]\n"
	    "       loom workflow delete ID [--force]\n"
	    "       loom workflow pause|unpause ID\n"
	    "       loom workflow history ID [--status S] [--since T] "
	    "[--until T]\n"
	    "                                [--limit N] [--cursor C | "
	    "--all]\n"
	    "       loom workflow next ID [-n N]\n"
	    "       loom workflow trigger-token create ID [--name N] "
	    "[--expires DUR]\n"
	    "       loom workflow trigger-token list ID\n"
	    "       loom workflow trigger-token revoke ID TOKENID\n"
	    "       loom workflow backfill ID --from T --to T [--dry-run]\n"
	    "\n"
	    "Every subcommand takes -o text|json and --api URL (default:\n"
	    "$LOOM_API, the config key cli.api, the socket of 'loom up',\n"
	    "then %s).  FILE '-' is standard input.\n"
	    "--param values true, false, null and numbers are JSON, anything\n"
	    "else is a string; they overlay the members of --input.\n"
	    "A paused workflow is triggered only with --force; delete\n"
	    "--force cancels the workflow's live executions first.\n"
	    "trigger --token sends that token instead of $LOOM_TOKEN (a\n"
	    "trigger token of the workflow, say).\n",
	    API_DEFAULT_HTTP);
}

/* Reads a whole file ("-": stdin) into *buf.  0, or -1 with errno. */
static int
read_file(const char *path, char **buf, size_t *len)
{
	FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t cap = 8192, n = 0, r;
	char *p;

	if (fp == NULL)
		return -1;
	p = xmalloc(cap);
	while ((r = fread(p + n, 1, cap - n - 1, fp)) > 0) {
		n += r;
		if (n > FILE_MAX_BYTES) {
			errno = EFBIG;
			goto fail;
		}
		if (cap - n - 1 == 0)
			p = xreallocarray(p, cap *= 2, 1);
	}
	if (ferror(fp))
		goto fail;
	if (fp != stdin)
		fclose(fp);
	p[n] = '\0';
	*buf = p;
	*len = n;
	return 0;
fail:
	free(p);
	if (fp != stdin) {
		int saved = errno;

		fclose(fp);
		errno = saved;
	}
	return -1;
}

/* Member key of o as display text in buf: strings as they are, numbers
 * without a fraction, booleans as yes/no, other values as JSON. */
static const char *
text_of(jv o, const char *key, char *buf, size_t len)
{
	jv v = jv_get_kind(o) == JV_KIND_OBJECT ?
	    jv_object_get(jv_copy(o), jv_string(key)) :
	    jv_invalid();

	buf[0] = '\0';
	switch (jv_get_kind(v)) {
	case JV_KIND_STRING:
		snprintf(buf, len, "%s", jv_string_value(v));
		break;
	case JV_KIND_NUMBER:
		snprintf(buf, len, "%.17g", jv_number_value(v));
		break;
	case JV_KIND_TRUE:
		snprintf(buf, len, "yes");
		break;
	case JV_KIND_FALSE:
		snprintf(buf, len, "no");
		break;
	case JV_KIND_INVALID:
	case JV_KIND_NULL:
		break;
	default: {
		jv s = jv_dump_string(jv_copy(v), 0);

		snprintf(buf, len, "%s", jv_string_value(s));
		jv_free(s);
	}
	}
	jv_free(v);
	return buf;
}

/* ---- apply ------------------------------------------------------------ */

/* Prints a 422's details as FILE:LINE:COL: message, naming the real file. */
static void
print_invalid(const char *file, jv reply)
{
	jv details = jv_getpath(
	    jv_copy(reply), JV_ARRAY(jv_string("error"), jv_string("details")));
	char *msg;
	int n = 0;

	if (jv_get_kind(details) == JV_KIND_ARRAY) {
		jv_array_foreach(details, i, d)
		{
			if (jv_get_kind(d) != JV_KIND_OBJECT) {
				jv_free(d);
				continue;
			}
			jv line = jv_object_get(jv_copy(d), jv_string("line"));
			jv col = jv_object_get(jv_copy(d), jv_string("column"));
			const char *m = cli_str(d, "message");
			int l = jv_get_kind(line) == JV_KIND_NUMBER ?
			    (int)jv_number_value(line) :
			    0;
			int c = jv_get_kind(col) == JV_KIND_NUMBER ?
			    (int)jv_number_value(col) :
			    0;

			if (l > 0 && c > 0)
				fprintf(stderr, "%s:%d:%d: %s\n", file, l, c,
				    m ? m : "invalid");
			else if (l > 0)
				fprintf(stderr, "%s:%d: %s\n", file, l,
				    m ? m : "invalid");
			else
				fprintf(stderr, "%s: %s\n", file,
				    m ? m : "invalid");
			jv_free(line);
			jv_free(col);
			jv_free(d);
			n++;
		}
	}
	jv_free(details);
	if (n == 0) {
		msg = client_error_message(422, reply);
		fprintf(stderr, "%s: %s\n", file, msg);
		free(msg);
	} else
		jv_free(reply);
}

static int
workflow_apply(struct cli_online *o, struct client *c, int nfiles, char **files)
{
	int rc = EXIT_OK;

	for (int i = 0; i < nfiles; i++) {
		const char *name = strcmp(files[i], "-") ? files[i] : "<stdin>";
		char *buf, ver[32];
		size_t len;
		jv reply;
		int st;

		if (read_file(files[i], &buf, &len) < 0) {
			fprintf(stderr, "loom %s: %s: %s\n", o->cmd, name,
			    strerror(errno));
			if (rc == EXIT_OK)
				rc = EXIT_SYSTEM;
			continue;
		}
		st = client_request(c, "POST", "/api/v1/workflows",
		    "application/yaml", buf, len, &reply);
		free(buf);
		if (st == 422) {
			print_invalid(name, reply);
			if (rc == EXIT_OK)
				rc = EXIT_FAIL;
			continue;
		}
		if (st != 200 && st != 201) {
			int e = cli_api_fail(o, c, st, reply);

			if (e == EXIT_UNREACHABLE)
				return e;
			if (rc == EXIT_OK)
				rc = e;
			continue;
		}
		if (o->fmt == OUT_JSON) {
			json_print(stdout,
			    jv_object_set(
				reply, jv_string("file"), jv_string(name)));
			continue;
		}
		printf("%s: version %s (%s)\n", cli_str_or(reply, "id", "?"),
		    text_of(reply, "version", ver, sizeof(ver)),
		    cli_true(reply, "created") ? "created" : "unchanged");
		jv_free(reply);
	}
	return rc;
}

/* ---- list ------------------------------------------------------------- */

static int
workflow_list(struct cli_online *o, struct client *c)
{
	struct table *t;
	jv reply, list;
	int st;

	st = client_json(c, "GET", "/api/v1/workflows", jv_invalid(), &reply);
	if (st != 200)
		return cli_api_fail(o, c, st, reply);
	list = jv_object_get(reply, jv_string("workflows"));
	if (jv_get_kind(list) != JV_KIND_ARRAY) {
		jv_free(list);
		fprintf(stderr, "loom %s: unexpected reply from loom-api\n",
		    o->cmd);
		return EXIT_FAIL;
	}
	if (o->fmt == OUT_JSON) {
		json_print_lines(stdout, list);
		return EXIT_OK;
	}
	t = table_new(7, "ID", "NAME", "VERSION", "TASKS", "SCHEDULE", "PAUSED",
	    "UPDATED");
	jv_array_foreach(list, i, w)
	{
		char ver[32], tasks[32], paused[8], upd[32];

		table_add(t, cli_str(w, "id"), cli_str(w, "name"),
		    text_of(w, "version", ver, sizeof(ver)),
		    text_of(w, "taskCount", tasks, sizeof(tasks)),
		    cli_str(w, "schedule"),
		    text_of(w, "paused", paused, sizeof(paused)),
		    cli_time_text(w, "updatedAt", upd, sizeof(upd)));
		jv_free(w);
	}
	jv_free(list);
	table_print(t, stdout, table_aligned(o->text_asked));
	if (table_rows(t) == 0 && table_aligned(o->text_asked))
		fprintf(stderr,
		    "no workflows yet: add one with 'loom "
		    "workflow apply FILE'\n");
	table_free(t);
	return EXIT_OK;
}

/* ---- describe --------------------------------------------------------- */

/* What a task runs, in a few words: "POST http://...", "sh -c ...". */
static char *
task_target(jv task)
{
	const char *type = cli_str(task, "type");
	jv cmd;
	char *out;

	if (type == NULL)
		return xstrdup("");
	if (strcmp(type, "http") == 0)
		return xasprintf("%s %s", cli_str_or(task, "method", "POST"),
		    cli_str_or(task, "url", ""));
	if (strcmp(type, "java") == 0)
		return xstrdup(cli_str_or(task, "class", ""));
	cmd = jv_object_get(jv_copy(task), jv_string("command"));
	if (jv_get_kind(cmd) == JV_KIND_STRING)
		out = xstrdup(jv_string_value(cmd));
	else if (jv_get_kind(cmd) == JV_KIND_ARRAY) {
		jv s = jv_array_length(jv_copy(cmd)) > 0 ?
		    jv_dump_string(jv_copy(cmd), 0) :
		    jv_string("");

		out = xstrdup(jv_string_value(s));
		jv_free(s);
	} else
		out = xstrdup("");
	jv_free(cmd);
	return out;
}

static char *
task_deps(jv task)
{
	jv deps = jv_object_get(jv_copy(task), jv_string("dependsOn"));
	char *out = xstrdup("");

	if (jv_get_kind(deps) == JV_KIND_ARRAY) {
		jv_array_foreach(deps, i, d)
		{
			if (jv_get_kind(d) == JV_KIND_STRING) {
				char *n = xasprintf("%s%s%s", out,
				    *out ? "," : "", jv_string_value(d));

				free(out);
				out = n;
			}
			jv_free(d);
		}
	}
	jv_free(deps);
	return out;
}

static void
print_workflow(struct cli_online *o, jv w)
{
	jv spec = jv_object_get(jv_copy(w), jv_string("spec"));
	jv tasks = jv_object_get(jv_copy(spec), jv_string("tasks"));
	const char *def = cli_str(w, "definition"), *sched, *tz, *name;
	char buf[64];
	struct table *t;

	/* A version's object has no metadata of its own: take the spec's. */
	name = cli_str(w, "name") ? cli_str(w, "name") : cli_str(spec, "name");
	sched = cli_str(w, "schedule") ? cli_str(w, "schedule") :
					 cli_str(spec, "schedule");
	tz = cli_str(w, "timezone") ? cli_str(w, "timezone") :
				      cli_str(spec, "timezone");
	printf("ID:        %s\n", cli_str_or(w, "id", "?"));
	printf("Name:      %s\n", name ? name : "-");
	printf("Version:   %s\n", text_of(w, "version", buf, sizeof(buf)));
	if (sched)
		printf("Schedule:  %s (%s)\n", sched, tz ? tz : "UTC");
	else
		printf("Schedule:  - (manual and API triggers only)\n");
	if (cli_str(spec, "description"))
		printf("About:     %s\n", cli_str(spec, "description"));
	if (cli_true(w, "paused"))
		printf("Paused:    yes\n");
	printf(
	    "Created:   %s\n", cli_time_text(w, "createdAt", buf, sizeof(buf)));
	if (cli_str(w, "updatedAt"))
		printf("Updated:   %s\n",
		    cli_time_text(w, "updatedAt", buf, sizeof(buf)));
	{
		jv params = jv_object_get(jv_copy(spec), jv_string("params"));

		if (jv_get_kind(params) == JV_KIND_OBJECT &&
		    jv_object_length(jv_copy(params)) > 0) {
			jv s = jv_dump_string(jv_copy(params), 0);

			printf("Params:    %s\n", jv_string_value(s));
			jv_free(s);
		}
		jv_free(params);
	}

	printf("\nTasks:\n");
	t = table_new(4, "TASK", "TYPE", "DEPENDS ON", "RUNS");
	if (jv_get_kind(tasks) == JV_KIND_ARRAY) {
		jv_array_foreach(tasks, i, task)
		{
			char *deps = task_deps(task),
			     *target = task_target(task);

			table_add(t, cli_str(task, "id"), cli_str(task, "type"),
			    deps, target);
			free(deps);
			free(target);
			jv_free(task);
		}
	}
	table_print(t, stdout, table_aligned(o->text_asked));
	table_free(t);

	if (def) {
		printf("\nDefinition:\n");
		for (const char *p = def; *p;) {
			size_t n = strcspn(p, "\n");

			printf("%s%.*s\n", n ? "  " : "", (int)n, p);
			p += n;
			if (*p == '\n')
				p++;
		}
	}
	jv_free(tasks);
	jv_free(spec);
	jv_free(w);
}

static int
workflow_describe(
    struct cli_online *o, struct client *c, const char *id, const char *version)
{
	char *eid = client_escape(id), *path;
	jv reply;
	int st;

	if (version)
		path =
		    xasprintf("/api/v1/workflows/%s/versions/%s", eid, version);
	else
		path = xasprintf("/api/v1/workflows/%s", eid);
	free(eid);
	st = client_json(c, "GET", path, jv_invalid(), &reply);
	free(path);
	if (st != 200)
		return cli_api_fail(o, c, st, reply);
	if (o->fmt == OUT_JSON)
		json_print(stdout, reply);
	else
		print_workflow(o, reply);
	return EXIT_OK;
}

/* ---- trigger ---------------------------------------------------------- */

/* Whether s is exactly a JSON number. */
static int
is_json_number(const char *s)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return 0;
	if (*p == '.') {
		if (!(*++p >= '0' && *p <= '9'))
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

/* A --param value: true/false/null and numbers are JSON, else a string. */
static jv
param_value(const char *s)
{
	if (strcmp(s, "true") == 0)
		return jv_true();
	if (strcmp(s, "false") == 0)
		return jv_false();
	if (strcmp(s, "null") == 0)
		return jv_null();
	if (is_json_number(s))
		return jv_number(strtod(s, NULL));
	return jv_string(s);
}

/* --input JSON or @FILE: an object, or jv_invalid_with_msg. */
static jv
parse_input(const char *arg)
{
	char *buf = NULL;
	size_t len;
	jv v;

	if (arg[0] == '@') {
		if (read_file(arg + 1, &buf, &len) < 0)
			return jv_invalid_with_msg(
			    jv_string_fmt("%s: %s", arg + 1, strerror(errno)));
		v = jv_parse_sized(buf, (int)len);
		free(buf);
	} else
		v = jv_parse(arg);
	if (!jv_is_valid(v)) {
		jv msg = jv_invalid_get_msg(v);
		jv out = jv_invalid_with_msg(jv_string_fmt("--input is not "
							   "JSON: %s",
		    jv_get_kind(msg) == JV_KIND_STRING ? jv_string_value(msg) :
							 "parse error"));

		jv_free(msg);
		return out;
	}
	if (jv_get_kind(v) != JV_KIND_OBJECT) {
		jv_free(v);
		return jv_invalid_with_msg(jv_string("--input must be a JSON "
						     "object"));
	}
	return v;
}

static int
workflow_trigger(struct cli_online *o, struct client *c, const char *id,
    jv input, int force, int wait, int64_t timeout_ms)
{
	char *eid = client_escape(id), *path, *xid;
	jv reply, body = jv_invalid(), exec;
	int st, rc;

	if (jv_is_valid(input))
		body = JV_OBJECT(jv_string("input"), input);
	else
		jv_free(input);
	path = xasprintf(
	    "/api/v1/workflows/%s/trigger%s", eid, force ? "?force=true" : "");
	free(eid);
	st = client_json(c, "POST", path, body, &reply);
	free(path);
	if (st != 201 && st != 200)
		return cli_api_fail(o, c, st, reply);
	if (cli_str(reply, "executionId") == NULL) {
		jv_free(reply);
		fprintf(stderr, "loom %s: unexpected reply from loom-api\n",
		    o->cmd);
		return EXIT_FAIL;
	}
	if (!wait) {
		if (o->fmt == OUT_JSON)
			json_print(stdout, reply);
		else {
			printf("%s\n", cli_str(reply, "executionId"));
			jv_free(reply);
		}
		return EXIT_OK;
	}
	xid = xstrdup(cli_str(reply, "executionId"));
	jv_free(reply);
	if (o->fmt == OUT_TEXT) {
		printf("%s\n", xid);
		fflush(stdout);
	}
	rc = cli_execution_wait(o, c, xid, timeout_ms, &exec);
	free(xid);
	if (rc != EXIT_OK)
		return rc;
	if (o->fmt == OUT_TEXT)
		printf("\n");
	return cli_execution_print(o, exec);
}

/* ---- dispatch --------------------------------------------------------- */

/* The options of apply, list, describe and trigger; cmd_workflow() owns
 * the two jv members. */
struct workflow_cmd_opts {
	const char *version; /* --version N (describe), or NULL */
	jv input;	     /* --input (trigger), or jv_invalid() */
	jv params;	     /* --param NAME=VALUE... (trigger): an object */
	const char *token;   /* --token (trigger), or NULL */
	int64_t timeout_ms;  /* --timeout (with --wait) */
	int timeout_set, wait, force;
};

/* --param NAME=VALUE into w->params; -1 after a usage error. */
static int
workflow_add_param(
    const struct cli_online *o, struct workflow_cmd_opts *w, const char *arg)
{
	const char *eq = strchr(arg, '=');

	if (eq == NULL || eq == arg) {
		cli_usage_error(
		    o->cmd, "bad --param '%s' (expected NAME=VALUE)", arg);
		return -1;
	}
	w->params = jv_object_set(w->params,
	    jv_string_sized(arg, (int)(eq - arg)), param_value(eq + 1));
	return 0;
}

/*
 * Parses the options after the subcommand (argv[0]) into o and w.
 * Returns -1 to go on, else the exit code to return (--help, or a usage
 * error already printed).
 */
static int
workflow_parse_opts(
    int argc, char **argv, struct cli_online *o, struct workflow_cmd_opts *w)
{
	static const struct option opts[] = {
		CLI_ONLINE_OPTIONS,
		{ "version", required_argument, NULL, 'V' },
		{ "input", required_argument, NULL, 'i' },
		{ "param", required_argument, NULL, 'p' },
		{ "wait", no_argument, NULL, 'w' },
		{ "timeout", required_argument, NULL, 't' },
		{ "force", no_argument, NULL, 'f' },
		{ "token", required_argument, NULL, 'T' },
		{ NULL, 0, NULL, 0 },
	};
	const char *derr;
	int ch, r;

	optind = 0; /* a fresh scan; argv[0] is the subcommand */
	while ((ch = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		if ((r = cli_online_opt(o, ch, optarg)) < 0)
			return EXIT_USAGE;
		if (r > 0)
			continue;
		switch (ch) {
		case 'h':
			workflow_usage(stdout);
			return EXIT_OK;
		case 'V':
			if (!is_json_number(optarg) || atoi(optarg) < 1)
				return cli_usage_error(o->cmd,
				    "bad --version "
				    "'%s'",
				    optarg);
			w->version = optarg;
			break;
		case 'i':
			jv_free(w->input);
			w->input = parse_input(optarg);
			if (!jv_is_valid(w->input)) {
				jv msg = jv_invalid_get_msg(w->input);

				cli_usage_error(
				    o->cmd, "%s", jv_string_value(msg));
				jv_free(msg);
				w->input = jv_invalid();
				return EXIT_USAGE;
			}
			break;
		case 'p':
			if (workflow_add_param(o, w, optarg) < 0)
				return EXIT_USAGE;
			break;
		case 'w':
			w->wait = 1;
			break;
		case 'f':
			w->force = 1;
			break;
		case 'T':
			w->token = optarg;
			break;
		case 't':
			if (duration_parse(optarg, &w->timeout_ms, &derr) < 0)
				return cli_usage_error(o->cmd,
				    "bad --timeout "
				    "'%s': %s",
				    optarg, derr);
			w->timeout_set = 1;
			break;
		default:
			return cli_usage_error(o->cmd, "bad option");
		}
	}
	return -1;
}

/* Which options and how many operands each subcommand takes: 0, or -1
 * after a usage error. */
static int
workflow_check_args(const char *sub, int argc, const struct cli_online *o,
    const struct workflow_cmd_opts *w)
{
	if (strcmp(sub, "describe") && w->version) {
		cli_usage_error(o->cmd, "--version is for 'describe'");
		return -1;
	}
	if (strcmp(sub, "trigger") &&
	    (jv_is_valid(w->input) ||
		jv_object_length(jv_copy(w->params)) > 0 || w->wait ||
		w->timeout_set || w->force || w->token)) {
		cli_usage_error(o->cmd,
		    "--input, --param, --force, --token, --wait and "
		    "--timeout are for 'trigger'");
		return -1;
	}
	if (w->timeout_set && !w->wait) {
		cli_usage_error(o->cmd, "--timeout needs --wait");
		return -1;
	}
	if (!strcmp(sub, "apply")    ? argc < 1 :
		!strcmp(sub, "list") ? argc != 0 :
				       argc != 1) {
		cli_usage_error(o->cmd,
		    !strcmp(sub, "apply")    ? "no FILE given" :
			!strcmp(sub, "list") ? "no operands expected" :
			argc == 0	     ? "missing workflow ID" :
					       "one workflow ID only");
		return -1;
	}
	return 0;
}

/* Runs subcommand sub on its operands; takes w->input.  The exit code. */
static int
workflow_run(struct cli_online *o, struct client *c, const char *sub, int argc,
    char **argv, struct workflow_cmd_opts *w)
{
	jv input = w->input;

	if (!strcmp(sub, "apply"))
		return workflow_apply(o, c, argc, argv);
	if (!strcmp(sub, "list"))
		return workflow_list(o, c);
	if (!strcmp(sub, "describe"))
		return workflow_describe(o, c, argv[0], w->version);
	w->input = jv_invalid();
	/* --param entries overlay --input's members. */
	if (jv_object_length(jv_copy(w->params)) > 0)
		input =
		    jv_object_merge(jv_is_valid(input) ? input : jv_object(),
			jv_copy(w->params));
	return workflow_trigger(
	    o, c, argv[0], input, w->force, w->wait, w->timeout_ms);
}

int
cmd_workflow(int argc, char **argv)
{
	struct cli_online o = { "workflow", NULL, OUT_TEXT, 0 };
	struct workflow_cmd_opts w;
	struct client *c = NULL;
	const char *sub;
	char cmdname[64];
	int rc;

	if (argc < 2)
		return cli_usage_error("workflow",
		    "missing subcommand "
		    "(apply, list, describe, trigger, delete, pause, unpause, "
		    "history, backfill, next, trigger-token)");
	sub = argv[1];
	if (cli_is_help(sub)) {
		workflow_usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(sub, "delete") || !strcmp(sub, "pause") ||
	    !strcmp(sub, "unpause") || !strcmp(sub, "history"))
		return cli_workflow_lifecycle(
		    argc, argv); /* cmd_workflow_life.c */
	if (!strcmp(sub, "backfill"))
		return cli_workflow_backfill(argc, argv);
	if (!strcmp(sub, "next") || !strcmp(sub, "trigger-token"))
		return cli_workflow_sched(
		    argc, argv); /* cmd_workflow_sched.c */
	if (strcmp(sub, "apply") && strcmp(sub, "list") &&
	    strcmp(sub, "describe") && strcmp(sub, "trigger"))
		return cli_usage_error(
		    "workflow", "unknown subcommand '%s'", sub);
	snprintf(cmdname, sizeof(cmdname), "workflow %s", sub);
	o.cmd = cmdname;

	memset(&w, 0, sizeof(w));
	w.input = jv_invalid();
	w.params = jv_object();
	if ((rc = workflow_parse_opts(argc - 1, argv + 1, &o, &w)) >= 0)
		goto out;
	argc -= optind + 1;
	argv += optind + 1;
	rc = EXIT_USAGE;
	if (workflow_check_args(sub, argc, &o, &w) < 0)
		goto out;
	if ((c = cli_api_client(&o, &rc)) == NULL)
		goto out;
	/* --token: this call's token, over $LOOM_TOKEN and cli.token */
	if (w.token != NULL && client_set_token(c, w.token) < 0) {
		rc = cli_usage_error(
		    o.cmd, "the --token holds spaces or control characters");
		goto out;
	}
	rc = workflow_run(&o, c, sub, argc, argv, &w);
out:
	jv_free(w.input);
	jv_free(w.params);
	client_free(c);
	return rc;
}
