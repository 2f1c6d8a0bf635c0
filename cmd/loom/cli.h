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

#include <stdint.h>
#include <stdio.h>

#include <jv.h>

enum {
	EXIT_OK = 0,	/* it worked; the run succeeded; the file is valid */
	EXIT_FAIL = 1,	/* the thing failed: invalid file, failed run */
	EXIT_USAGE = 2, /* bad command line */
	EXIT_UNREACHABLE = 3, /* could not reach loom-api */
	EXIT_NOTFOUND = 4,    /* no such workflow / execution / task */
	EXIT_SYSTEM = 5,      /* an I/O or system error on this machine */
};

/* Where the online commands look for loom-api when nothing says (loom(1)). */
#define API_DEFAULT_HTTP "http://127.0.0.1:8080"

enum output_format {
	OUT_TEXT = 0,
	OUT_JSON,
};

/*
 * Parses an -o/--output value ("text", "table", "json").  Returns 0, or -1
 * after printing a usage error.
 */
int cli_parse_output(
    const char *prog, const char *arg, enum output_format *out);

/* Whether a subcommand word asks for help: "-h", "--help" or "help". */
int cli_is_help(const char *arg);

/* Prints "loom CMD: message" to stderr and returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * The state directory of `loom up` and `loom db start`: arg, else
 * $LOOM_STATE_DIR, else /var/lib/loom as root, else $XDG_STATE_HOME/loom
 * (~/.local/state/loom).  Returns a malloc'd path.
 */
char *cli_state_dir(const char *arg);

/* "@file" reads JSON from a file, anything else is JSON text. */
#include <jv.h>
jv cli_read_json_arg(const char *arg);

/*
 * Loads a workflow FILE argument for validate/graph: "-" reads standard
 * input (named "<stdin>" in messages).  NULL with every error in d.
 */
struct workflow;
struct diags;
struct workflow *cli_load_workflow(const char *arg, struct diags *d);

/*
 * Reading API objects (apitext.c): a string member (NULL when missing or
 * not a string; valid while o lives; cli_str_or() gives def instead of
 * NULL), a number member (def when missing), whether a member is true,
 * the terminal run states, and ISO 8601 UTC times to ms since the epoch
 * (-1).
 */
const char *cli_str(jv o, const char *key);
const char *cli_str_or(jv o, const char *key, const char *def);
long cli_num(jv o, const char *key, long def);
int cli_true(jv o, const char *key);
int cli_run_terminal(const char *status);
int64_t cli_iso_ms(const char *s);

/*
 * Writing them for people (apitext.c), into buf, which is returned:
 * cli_ms_text() a duration ("850ms", "4.2s", "3m07s", "2h05m", "-" when
 * negative), cli_num_text() a number member ("" when missing; whole
 * numbers without a fraction), cli_span_text() the time from member from
 * to member to, cli_time_text() "2026-11-26T04:05:06.123Z" as
 * "2026-11-26 04:05:06" ("" when missing).  cli_error_text() is "Type:
 * message" of an error object member, or the member when it is a string,
 * malloc'd; NULL when missing.
 */
const char *cli_ms_text(int64_t ms, char *buf, size_t len);
const char *cli_num_text(jv o, const char *key, char *buf, size_t len);
const char *cli_span_text(
    jv o, const char *from, const char *to, char *buf, size_t len);
const char *cli_time_text(jv o, const char *key, char *buf, size_t len);
char *cli_error_text(jv o, const char *key);

int cmd_validate(int argc, char **argv);
int cmd_graph(int argc, char **argv);
int cmd_cron(int argc, char **argv);
int cmd_db(int argc, char **argv);
/* cmd_db_prune.c: `loom db prune` on the database at url. */
int db_prune_cmd(const char *url, const char *older, const char *workflow,
    int dry_run, enum output_format fmt);
int cmd_run(int argc, char **argv);
int cmd_workflow(int argc, char **argv);
int cmd_execution(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_status(int argc, char **argv);	/* cmd_status.c */
int cmd_breaker(int argc, char **argv); /* cmd_status.c */
/* status_procs.c: this host's daemons, from their control sockets */
jv status_processes(void);
void status_processes_print(jv procs); /* procs consumed */
int cmd_token(int argc, char **argv);  /* cmd_token.c */
int cmd_events(int argc, char **argv); /* cmd_events.c */
/* `loom execution logs`: argv[0] is "logs" (cmd_execution_logs.c). */
int cmd_execution_logs(int argc, char **argv);
/*
 * cmd_events.c, for cmd_execution_logs.c: one log line as text; a stream
 * printed until it ends (events: print events too), returning the exit
 * status.
 */
struct client;
struct cli_online;
void events_print_log(jv o, int with_execution);
int events_follow(
    const struct cli_online *o, struct client *c, const char *path, int events);
int cmd_task(int argc, char **argv); /* cmd_task.c */
int cmd_dlq(int argc, char **argv);  /* cmd_dlq.c */

/*
 * Online commands (cmd_workflow.c, cmd_execution.c, ...) talk to loom-api
 * through lib/net/client.h and share these options and helpers, defined in
 * cli.c.  CLI_ONLINE_OPTIONS goes into a getopt_long() table
 * (needs <getopt.h>); cli_online_opt() handles what it returns.
 */
struct client;

struct cli_online {
	const char *cmd; /* "workflow list", for messages */
	const char *api; /* --api, or NULL */
	enum output_format fmt;
	int text_asked; /* -o text was given: aligned tables */
};

#define CLI_ONLINE_OPTIONS \
	{ "output", required_argument, NULL, 'o' }, \
	    { "api", required_argument, NULL, 'A' }, \
	{ \
		"help", no_argument, NULL, 'h' \
	}

/* 1 when ch was -o or --api (handled), 0 when not, -1 after a usage error. */
int cli_online_opt(struct cli_online *o, int ch, const char *arg);

/*
 * The loom-api address: arg, else $LOOM_API, else the config key cli.api,
 * else unix:STATEDIR/run/api.sock when that socket exists, else
 * http://127.0.0.1:8080.  Returns a malloc'd string, or NULL after
 * printing why (a broken config file).
 */
char *cli_api_address(const char *arg);

/*
 * A client for o->api (resolved as above); NULL after printing why, with
 * *rc the exit code (EXIT_USAGE for a malformed address).
 */
struct client *cli_api_client(const struct cli_online *o, int *rc);

/*
 * Gives c the bearer token of $LOOM_TOKEN, else of the config key
 * cli.token (none: nothing is sent).  Returns 0, or -1 after printing
 * why (a malformed token).  cmd_token.c.
 */
int cli_api_auth(struct client *c, const char *cmd);

/*
 * Reports a failed call (client_request() returned -1, or an HTTP error
 * status) as "loom CMD: message" and returns the exit code:
 * EXIT_UNREACHABLE, EXIT_NOTFOUND for 404, else EXIT_FAIL.  Consumes reply.
 */
int cli_api_fail(
    const struct cli_online *o, const struct client *c, int status, jv reply);

/*
 * Executions (cmd_execution.c).  cli_execution_wait() long-polls
 * GET /api/v1/executions/ID?wait= until the run is terminal or timeout_ms
 * (0: no limit) passed; the server does the waiting.  Returns EXIT_OK with
 * *exec the latest execution object (terminal unless timed out), or an
 * exit code after reporting the failure.
 */
int cli_execution_wait(const struct cli_online *o, struct client *c,
    const char *id, int64_t timeout_ms, jv *exec);
/* Prints an execution object as text (header + task table) or JSON;
 * returns 0 for SUCCESS, EXIT_FAIL for another terminal status or a run
 * that is not finished.  Consumes exec. */
int cli_execution_print(const struct cli_online *o, jv exec);

/*
 * Run controls (cmd_task.c).  cli_execution_control() is `loom execution
 * cancel|retry`, called by cmd_execution() with its own argc/argv.
 * cli_control_done() reports loom-api's 202 answer to a retry, rerun or
 * dead-letter replay (reply, consumed: the execution with its "request")
 * as "ID: running again: TASKS" or JSON, then with wait follows the run
 * to its end and prints it; returns the exit code (as cli_execution_print
 * when waiting).
 */
int cli_execution_control(int argc, char **argv);
int cli_control_done(const struct cli_online *o, struct client *c,
    const char *what, jv reply, int wait, int64_t timeout_ms);

/*
 * `loom workflow delete|pause|unpause|history` (cmd_workflow_life.c),
 * called by cmd_workflow() with its own argc/argv.
 */
int cli_workflow_lifecycle(int argc, char **argv);
/* loom workflow backfill (cmd_workflow_backfill.c) */
int cli_workflow_backfill(int argc, char **argv);

/*
 * `loom workflow next` and `loom workflow trigger-token`
 * (cmd_workflow_sched.c), called by cmd_workflow() with its own
 * argc/argv.
 */
int cli_workflow_sched(int argc, char **argv);

/*
 * How `loom token` prints tokens (cmd_token.c), shared with `loom
 * workflow trigger-token`: a list (consumed) as a table or JSON lines, a
 * new token (consumed: the token alone on stdout, the rest on stderr) and
 * a revoked one.
 */
void cli_token_print_list(const struct cli_online *o, jv list);
void cli_token_print_created(const struct cli_online *o, jv tok);
void cli_token_print_revoked(const struct cli_online *o, jv tok);

/*
 * Paged lists of executions (execlist.c): `loom execution list` and
 * `loom workflow history`.  CLI_LIST_OPTIONS goes into a getopt_long()
 * table (with "n:" in the short options); cli_list_opt() handles what it
 * returns: 1 when it was one of them, 0 when not, -1 after a usage error.
 */
struct cli_list_query {
	const char *workflow; /* ?workflow= (execution list), or NULL */
	char status[16];      /* upper-cased --status, or "" */
	const char *since, *until, *cursor;
	int limit; /* page size; 0: the server's (50) */
	int all;   /* follow nextCursor to the last page */
};

#define CLI_LIST_OPTIONS \
	{ "status", required_argument, NULL, 's' }, \
	    { "limit", required_argument, NULL, 'n' }, \
	    { "since", required_argument, NULL, 'S' }, \
	    { "until", required_argument, NULL, 'U' }, \
	    { "cursor", required_argument, NULL, 'C' }, \
	{ \
		"all", no_argument, NULL, 'a' \
	}

int cli_list_opt(
    struct cli_list_query *q, const char *cmd, int ch, const char *arg);
/* Whether any list option was given (for "only for list" checks). */
int cli_list_query_set(const struct cli_list_query *q);
/*
 * GETs path (".../executions" or ".../history") page by page and prints
 * the executions as a table or JSON lines; with q->all every page, else
 * one and a hint on stderr when there are more.  Returns the exit code.
 */
int cli_execution_list(const struct cli_online *o, struct client *c,
    const char *path, const struct cli_list_query *q);

#endif
