/*
 * status_procs: the processes part of `loom status`, read from this
 * host's control sockets (loom-ipc(7)): every loom-*.sock of control.dir and
 * loom-log's logd.socket, each asked {"v":1,"t":"status"}.  A daemon of
 * the usual five whose socket is not there, or a socket nobody answers
 * on (a daemon that died without removing it), is a row that says so:
 * `loom status` never fails because of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/xalloc.h"
#include "table.h"
#include "util/config.h"
#include "util/ctl.h"

#define ASK_TIMEOUT_MS 2000

static const char *const usual[] = { "loom-api", "loom-engine", "loom-exec",
	"loom-log", "loom-sched" };

jv
status_processes(void)
{
	struct diags d;
	struct config *cfg;
	jv socks, out = jv_array();
	int seen[5] = { 0 };
	char *dir;

	diags_init(&d);
	cfg = config_load(NULL, &d);
	diags_clear(&d);
	dir = xstrdup(ctl_dir(cfg));
	socks = ctl_sockets(
	    dir, config_get(cfg, "logd.socket", "/run/loom/log.sock"));
	jv_array_foreach(socks, i, p)
	{
		char *name = ctl_socket_name(jv_string_value(p));
		jv st = ctl_ask(jv_string_value(p), "status", ASK_TIMEOUT_MS);

		/* a named executor (loom-exec-NAME) is a loom-exec too */
		for (size_t k = 0; k < 5; k++)
			if (!strcmp(name, usual[k]) ||
			    (!strcmp(usual[k], "loom-exec") &&
				!strncmp(name, "loom-exec-", 10)))
				seen[k] = 1;
		if (jv_get_kind(st) != JV_KIND_OBJECT) {
			jv msg = jv_invalid_get_msg(st);

			st = JV_OBJECT(jv_string("ok"), jv_false(),
			    jv_string("error"),
			    jv_get_kind(msg) == JV_KIND_STRING ?
				msg :
				jv_string("?"));
		} else {
			st = jv_object_delete(st, jv_string("metrics"));
			st = jv_object_delete(st, jv_string("v"));
			st = jv_object_delete(st, jv_string("t"));
			st = jv_object_set(st, jv_string("ok"), jv_true());
		}
		st = jv_object_set(st, jv_string("socket"), p);
		st = jv_object_set(st, jv_string("name"), jv_string(name));
		out = jv_array_append(out, st);
		free(name);
	}
	jv_free(socks);
	for (size_t k = 0; k < 5; k++)
		if (!seen[k]) {
			char *p = strcmp(usual[k], "loom-log") == 0 ?
			    xstrdup(config_get(
				cfg, "logd.socket", "/run/loom/log.sock")) :
			    xasprintf("%s/%s.sock", dir, usual[k]);

			out = jv_array_append(out,
			    JV_OBJECT(jv_string("name"), jv_string(usual[k]),
				jv_string("socket"), jv_string(p),
				jv_string("ok"), jv_false(), jv_string("error"),
				jv_string("no control socket")));
			free(p);
		}
	free(dir);
	config_free(cfg);
	return out;
}

/* The few figures that say how a daemon is doing, by its kind. */
static void
figures(jv p, char *buf, size_t len)
{
	static const struct {
		const char *daemon, *keys[4];
	} by[] = {
		{ "loom-api", { "connections", "requests_in_flight" } },
		{ "loom-engine", { "dirty_runs", "passes" } },
		{ "loom-exec", { "running", "slots", "claimed", "reported" } },
		{ "loom-sched", { "workflows", "fires", "skipped" } },
		{ "loom-log", { "written", "spooled", "dropped", "queued" } },
	};
	const char *daemon = cli_str_or(p, "daemon", "");
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(by) / sizeof(by[0]); i++) {
		if (strcmp(by[i].daemon, daemon) != 0)
			continue;
		for (size_t k = 0; k < 4 && by[i].keys[k]; k++) {
			char num[32];

			cli_num_text(p, by[i].keys[k], num, sizeof(num));
			off += (size_t)snprintf(buf + off,
			    off < len ? len - off : 0, "%s%s %s", k ? ", " : "",
			    by[i].keys[k], *num ? num : "-");
		}
	}
}

void
status_processes_print(jv procs)
{
	struct table *t = table_new(
	    6, "PROCESS", "SOCKET", "PID", "HOST", "UPTIME", "FIGURES");

	jv_array_foreach(procs, i, p)
	{
		char pid[32], up[32], figs[256];

		if (!cli_true(p, "ok")) {
			snprintf(figs, sizeof(figs), "not answering: %s",
			    cli_str_or(p, "error", "?"));
			table_add(t, cli_str(p, "name"), cli_str(p, "socket"),
			    "-", "-", "-", figs);
			jv_free(p);
			continue;
		}
		cli_num_text(p, "pid", pid, sizeof(pid));
		cli_num_text(p, "uptime_s", up, sizeof(up));
		strcat(up, "s");
		figures(p, figs, sizeof(figs));
		table_add(t, cli_str(p, "daemon"), cli_str(p, "socket"), pid,
		    cli_str(p, "host"), up, figs);
		jv_free(p);
	}
	jv_free(procs);
	printf("\n");
	table_print(t, stdout, 1);
	table_free(t);
}
