/*
 * loom run: run a whole workflow in this process, with no database.
 *
 *   loom run FILE [--input JSON | --input @FILE] [--param K=V ...] [-q]
 *
 * Events are printed as JSON lines on stdout (see localrun.h); the exit
 * status is the run's result: 0 SUCCESS, 1 FAILED or CANCELLED, 2 usage.
 * Meant for CI jobs and for trying a workflow before applying it.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jv.h>

#include "cli.h"
#include "core/diag.h"
#include "localrun.h"
#include "core/state.h"
#include "core/workflow.h"
#include "util/workflow_file.h"
#include "util/tzload.h"
#include "util/config.h"
#include "run/runner.h"

static void
run_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom run FILE [--input JSON|@FILE] [--param KEY=VALUE]... "
	    "[-q]\n"
	    "\n"
	    "Runs FILE's workflow here, without a server: the same engine and\n"
	    "runners as loom-engine and loom-exec.  Prints every state change\n"
	    "as a JSON line.  Exit status 0 when the run succeeded, 1 when it\n"
	    "failed or was cancelled (Ctrl-C cancels), 2 for usage errors.\n"
	    "\n"
	    "  --input JSON   the run's input (params), an object; @FILE reads "
	    "it\n"
	    "  --param K=V    one param; V is JSON if it parses, else a "
	    "string\n"
	    "  -q, --quiet    leave out the output lines of shell/java "
	    "tasks\n");
}

/* --input JSON|@FILE: its members into *input.  -1 after a usage error. */
static int
run_add_input(jv *input, const char *arg)
{
	jv v = cli_read_json_arg(arg);

	if (jv_get_kind(v) != JV_KIND_OBJECT) {
		jv_free(v);
		cli_usage_error("run",
		    "--input must be a JSON object (or "
		    "@FILE holding one)");
		return -1;
	}
	jv_object_foreach(v, k, val) *input = jv_object_set(*input, k, val);
	jv_free(v);
	return 0;
}

/* --param KEY=VALUE into *input.  -1 after a usage error. */
static int
run_add_param(jv *input, const char *arg)
{
	const char *eq = strchr(arg, '=');
	jv v;

	if (eq == NULL || eq == arg) {
		cli_usage_error(
		    "run", "--param wants KEY=VALUE, got '%s'", arg);
		return -1;
	}
	v = jv_parse(eq + 1);
	if (!jv_is_valid(v)) {
		jv_free(v);
		v = jv_string(eq + 1);
	}
	*input =
	    jv_object_set(*input, jv_string_sized(arg, (int)(eq - arg)), v);
	return 0;
}

/*
 * Parses the options into *input (the run's params) and lo.  Returns -1
 * to go on, with optind at the FILE; else the exit code to return
 * (--help, or a usage error already printed).
 */
static int
run_parse_opts(int argc, char **argv, jv *input, struct localrun_opts *lo)
{
	static const struct option opts[] = {
		{ "input", required_argument, NULL, 'i' },
		{ "param", required_argument, NULL, 'p' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
		switch (ch) {
		case 'i':
			if (run_add_input(input, optarg) < 0)
				return EXIT_USAGE;
			break;
		case 'p':
			if (run_add_param(input, optarg) < 0)
				return EXIT_USAGE;
			break;
		case 'q':
			lo->quiet_logs = 1;
			break;
		case 'h':
			run_usage(stdout);
			return EXIT_OK;
		default:
			return cli_usage_error("run", "bad option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("run", "expected one workflow FILE");
	return -1;
}

/* Loads the workflow in path and runs it on input (consumed). */
static int
run_file(const char *path, jv input, struct localrun_opts *lo)
{
	static const struct workflow_opts zones = { tzload_known };
	struct workflow *wf;
	struct diags d;
	char *err = NULL;
	int st;

	diags_init(&d);
	wf = workflow_load_file_opts(path, &zones, &d);
	if (wf == NULL) {
		diags_print(&d, stderr);
		diags_clear(&d);
		jv_free(input);
		return EXIT_FAIL;
	}
	diags_clear(&d);
	/* No configuration file here, but the variable that overrides
	 * exec.pass_env: tasks get what loom-exec would give them. */
	lo->pass_env = config_get(NULL, "exec.pass_env", NULL);
	if (runner_pass_env_check(lo->pass_env, &err) < 0) {
		fprintf(stderr, "loom run: LOOM_EXEC_PASS_ENV: %s\n", err);
		free(err);
		workflow_free(wf);
		jv_free(input);
		return EXIT_FAIL;
	}
	st = localrun(wf, input, lo, &err);
	workflow_free(wf);
	if (st < 0) {
		fprintf(stderr, "loom run: %s\n", err);
		free(err);
		return EXIT_FAIL;
	}
	return st == RUN_SUCCESS ? EXIT_OK : EXIT_FAIL;
}

int
cmd_run(int argc, char **argv)
{
	struct localrun_opts lo = { .out = stdout };
	jv input = jv_object();
	int rc;

	if ((rc = run_parse_opts(argc, argv, &input, &lo)) >= 0) {
		jv_free(input);
		return rc;
	}
	return run_file(argv[optind], input, &lo);
}
