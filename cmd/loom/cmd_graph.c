/*
 * loom graph: print a workflow's DAG for Graphviz or Mermaid.
 *
 *   loom graph [-f dot|mermaid] [-o FILE] FILE
 *
 * The file is loaded and validated exactly as by `loom validate`; an
 * invalid file prints the same FILE:LINE:COL errors and exits 1.  Nodes are
 * labelled "id" and "(type)" on two lines, edges go from a dependency to
 * the task that depends on it (the order things run), left to right.
 * Output goes to stdout, or to FILE with -o (written in place; a failure to
 * write is a system error, exit 5).
 *
 *   loom graph wf.yaml | dot -Tsvg > wf.svg
 *   loom graph -f mermaid wf.yaml      (paste into Markdown ```mermaid)
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "core/diag.h"
#include "core/workflow.h"

enum graph_format {
	GRAPH_DOT = 0,
	GRAPH_MERMAID,
};

static void
graph_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom graph [-f dot|mermaid] [-o FILE] FILE\n"
	    "\n"
	    "Prints the task graph of a workflow file (- reads standard\n"
	    "input) as Graphviz DOT (default) or a Mermaid flowchart.\n"
	    "\n"
	    "  -f, --format FMT   dot or mermaid\n"
	    "  -o, --output FILE  write to FILE instead of stdout\n"
	    "  -h, --help         this text\n"
	    "\n"
	    "Example: loom graph wf.yaml | dot -Tsvg > wf.svg\n"
	    "Exit status: 0 ok, 1 invalid file, 2 usage, 5 cannot write.\n"
	    "See loom(1) and loom-workflow(5).\n");
}

/* A DOT double-quoted string. */
static void
dot_quoted(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

static void
print_dot(FILE *fp, const struct workflow *wf)
{
	fputs("digraph ", fp);
	dot_quoted(fp, wf->id);
	fputs(" {\n\trankdir=LR;\n\tnode [shape=box, style=rounded];\n", fp);
	for (size_t i = 0; i < wf->ntasks; i++) {
		const struct task *t = &wf->tasks[i];

		fputc('\t', fp);
		dot_quoted(fp, t->id);
		/* "\n" is DOT's own line break inside a label. */
		fprintf(fp, " [label=\"%s\\n(%s)\"];\n", t->id,
		    task_type_name(t->type));
	}
	for (size_t i = 0; i < wf->ntasks; i++) {
		const struct task *t = &wf->tasks[i];

		for (size_t j = 0; j < t->ndepends; j++) {
			fputc('\t', fp);
			dot_quoted(fp, wf->tasks[t->dep_index[j]].id);
			fputs(" -> ", fp);
			dot_quoted(fp, t->id);
			fputs(";\n", fp);
		}
	}
	fputs("}\n", fp);
}

/*
 * Task ids may hold '.' and '-', which Mermaid reads as edge syntax, and a
 * few words are Mermaid keywords.  When every id is a plain identifier the
 * ids are used as node names (readable output); otherwise every node is
 * named t<index> and the id is only in the label.
 */
static int
mermaid_ids_ok(const struct workflow *wf)
{
	static const char *const reserved[] = { "end", "graph", "subgraph",
		"flowchart", "style", "class", "classDef", "click", "linkStyle",
		"direction", "default" };

	for (size_t i = 0; i < wf->ntasks; i++) {
		const char *id = wf->tasks[i].id;

		for (const char *p = id; *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '_')
				return 0;
		for (size_t k = 0; k < sizeof(reserved) / sizeof(reserved[0]);
		     k++)
			if (strcasecmp(id, reserved[k]) == 0)
				return 0;
	}
	return 1;
}

static void
mermaid_node(FILE *fp, const struct workflow *wf, size_t i, int by_id)
{
	if (by_id)
		fputs(wf->tasks[i].id, fp);
	else
		fprintf(fp, "t%zu", i);
}

static void
print_mermaid(FILE *fp, const struct workflow *wf)
{
	int by_id = mermaid_ids_ok(wf);

	fputs("flowchart LR\n", fp);
	for (size_t i = 0; i < wf->ntasks; i++) {
		fputs("    ", fp);
		mermaid_node(fp, wf, i, by_id);
		/* Ids never hold '"', so the label needs no escaping. */
		fprintf(fp, "[\"%s<br/>(%s)\"]\n", wf->tasks[i].id,
		    task_type_name(wf->tasks[i].type));
	}
	for (size_t i = 0; i < wf->ntasks; i++) {
		const struct task *t = &wf->tasks[i];

		for (size_t j = 0; j < t->ndepends; j++) {
			fputs("    ", fp);
			mermaid_node(fp, wf, t->dep_index[j], by_id);
			fputs(" --> ", fp);
			mermaid_node(fp, wf, i, by_id);
			fputc('\n', fp);
		}
	}
}

/*
 * Parses the options into *fmt and *out (--output, or NULL: stdout).
 * Returns -1 to go on, with optind at the FILE; else the exit code to
 * return (--help, or a usage error already printed).
 */
static int
graph_parse_opts(
    int argc, char **argv, enum graph_format *fmt, const char **out)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	optind = 0; /* reset getopt, including its permutation state */
	opterr = 0; /* errors are reported below, in the house format */
	while ((ch = getopt_long(argc, argv, ":f:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (strcmp(optarg, "dot") == 0)
				*fmt = GRAPH_DOT;
			else if (strcmp(optarg, "mermaid") == 0)
				*fmt = GRAPH_MERMAID;
			else
				return cli_usage_error("graph",
				    "unknown format "
				    "'%s' (expected dot or mermaid)",
				    optarg);
			break;
		case 'o':
			*out = optarg;
			break;
		case 'h':
			graph_usage(stdout);
			return EXIT_OK;
		case ':':
			return cli_usage_error("graph",
			    "option '%s' needs a value", argv[optind - 1]);
		default:
			if (optopt != 0)
				return cli_usage_error(
				    "graph", "unknown option '-%c'", optopt);
			return cli_usage_error(
			    "graph", "unknown option '%s'", argv[optind - 1]);
		}
	}
	return -1;
}

/* Writes wf's graph as fmt to the file out (NULL: stdout). */
static int
graph_write(const struct workflow *wf, enum graph_format fmt, const char *out)
{
	FILE *fp = out != NULL ? fopen(out, "w") : stdout;

	if (fp == NULL) {
		fprintf(stderr, "loom graph: cannot write %s: %s\n", out,
		    strerror(errno));
		return EXIT_SYSTEM;
	}
	if (fmt == GRAPH_MERMAID)
		print_mermaid(fp, wf);
	else
		print_dot(fp, wf);
	if (fp != stdout ? fclose(fp) == EOF :
			   (fflush(fp) == EOF || ferror(fp))) {
		fprintf(stderr, "loom graph: cannot write %s: %s\n",
		    out ? out : "stdout", strerror(errno));
		return EXIT_SYSTEM;
	}
	return EXIT_OK;
}

int
cmd_graph(int argc, char **argv)
{
	enum graph_format fmt = GRAPH_DOT;
	const char *out = NULL;
	struct workflow *wf;
	struct diags d;
	int rc;

	if ((rc = graph_parse_opts(argc, argv, &fmt, &out)) >= 0)
		return rc;
	if (optind >= argc)
		return cli_usage_error("graph", "no file given");
	if (argc - optind > 1)
		return cli_usage_error("graph",
		    "one file at a time ('%s' is "
		    "one too many)",
		    argv[optind + 1]);

	diags_init(&d);
	if ((wf = cli_load_workflow(argv[optind], &d)) == NULL) {
		diags_print(&d, stderr);
		diags_clear(&d);
		return EXIT_FAIL;
	}
	diags_clear(&d);
	rc = graph_write(wf, fmt, out);
	workflow_free(wf);
	return rc;
}
