/*
 * loom: the Link Loom command line.
 *
 * A dispatch table of subcommands; each lives in its own cmd_*.c file and
 * returns an exit code from cli.h.  Offline commands (validate, graph, cron)
 * need nothing but the files they are given.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "util/log.h"

static const struct command {
	const char *name;
	int (*fn)(int, char **);
	const char *summary;
} commands[] = {
	{ "validate", cmd_validate,
	    "check workflow files and report every error" },
	{ "graph", cmd_graph,
	    "print a workflow's DAG as Graphviz DOT or Mermaid" },
	{ "cron", cmd_cron, "show the next fire times of a cron expression" },
	{ "run", cmd_run,
	    "run a workflow here, without a server (JSON lines)" },
	{ "db", cmd_db, "migrate the schema, prune old runs, run the cluster" },
	{ "workflow", cmd_workflow,
	    "apply, list, trigger, pause, delete workflows" },
	{ "execution", cmd_execution,
	    "list executions; show one, or wait for it" },
	{ "up", cmd_up, "run Link Loom here: database, daemons, a sample" },
	{ "status", cmd_status, "database, daemons, queue, open breakers" },
	{ "breaker", cmd_breaker, "list circuit breakers; reset one" },
	{ "token", cmd_token, "create, list and revoke API tokens" },
	{ "task", cmd_task, "run a task of an execution again" },
	{ "dlq", cmd_dlq, "dead letters: list, show, replay, discard" },
	{ "events", cmd_events, "follow events (and a run's log lines) live" },
	/* aliases: no summary, not listed */
	{ "wf", cmd_workflow, NULL },
	{ "exec", cmd_execution, NULL },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void
usage(FILE *fp)
{
	fprintf(fp, "usage: loom COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (commands[i].summary != NULL)
			fprintf(fp, "  %-10s %s\n", commands[i].name,
			    commands[i].summary);
	fprintf(fp, "  %-10s %s\n", "version", "print the version");
	fprintf(fp, "  %-10s %s\n", "help",
	    "this list; 'loom COMMAND --help' "
	    "for one command");
	fprintf(fp, "\nSee loom(1).\n");
}

int
main(int argc, char **argv)
{
	log_init("loom", LOG_LVL_WARN);
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (cli_is_help(argv[1])) {
		if (argc > 2 && strcmp(argv[1], "help") == 0) {
			for (size_t i = 0; i < NCOMMANDS; i++)
				if (strcmp(commands[i].name, argv[2]) == 0) {
					char *hargv[] = { argv[2], "--help",
						NULL };
					return commands[i].fn(2, hargv);
				}
			fprintf(stderr, "loom: no command '%s'\n", argv[2]);
			return EXIT_USAGE;
		}
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("loom %s\n", LOOM_VERSION);
		return EXIT_OK;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, argv[1]) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "loom: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
