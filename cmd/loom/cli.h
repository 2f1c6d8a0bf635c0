/*
 * cli.h: what every `loom` subcommand shares.
 *
 * Each subcommand lives in its own cmd_<name>.c and has the signature
 *     int cmd_<name>(int argc, char **argv);
 * where argv[0] is the subcommand's own name.  It returns one of the exit
 * codes below (documented in loom(1)); it never calls exit() itself.
 */
#ifndef LOOM_CLI_H
#define LOOM_CLI_H

#include <stdio.h>

enum {
	EXIT_OK = 0,		/* it worked; the run succeeded; the file is valid */
	EXIT_FAIL = 1,		/* the thing failed: invalid file, failed run */
	EXIT_USAGE = 2,		/* bad command line */
	EXIT_UNREACHABLE = 3,	/* could not reach loom-api */
	EXIT_NOTFOUND = 4,	/* no such workflow / execution / task */
	EXIT_SYSTEM = 5,	/* an I/O or system error on this machine */
};

enum output_format {
	OUT_TEXT = 0,
	OUT_JSON,
};

/*
 * Parses an -o/--output value ("text", "table", "json").  Returns 0, or -1
 * after printing a usage error.
 */
int cli_parse_output(const char *prog, const char *arg,
    enum output_format *out);

/* Prints "loom CMD: message" to stderr and returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The state directory of `loom up` and `loom db start`: arg, else
 * $LOOM_STATE_DIR, else /var/lib/loom as root, else $XDG_STATE_HOME/loom
 * (~/.local/state/loom).  Returns a malloc'd path.
 */
char *cli_state_dir(const char *arg);

int cmd_validate(int argc, char **argv);
int cmd_graph(int argc, char **argv);
int cmd_cron(int argc, char **argv);
int cmd_db(int argc, char **argv);

#endif
