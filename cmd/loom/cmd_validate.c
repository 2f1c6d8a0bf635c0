/*
 * loom validate: check workflow files offline and report every error.
 *
 *   loom validate [-q] [-o text|json] FILE...
 *
 * Each FILE ("-" is standard input) goes through the same loader the
 * daemons use (lib/core/workflow.c), so a file that passes here is accepted by
 * loom-api.  Text output is one "FILE: ok" line per valid file on stdout
 * and one "FILE:LINE:COL: message" line per error on stderr, the format
 * editors and compilers use.  JSON output is a single document on stdout:
 *   {"valid":bool,"files":[{"file","valid","errors":[{file,line,column,
 *    message}]}]}
 * Exit status: 0 every file is valid, 1 some file is not (or cannot be
 * read), 2 usage.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jv.h>

#include "cli.h"
#include "core/diag.h"
#include "core/workflow.h"
#include "util/workflow_file.h"
#include "util/tzload.h"

static void
validate_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom validate [-q] [-o text|json] FILE...\n"
	    "\n"
	    "Checks workflow files (YAML or JSON; - reads standard input) and\n"
	    "reports every error, as FILE:LINE:COL: message on stderr.\n"
	    "\n"
	    "  -q, --quiet        print nothing for valid files\n"
	    "  -o, --output FMT   text (default) or json: one document\n"
	    "                     {\"valid\", \"files\": [{\"file\", "
	    "\"valid\",\n"
	    "                     \"errors\": [...]}]} on stdout\n"
	    "  -h, --help         this text\n"
	    "\n"
	    "Exit status: 0 all valid, 1 some file is invalid or unreadable,\n"
	    "2 usage.  See loom(1) and loom-workflow(5).\n");
}

int
cmd_validate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quiet", no_argument, NULL, 'q' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum output_format fmt = OUT_TEXT;
	int ch, quiet = 0, all_valid = 1;
	jv files;

	optind = 0; /* reset getopt, including its permutation state */
	opterr = 0; /* errors are reported below, in the house format */
	while ((ch = getopt_long(argc, argv, ":qo:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'q':
			quiet = 1;
			break;
		case 'o':
			if (cli_parse_output("validate", optarg, &fmt) < 0)
				return EXIT_USAGE;
			break;
		case 'h':
			validate_usage(stdout);
			return EXIT_OK;
		case ':':
			return cli_usage_error("validate",
			    "option '%s' needs a value", argv[optind - 1]);
		default:
			if (optopt != 0)
				return cli_usage_error(
				    "validate", "unknown option '-%c'", optopt);
			return cli_usage_error("validate",
			    "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("validate", "no files given");

	files = jv_array();
	for (int i = optind; i < argc; i++) {
		struct diags d;
		struct workflow *wf;
		const char *name =
		    strcmp(argv[i], "-") == 0 ? "<stdin>" : argv[i];

		diags_init(&d);
		wf = cli_load_workflow(argv[i], &d);
		if (wf == NULL)
			all_valid = 0;
		if (fmt == OUT_JSON)
			files = jv_array_append(files,
			    JV_OBJECT(jv_string("file"), jv_string(name),
				jv_string("valid"), jv_bool(wf != NULL),
				jv_string("errors"), diags_to_jv(&d)));
		else if (wf == NULL)
			diags_print(&d, stderr);
		else if (!quiet)
			printf("%s: ok\n", name);
		workflow_free(wf);
		diags_clear(&d);
	}
	if (fmt == OUT_JSON) {
		jv doc = JV_OBJECT(jv_string("valid"), jv_bool(all_valid),
		    jv_string("files"), files);

		jv_dumpf(doc, stdout, JV_PRINT_INDENT_FLAGS(2));
		printf("\n");
	} else
		jv_free(files);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		perror("loom validate: stdout");
		return EXIT_SYSTEM;
	}
	return all_valid ? EXIT_OK : EXIT_FAIL;
}
