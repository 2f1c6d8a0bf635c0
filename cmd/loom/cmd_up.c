/*
 * loom up: all of Link Loom on this machine, in the foreground.
 *
 *   loom up [--state-dir DIR] [--db URL] [--listen ADDR] [--no-sample]
 *           [--fast]
 *
 * A small supervisor.  It starts the private PostgreSQL cluster under the
 * state directory (unless --db names a database), migrates the schema,
 * then runs the daemons as its children -- loom-log, loom-engine,
 * loom-exec, loom-sched, loom-api and, for the sample, loom-example-backend
 * -- each with
 * LOOM_DATABASE_URL (and MONGOC_DISABLE_SHM) set and its output on our
 * stderr.  Once loom-api's
 * /readyz answers (probed over its Unix socket, on a timer that backs off
 * to 1 s) it applies the sample workflow and prints where everything is,
 * ending with a line "ready" that scripts and tests wait for.
 *
 * A daemon that dies is restarted after a backoff: 1 s, doubling up to
 * 30 s, back to 1 s once it has run for a minute.  SIGINT, SIGTERM or
 * SIGHUP stops everything: SIGTERM to every child, SIGKILL to whatever is
 * left after 10 s (or at once on a second signal), then PostgreSQL is
 * stopped if we started it.  Every wait is a watch on the one event loop
 * (lib/util/loop.h): signals, child exits and timers; nothing sleeps.
 *
 * Children run in their own process groups (Ctrl-C reaches only us, and
 * we stop them in order) and get SIGTERM from the kernel if we die
 * without cleaning up (PR_SET_PDEATHSIG).  A lock file keeps a second
 * `loom up` off the same state directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jv.h>

#include "cli.h"
#include "core/buf.h"
#include "net/client.h"
#include "store/db.h"
#include "util/log.h"
#include "util/loop.h"
#include "store/pgcluster.h"
#include "core/xalloc.h"

#ifndef LOOM_DATADIR
#define LOOM_DATADIR "/usr/local/share/loom"
#endif

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 8080 /* loom-api's, when it is free */
#define BACKEND_PORT 8090 /* the example backend's, when it is free */
#define SAMPLE_BACKEND \
	"127.0.0.1:8090" /* as contrib/examples/sample.yaml says */
#define SAMPLE_FILE "sample.yaml"
#define RESTART_MIN_MS 1000
#define RESTART_MAX_MS 30000
#define RESTART_RESET_MS 60000 /* a run this long resets the backoff */
#define STOP_GRACE_MS 10000
#define PROBE_FIRST_MS 50
#define PROBE_MAX_MS 1000
#define PROBE_NAG_MS 30000 /* complain if not ready by then */

enum { D_LOG, D_ENGINE, D_EXEC, D_SCHED, D_API, D_BACKEND, D__COUNT };

struct up;

struct daemon {
	struct up *up;
	const char *name;
	char *path;		  /* the binary; NULL: not found, never run */
	char **argv;		  /* NULL-terminated, argv[0] is path */
	pid_t pid;		  /* 0 when not running */
	struct loop_child *watch; /* while pid != 0 */
	struct loop_timer *restart;
	int64_t started_ms; /* loop_mono_ms() at the last start */
	int64_t backoff_ms; /* delay before the next restart */
};

struct up {
	struct loop *loop;
	struct daemon d[D__COUNT];
	struct loop_signal *sig[3];
	struct loop_timer *probe;
	struct loop_timer *kill_timer;
	int64_t probe_ms;
	int64_t probe_since;
	int nagged;
	int stopping; /* stop signals received so far */
	int ready;

	char *state_dir;
	char *db_url;
	char *listen;	    /* host:port given to loom-api */
	char *http_url;	    /* http://... for people */
	char *sock_path;    /* loom-api's Unix socket */
	char *sample_path;  /* NULL: --no-sample, or not found */
	int backend_port;   /* the example backend's */
	int listen_given;   /* --listen: the user's address, not ours */
	struct client *api; /* over sock_path, for /readyz and apply */
};

static void
up_usage(FILE *fp)
{
	fprintf(fp,
	    "usage: loom up [--state-dir DIR] [--db URL] [--listen ADDR] "
	    "[--no-sample] [--fast]\n"
	    "\n"
	    "Runs PostgreSQL (under DIR, unless --db), loom-log (on\n"
	    "DIR/run/log.sock), loom-engine, loom-exec, loom-sched, loom-api\n"
	    "(on ADDR, default %s:%d or a free\n"
	    "port when that is taken, and DIR/run/api.sock; HOST:0 picks\n"
	    "a free port on HOST and prints it) and a sample\n"
	    "backend (on %s:%d, or a free port) with a sample workflow,\n"
	    "until Ctrl-C.\n"
	    "DIR defaults to $LOOM_STATE_DIR, /var/lib/loom as root, else\n"
	    "$XDG_STATE_HOME/loom.  --fast trades durability for speed "
	    "(tests).\n",
	    DEFAULT_HOST, DEFAULT_PORT, DEFAULT_HOST, BACKEND_PORT);
}

/* ---- finding things --------------------------------------------------- */

/* The directory of the running binary, or NULL. */
static char *
self_dir(void)
{
	char buf[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);

	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	if ((slash = strrchr(buf, '/')) == NULL)
		return NULL;
	*slash = '\0';
	return xstrdup(buf);
}

/*
 * name next to the running `loom` (a build tree), in ../sbin beside it (an
 * installation: loom in bin, the daemons in sbin, which a user's $PATH
 * often lacks), else in $PATH; NULL when nowhere.
 */
static char *
find_program(const char *name)
{
	char *dir = self_dir(), *p, *path, *tok, *save = NULL;
	const char *env = getenv("PATH");

	if (dir) {
		for (int sbin = 0; sbin < 2; sbin++) {
			p = xasprintf(
			    "%s/%s%s", dir, sbin ? "../sbin/" : "", name);
			if (access(p, X_OK) == 0) {
				free(dir);
				return p;
			}
			free(p);
		}
		free(dir);
	}
	path = xstrdup(env ? env : "/usr/local/bin:/usr/bin:/bin");
	for (tok = strtok_r(path, ":", &save); tok;
	     tok = strtok_r(NULL, ":", &save)) {
		p = xasprintf("%s/%s", *tok ? tok : ".", name);
		if (access(p, X_OK) == 0) {
			free(path);
			return p;
		}
		free(p);
	}
	free(path);
	return NULL;
}

/*
 * The sample workflow: $LOOM_DATADIR/examples, the installed
 * LOOM_DATADIR/examples, else the source tree of a build
 * (<bindir>/../../contrib/examples).
 */
static char *
find_sample(void)
{
	const char *env = getenv("LOOM_DATADIR");
	char *dir = self_dir(), *c[3] = { NULL, NULL, NULL }, *found = NULL;

	if (env && *env)
		c[0] = xasprintf("%s/examples/%s", env, SAMPLE_FILE);
	c[1] = xasprintf("%s/examples/%s", LOOM_DATADIR, SAMPLE_FILE);
	if (dir)
		c[2] =
		    xasprintf("%s/../../contrib/examples/%s", dir, SAMPLE_FILE);
	for (int i = 0; i < 3; i++) {
		if (found == NULL && c[i] && access(c[i], R_OK) == 0)
			found = realpath(c[i], NULL);
		free(c[i]);
	}
	free(dir);
	return found;
}

static int
mkdir_p(const char *path)
{
	char *p = xstrdup(path);

	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		if ((*s = c) == '\0')
			break;
	}
	free(p);
	return 0;
}

/* "http://HOST:PORT" for the address loom-api listens on. */
static char *
http_url_of(const char *listen)
{
	const char *colon = strrchr(listen, ':'); /* checked: not NULL */
	size_t hlen = (size_t)(colon - listen);

	if (hlen == 0 || (hlen == 7 && !strncmp(listen, "0.0.0.0", 7)))
		return xasprintf("http://127.0.0.1%s", colon);
	if ((hlen == 2 && !strncmp(listen, "::", 2)) ||
	    (hlen == 4 && !strncmp(listen, "[::]", 4)))
		return xasprintf("http://[::1]%s", colon);
	return xasprintf("http://%s", listen);
}

/*
 * A TCP port on 127.0.0.1 for one of our children: want when nothing
 * listens on it, else one the kernel hands out.  Another stack on this
 * host may hold the usual ports.  The probe socket is closed before the
 * child binds, so a program could take the port in between; the child's
 * bind error then says so and it is restarted on the same port.
 * Returns the port, or -1 with errno.
 */
static int
local_port(int want)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd, one = 1, port = -1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	/* a port in TIME_WAIT is free; one some socket listens on is not */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)want);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		sin.sin_port = 0;
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
			goto out;
	}
	if (getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
out:
	close(fd);
	return port;
}

/*
 * --listen HOST:0 asks for "a free port": one is chosen here, on HOST, the
 * way local_port() chooses ours, and loom-api is given HOST:PORT, so that
 * the URLs we print and the callback URL loom-exec hands to backends name
 * the port loom-api really listens on.  The addresses are tried in the
 * order loom-api tries them (getaddrinfo, passive).  Returns HOST:PORT
 * (malloc'd), or NULL with *err (malloc'd).
 */
static char *
listen_free_port(const char *listen, char **err)
{
	const char *colon = strrchr(listen, ':'); /* checked: not NULL */
	char *host;
	struct addrinfo hints, *res = NULL;
	int rc, port = -1, saved = EADDRNOTAVAIL;

	if (listen[0] == '[')
		host = xstrndup(listen + 1, (size_t)(colon - listen - 2));
	else
		host = xstrndup(listen, (size_t)(colon - listen));
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rc = getaddrinfo(host[0] ? host : NULL, "0", &hints, &res)) != 0) {
		*err = xasprintf("--listen %s: %s", listen, gai_strerror(rc));
		free(host);
		return NULL;
	}
	for (struct addrinfo *ai = res; ai != NULL && port < 0;
	     ai = ai->ai_next) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd =
		    socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			saved = errno;
			continue;
		}
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
		    getsockname(fd, (struct sockaddr *)&ss, &len) == 0)
			port = ntohs(ss.ss_family == AF_INET6 ?
				((struct sockaddr_in6 *)&ss)->sin6_port :
				((struct sockaddr_in *)&ss)->sin_port);
		else
			saved = errno;
		close(fd);
	}
	freeaddrinfo(res);
	free(host);
	if (port < 0) {
		*err = xasprintf(
		    "--listen %s: no free port: %s", listen, strerror(saved));
		return NULL;
	}
	return xasprintf("%.*s:%d", (int)(colon - listen), listen, port);
}

/* Whether --listen's port is 0 (or 00...): "any free port". */
static int
listen_port_is_any(const char *listen)
{
	const char *port = strrchr(listen, ':') + 1;

	return port[0] != '\0' && strspn(port, "0") == strlen(port);
}

/*
 * The example backend's port: the one this state directory used last
 * (DIR/backend.port), so the sample applied before stays the same
 * version, else 8090, else a free one; remembered for the next start.
 */
static int
backend_port(const char *state_dir)
{
	char *p = xasprintf("%s/backend.port", state_dir);
	FILE *fp = fopen(p, "r");
	int want = BACKEND_PORT, port;

	if (fp != NULL) {
		if (fscanf(fp, "%d", &want) != 1 || want < 1 || want > 65535)
			want = BACKEND_PORT;
		fclose(fp);
	}
	if ((port = local_port(want)) > 0 && port != want &&
	    (fp = fopen(p, "w")) != NULL) {
		fprintf(fp, "%d\n", port);
		fclose(fp);
	}
	free(p);
	return port;
}

/* ---- children ---------------------------------------------------------- */

static void daemon_exited(
    struct loop_child *, pid_t, const siginfo_t *, void *);

static int
running_count(const struct up *up)
{
	int n = 0;

	for (int i = 0; i < D__COUNT; i++)
		n += up->d[i].pid != 0;
	return n;
}

/* In the child, between fork and exec: undo what the loop did to us. */
static void
child_setup(pid_t parent)
{
	sigset_t none;
	int fd;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	setpgid(0, 0);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
		_exit(1); /* the parent is gone already */
	/* stdout is ours (the banner); a daemon's output is log output. */
	dup2(STDERR_FILENO, STDOUT_FILENO);
	if ((fd = open("/dev/null", O_RDONLY)) >= 0) {
		dup2(fd, STDIN_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	/* Readiness and socket activation belong to us, not to them. */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_PID");
	unsetenv("WATCHDOG_USEC");
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
}

static void
daemon_start(struct daemon *d)
{
	struct up *up = d->up;
	pid_t parent = getpid(), pid;

	if (d->path == NULL || up->stopping)
		return;
	if (d == &up->d[D_API])
		unlink(up->sock_path); /* a stale one from a crash */
	if (d == &up->d[D_LOG])
		unlink(getenv("LOOM_LOGD_SOCKET")); /* the same */
	if ((pid = fork()) < 0) {
		log_warn("cannot start %s", d->name);
		loop_timer_after(d->restart, d->backoff_ms);
		return;
	}
	if (pid == 0) {
		child_setup(parent);
		execv(d->path, d->argv);
		fprintf(stderr, "loom up: cannot run %s: %s\n", d->path,
		    strerror(errno));
		_exit(127);
	}
	d->pid = pid;
	d->started_ms = loop_mono_ms(up->loop);
	if ((d->watch = loop_child_add(up->loop, pid, daemon_exited, d)) ==
	    NULL) {
		/* Without a watch we could neither reap nor restart it. */
		log_warn(
		    "cannot watch %s (pid %d); stopping it", d->name, (int)pid);
		kill(pid, SIGKILL);
		d->pid = 0;
		return;
	}
	log_info("started %s (pid %d)", d->name, (int)pid);
}

static void
daemon_restart_due(struct loop_timer *t, void *arg)
{
	(void)t;
	daemon_start(arg);
}

static void
describe_exit(const siginfo_t *si, char *buf, size_t len)
{
	if (si->si_code == CLD_EXITED)
		snprintf(buf, len, "exited with status %d", si->si_status);
	else
		snprintf(buf, len, "was killed by signal %d (%s)%s",
		    si->si_status, strsignal(si->si_status),
		    si->si_code == CLD_DUMPED ? ", core dumped" : "");
}

static void
daemon_exited(struct loop_child *w, pid_t pid, const siginfo_t *si, void *arg)
{
	struct daemon *d = arg;
	struct up *up = d->up;
	int64_t ran = loop_mono_ms(up->loop) - d->started_ms;
	char how[96];

	loop_child_del(w);
	d->watch = NULL;
	d->pid = 0;
	describe_exit(si, how, sizeof(how));
	if (up->stopping) {
		log_info("%s (pid %d) %s", d->name, (int)pid, how);
		if (running_count(up) == 0)
			loop_exit(up->loop, 0);
		return;
	}
	if (ran >= RESTART_RESET_MS)
		d->backoff_ms = RESTART_MIN_MS;
	log_warnx("%s (pid %d) %s after %llds; restarting in %llds", d->name,
	    (int)pid, how, (long long)(ran / 1000),
	    (long long)(d->backoff_ms / 1000));
	loop_timer_after(d->restart, d->backoff_ms);
	d->backoff_ms *= 2;
	if (d->backoff_ms > RESTART_MAX_MS)
		d->backoff_ms = RESTART_MAX_MS;
}

static void
signal_children(struct up *up, int signo)
{
	for (int i = 0; i < D__COUNT; i++) {
		pid_t pid = up->d[i].pid;

		if (pid == 0)
			continue;
		/* SIGTERM lets the daemon drain its own children; SIGKILL
		 * takes its whole process group. */
		if (kill(signo == SIGKILL ? -pid : pid, signo) < 0 &&
		    signo == SIGKILL)
			kill(pid, SIGKILL);
	}
}

/* ---- stopping ---------------------------------------------------------- */

static void
stop_grace_over(struct loop_timer *t, void *arg)
{
	struct up *up = arg;

	(void)t;
	log_warnx("daemons still running after %ds; killing them",
	    STOP_GRACE_MS / 1000);
	signal_children(up, SIGKILL);
}

static void
on_stop_signal(struct loop_signal *s, int signo, void *arg)
{
	struct up *up = arg;

	(void)s;
	if (up->stopping++) {
		log_warnx("%s again: killing every daemon", strsignal(signo));
		signal_children(up, SIGKILL);
		return;
	}
	log_info("%s: stopping (again to kill at once)", strsignal(signo));
	loop_notify_stopping(up->loop);
	loop_timer_stop(up->probe);
	for (int i = 0; i < D__COUNT; i++)
		loop_timer_stop(up->d[i].restart);
	if (running_count(up) == 0) {
		loop_exit(up->loop, 0);
		return;
	}
	signal_children(up, SIGTERM);
	loop_timer_after(up->kill_timer, STOP_GRACE_MS);
}

/* ---- readiness ------------------------------------------------------- */

/*
 * The sample's text (consumed) with its backend's address, 127.0.0.1:8090,
 * made 127.0.0.1:PORT: the port the example backend got.
 */
static char *
sample_with_port(char *text, int port, size_t *len)
{
	char addr[32], *at, *from = text;
	struct buf b = BUF_INIT;

	if (port == BACKEND_PORT)
		return text;
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	while ((at = strstr(from, SAMPLE_BACKEND)) != NULL) {
		buf_printf(&b, "%.*s%s", (int)(at - from), from, addr);
		from = at + strlen(SAMPLE_BACKEND);
	}
	buf_puts(&b, from);
	free(text);
	*len = b.len;
	return b.p != NULL ? b.p : xstrdup("");
}

/* Applies the sample workflow; returns its id (malloc'd) or NULL. */
static char *
apply_sample(struct up *up)
{
	FILE *fp = fopen(up->sample_path, "rb");
	char *buf, *id = NULL, *msg;
	size_t len = 0, cap = 65536;
	jv reply;
	int st;

	if (fp == NULL) {
		log_warn("%s", up->sample_path);
		return NULL;
	}
	buf = xmalloc(cap);
	len = fread(buf, 1, cap - 1, fp);
	fclose(fp);
	buf[len] = '\0';
	buf = sample_with_port(buf, up->backend_port, &len);
	client_set_timeout(up->api, 10000);
	st = client_request(up->api, "POST", "/api/v1/workflows",
	    "application/yaml", buf, len, &reply);
	free(buf);
	if (st == 200 || st == 201) {
		jv v = jv_object_get(jv_copy(reply), jv_string("id"));

		if (jv_get_kind(v) == JV_KIND_STRING)
			id = xstrdup(jv_string_value(v));
		jv_free(v);
		jv_free(reply);
		return id;
	}
	if (st == 422 && jv_get_kind(reply) == JV_KIND_OBJECT) {
		jv d = jv_getpath(jv_copy(reply),
		    JV_ARRAY(jv_string("error"), jv_string("details")));
		jv s = jv_dump_string(d, 0);

		log_warnx("%s is not valid here: %s", up->sample_path,
		    jv_string_value(s));
		jv_free(s);
	}
	msg = client_error_message(st, reply);
	log_warnx("cannot apply the sample workflow: %s", msg);
	free(msg);
	return NULL;
}

/* url with the password of "scheme://user:password@host" as "****". */
static char *
url_without_password(const char *url)
{
	const char *user = strstr(url, "://"), *at, *colon;

	if (user == NULL)
		return xstrdup(url);
	user += 3;
	at = strchr(user, '@');
	colon = strchr(user, ':');
	if (at == NULL || colon == NULL || colon > at ||
	    memchr(user, '/', (size_t)(at - user)) != NULL)
		return xstrdup(url);
	return xasprintf("%.*s****%s", (int)(colon + 1 - url), url, at);
}

static void
print_banner(struct up *up, const char *sample_id)
{
	int plain = !up->listen_given;
	char *db = url_without_password(up->db_url);

	printf("Link Loom is up.\n");
	if (up->d[D_API].path) {
		printf("  API:  %s\n", up->http_url);
		printf("        unix:%s\n", up->sock_path);
		/* loom-api serves the web UI at / (loom-api(8), WEB UI) */
		printf("  UI:   %s/\n", up->http_url);
	} else
		printf("  API:  not running (loom-api was not found)\n");
	printf("  DB:   %s\n", db);
	free(db);
	if (sample_id) {
		printf("  Sample workflow: %s\n", sample_id);
		printf("  Sample backend:  http://127.0.0.1:%d\n",
		    up->backend_port);
		printf("  Try:  loom workflow trigger %s%s%s --wait\n",
		    sample_id, plain ? "" : " --api ",
		    plain ? "" : up->http_url);
	} else
		printf("  Try:  loom workflow apply FILE%s%s\n",
		    plain ? "" : " --api ", plain ? "" : up->http_url);
	printf("ready\n");
	fflush(stdout);
}

static void
become_ready(struct up *up)
{
	char *sample_id = NULL;

	up->ready = 1;
	if (up->sample_path && up->api)
		sample_id = apply_sample(up);
	print_banner(up, sample_id);
	free(sample_id);
	loop_notify_ready(up->loop);
	log_info("press Ctrl-C to stop");
}

static void
probe_api(struct loop_timer *t, void *arg)
{
	struct up *up = arg;
	int64_t now = loop_mono_ms(up->loop);
	jv reply;
	int st;

	client_set_timeout(up->api, 2000);
	st = client_json(up->api, "GET", "/readyz", jv_invalid(), &reply);
	jv_free(reply);
	if (st == 200) {
		become_ready(up);
		return;
	}
	if (!up->nagged && now - up->probe_since >= PROBE_NAG_MS) {
		up->nagged = 1;
		log_warnx("loom-api is not ready after %ds (see its messages "
			  "above); still waiting",
		    PROBE_NAG_MS / 1000);
	}
	up->probe_ms =
	    up->probe_ms * 2 > PROBE_MAX_MS ? PROBE_MAX_MS : up->probe_ms * 2;
	loop_timer_after(t, up->probe_ms);
}

/* ---- set-up and tear-down ---------------------------------------------- */

/* argv[0] is the full path, so `ps` shows which build is running. */
static char **
make_argv(const char *path, ...)
{
	char **v = xcalloc(8, sizeof(char *));
	const char *a;
	va_list ap;
	int n = 0;

	v[n++] = xstrdup(path);
	va_start(ap, path);
	while ((a = va_arg(ap, const char *)) != NULL && n < 7)
		v[n++] = xstrdup(a);
	va_end(ap);
	return v;
}

static void
setup_daemons(struct up *up, int sample)
{
	static const char *const names[D__COUNT] = {
		"loom-log",
		"loom-engine",
		"loom-exec",
		"loom-sched",
		"loom-api",
		"loom-example-backend",
	};

	for (int i = 0; i < D__COUNT; i++) {
		struct daemon *d = &up->d[i];

		d->up = up;
		d->name = names[i];
		d->backoff_ms = RESTART_MIN_MS;
		d->restart = loop_timer_new(up->loop, daemon_restart_due, d);
		if (i == D_BACKEND && !sample)
			continue;
		if ((d->path = find_program(d->name)) == NULL) {
			log_warnx("%s not found next to loom or in $PATH; "
				  "going on without it",
			    d->name);
			continue;
		}
		if (i == D_API)
			d->argv = make_argv(d->path, "--listen", up->listen,
			    "--socket", up->sock_path, (char *)NULL);
		else if (i == D_BACKEND) {
			char port[16];

			snprintf(port, sizeof(port), "%d", up->backend_port);
			d->argv = make_argv(d->path, "-p", port, (char *)NULL);
		} else
			d->argv = make_argv(d->path, (char *)NULL);
	}
}

static void
teardown(struct up *up)
{
	for (int i = 0; i < D__COUNT; i++) {
		struct daemon *d = &up->d[i];

		loop_child_del(d->watch); /* kills and reaps, if any */
		loop_timer_del(d->restart);
		free(d->path);
		if (d->argv)
			for (char **a = d->argv; *a; a++)
				free(*a);
		free(d->argv);
	}
	for (int i = 0; i < 3; i++)
		loop_signal_del(up->sig[i]);
	loop_timer_del(up->probe);
	loop_timer_del(up->kill_timer);
	loop_free(up->loop);
	client_free(up->api);
	free(up->state_dir);
	free(up->db_url);
	free(up->listen);
	free(up->http_url);
	free(up->sock_path);
	free(up->sample_path);
}

static int
migrate(const char *url)
{
	char *err = NULL;
	PGconn *c = db_connect(url, "loom-up", &err);
	int from, to;

	if (c == NULL) {
		log_warnx("cannot connect to %s: %s", url, err);
		free(err);
		return -1;
	}
	if (db_migrate(c, &from, &to, &err) < 0) {
		log_warnx("migrating the schema: %s", err);
		free(err);
		PQfinish(c);
		return -1;
	}
	if (from != to)
		log_info("migrated the schema from version %d to %d", from, to);
	PQfinish(c);
	return 0;
}

/* Takes DIR/up.lock; -1 when another `loom up` holds it. */
static int
lock_state_dir(const char *dir)
{
	char *p = xasprintf("%s/up.lock", dir);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

	if (fd < 0) {
		log_warn("%s", p);
		free(p);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			log_warnx("another 'loom up' is running on %s", dir);
		else
			log_warn("%s", p);
		close(fd);
		free(p);
		return -1;
	}
	free(p);
	return fd;
}

/* What `loom up`'s command line asked for. */
struct up_opts {
	const char *state_dir; /* --state-dir, or NULL */
	const char *db;	       /* --db: a database of the user's, or NULL */
	const char *listen;    /* --listen, or NULL: ours to choose */
	int sample;	       /* run the example backend and workflow */
	int fast;	       /* --fast: a cluster that trades durability */
};

/*
 * Fills o from the command line.  Returns -1 to go on, else the exit code
 * to return at once (--help, or a usage error already printed).
 */
static int
up_parse_args(int argc, char **argv, struct up_opts *o)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, 's' },
		{ "db", required_argument, NULL, 'D' },
		{ "listen", required_argument, NULL, 'l' },
		{ "no-sample", no_argument, NULL, 'S' },
		{ "fast", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->sample = 1;
	optind = 0;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 's':
			o->state_dir = optarg;
			break;
		case 'D':
			o->db = optarg;
			break;
		case 'l':
			o->listen = optarg;
			break;
		case 'S':
			o->sample = 0;
			break;
		case 'f':
			o->fast = 1;
			break;
		case 'h':
			up_usage(stdout);
			return EXIT_OK;
		default:
			return cli_usage_error("up", "bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("up", "no operands expected");
	if (o->listen != NULL &&
	    (strchr(o->listen, ':') == NULL || strchr(o->listen, '/')))
		return cli_usage_error("up",
		    "bad --listen '%s' (expected "
		    "HOST:PORT)",
		    o->listen);
	return -1;
}

/*
 * The loop first: signals are blocked from here on, so a Ctrl-C during
 * initdb waits for the loop and shuts down cleanly.  Returns 0, or -1
 * after logging why (teardown() frees what was made).
 */
static int
up_watch_signals(struct up *up)
{
	static const int stop_signals[3] = { SIGINT, SIGTERM, SIGHUP };

	if ((up->loop = loop_new()) == NULL) {
		log_warn("event loop");
		return -1;
	}
	for (int i = 0; i < 3; i++)
		if ((up->sig[i] = loop_signal_add(up->loop, stop_signals[i],
			 on_stop_signal, up)) == NULL) {
			log_warn("signal watch");
			return -1;
		}
	up->probe = loop_timer_new(up->loop, probe_api, up);
	up->kill_timer = loop_timer_new(up->loop, stop_grace_over, up);
	return 0;
}

/*
 * Readies the state directory: without --db, prepares our cluster in pc
 * (*have_pc = 1); with --db, makes DIR/run and makes up->state_dir
 * absolute.  Returns 0, or -1 after logging why (a system error).
 */
static int
up_prepare_state(
    struct up *up, const struct up_opts *o, struct pgcluster *pc, int *have_pc)
{
	char *err = NULL, *sock;

	if (o->db == NULL) {
		if (pgcluster_prepare(pc, up->state_dir, 0, &err) < 0) {
			log_warnx("%s", err);
			free(err);
			return -1;
		}
		*have_pc = 1;
		pc->fast = o->fast;
		return 0;
	}
	sock = xasprintf("%s/run", up->state_dir);
	if (mkdir_p(sock) < 0) {
		log_warn("%s", sock);
		free(sock);
		return -1;
	}
	free(sock);
	/* The socket's address must be absolute (unix:/...). */
	if ((sock = realpath(up->state_dir, NULL)) == NULL) {
		log_warn("%s", up->state_dir);
		return -1;
	}
	free(up->state_dir);
	up->state_dir = sock;
	return 0;
}

/*
 * Starts our cluster pc (NULL: use --db), *pg_ours = 1 when we started it,
 * then migrates the schema and hands the daemons its URL.  Returns 0, or
 * -1 after logging why.
 */
static int
up_start_db(
    struct up *up, const struct up_opts *o, struct pgcluster *pc, int *pg_ours)
{
	char *err = NULL;

	if (pc != NULL) {
		if (!pgcluster_exists(pc))
			log_info(
			    "creating a PostgreSQL cluster in %s", pc->datadir);
		if (!pgcluster_running(pc)) {
			log_info("starting PostgreSQL (log: %s)", pc->logfile);
			*pg_ours = 1;
		} else
			log_info(
			    "PostgreSQL is already running in %s", pc->datadir);
		if (pgcluster_start(pc, &err) < 0) {
			log_warnx("%s", err);
			free(err);
			return -1;
		}
		up->db_url = pgcluster_url(pc);
	} else
		up->db_url = xstrdup(o->db);
	if (migrate(up->db_url) < 0)
		return -1;
	setenv("LOOM_DATABASE_URL", up->db_url, 1);
	return 0;
}

/*
 * Chooses the addresses, starts the daemons and the probe of loom-api's
 * socket under run_dir/run (or, with no loom-api, is ready at once).
 * Returns 0, or -1 after logging why; teardown() stops what was started.
 */
static int
up_start_daemons(struct up *up, const struct up_opts *o, const char *run_dir)
{
	char *err = NULL, *sockaddr;

	if ((up->listen_given = o->listen != NULL) &&
	    listen_port_is_any(o->listen)) {
		if ((up->listen = listen_free_port(o->listen, &err)) == NULL) {
			log_warnx("%s", err);
			free(err);
			return -1;
		}
		log_info(
		    "loom-api will listen on %s (a free port)", up->listen);
	} else if (up->listen_given)
		up->listen = xstrdup(o->listen);
	else { /* ours to choose: 8080, or a free port beside another stack */
		int port = local_port(DEFAULT_PORT);

		up->listen = xasprintf(
		    "%s:%d", DEFAULT_HOST, port > 0 ? port : DEFAULT_PORT);
	}
	up->http_url = http_url_of(up->listen);
	if (o->sample && (up->backend_port = backend_port(up->state_dir)) < 0) {
		log_warn("no TCP port for the example backend");
		up->backend_port = BACKEND_PORT;
	}
	/* Backends that answer 202 call back here. */
	setenv("LOOM_EXEC_CALLBACK_URL", up->http_url, 1);
	up->sock_path = xasprintf("%s/run/api.sock", run_dir);
	/* loom-log's socket beside it, its spool in the state directory;
	 * loom-exec finds loom-log by the same variable. */
	sockaddr = xasprintf("%s/run/log.sock", run_dir);
	setenv("LOOM_LOGD_SOCKET", sockaddr, 1);
	free(sockaddr);
	/* The daemons' control sockets (loom-NAME.sock) beside them. */
	sockaddr = xasprintf("%s/run", run_dir);
	setenv("LOOM_CONTROL_DIR", sockaddr, 1);
	free(sockaddr);
	sockaddr = xasprintf("%s/log.spool", up->state_dir);
	setenv("LOOM_LOGD_SPOOL", sockaddr, 1);
	free(sockaddr);
	/* libmongoc, which loom-api and loom-log load, makes a counters
	 * file /dev/shm/mongoc-PID before main() and removes it only at a
	 * normal exit: every daemon killed (SIGKILL, our own stop's) would
	 * leave one behind.  The user's own value, if any, is kept. */
	setenv("MONGOC_DISABLE_SHM", "1", 0);
	if (o->sample && (up->sample_path = find_sample()) == NULL)
		log_warnx("the sample workflow %s was not found (set "
			  "LOOM_DATADIR); going on without it",
		    SAMPLE_FILE);
	setup_daemons(up, o->sample);
	for (int i = 0; i < D__COUNT; i++)
		daemon_start(&up->d[i]);

	if (up->d[D_API].path == NULL) {
		become_ready(up);
		return 0;
	}
	sockaddr = xasprintf("unix:%s", up->sock_path);
	up->api = client_new(sockaddr, &err);
	free(sockaddr);
	if (up->api == NULL) {
		log_warnx("%s", err);
		free(err);
		return -1;
	}
	up->probe_ms = PROBE_FIRST_MS;
	up->probe_since = loop_mono_ms(up->loop);
	loop_timer_after(up->probe, up->probe_ms);
	return 0;
}

int
cmd_up(int argc, char **argv)
{
	struct up_opts o;
	struct up up;
	struct pgcluster pc;
	int pg_ours = 0, have_pc = 0, lockfd = -1;
	int rc;
	char *err = NULL;

	if ((rc = up_parse_args(argc, argv, &o)) >= 0)
		return rc;
	rc = EXIT_FAIL;
	log_init("loom up", LOG_LVL_INFO);
	memset(&up, 0, sizeof(up));
	if ((up.state_dir = cli_state_dir(o.state_dir)) == NULL)
		return EXIT_SYSTEM;
	if (up_watch_signals(&up) < 0)
		goto out;
	if (up_prepare_state(&up, &o, &pc, &have_pc) < 0) {
		rc = EXIT_SYSTEM;
		goto out;
	}
	if ((lockfd = lock_state_dir(up.state_dir)) < 0)
		goto out;
	if (up_start_db(&up, &o, have_pc ? &pc : NULL, &pg_ours) < 0)
		goto out;
	/* Failing after children were started: the teardown kills them. */
	if (up_start_daemons(&up, &o, have_pc ? pc.dir : up.state_dir) < 0)
		goto out;

	if (loop_run(up.loop) < 0)
		log_warn("event loop");
	else
		rc = EXIT_OK;
out:
	teardown(&up);
	if (pg_ours) {
		log_info("stopping PostgreSQL");
		if (pgcluster_stop(&pc, &err) < 0) {
			log_warnx("%s", err);
			rc = EXIT_FAIL;
		}
	}
	if (have_pc)
		pgcluster_release(&pc);
	if (lockfd >= 0)
		close(lockfd);
	free(err);
	return rc;
}
