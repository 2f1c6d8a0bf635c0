/*
 * run_proc: shell and java tasks as child processes on the loop.
 *
 * A task is started with vfork() and exec (spawn_task()) in a process
 * group of its own, with the signal mask and every disposition reset (the
 * loop blocks SIGCHLD and ignores SIGPIPE, and both survive exec).  Before
 * exec the child asks for SIGKILL when loom-exec dies (PR_SET_PDEATHSIG),
 * and registers its group with the process guard (procguard.h), which
 * kills the whole group if loom-exec dies: a task never outlives its
 * executor.  Exec failures come back as an error
 * number, not as a mysterious exit 127.  Three pipes connect it: stdin
 * receives the protocol envelope, written without blocking; stdout and
 * stderr are read as they become readable, split into lines (the
 * callback token redacted) for the log callback and the "logs" tail.  The
 * command and its arguments come from the task definition only; the
 * request's input reaches the process through stdin, never through a
 * command line.  The environment is built from scratch (build_env()):
 * loom-exec's own holds secrets.
 *
 * The child is reaped by the loop's child watch.  When it exits, whatever
 * is left in the pipes is drained, stragglers in its process group are
 * killed (a task's processes do not outlive it), and the result is built
 * by runner_proc_outcome() from the exit status, $LOOM_OUTPUT and the last
 * stdout line.  Timeout and cancel send SIGTERM to the group and SIGKILL
 * after the grace period.
 */
#define LOOM_RUNNER_INTERNAL
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "core/duration.h"
#include "core/xalloc.h"
#include "procguard.h"
#include "util/log.h"

extern char **environ;

struct pstream {
	struct run_proc *p;
	const char *name; /* "stdout" or "stderr" */
	int fd;		  /* -1 once closed */
	struct loop_io *io;
	char *buf; /* bytes of the current, unfinished line */
	size_t len, cap;
	char *last; /* stdout: last line; stderr: last non-blank */
};

struct run_proc {
	struct runner_job *job;
	const struct runner_config *cfg;
	pid_t pid;
	struct loop_child *child;
	int in_fd;
	struct loop_io *in_io;
	char *in_buf;
	size_t in_len, in_off;
	struct pstream out, err;
	char *logs; /* tail of both streams, one line per line */
	size_t logs_len, logs_cap;
	struct loop_timer *timeout;
	struct loop_timer *kill;
	char *output_path;
	int timed_out;
	int terminating; /* SIGTERM sent */
	pid_t group;	 /* registered with procguard, or 0 */
};

/* argv / envp vectors */

struct strv {
	char **v;
	size_t n, cap;
};

static void
strv_add(struct strv *s, char *str) /* takes str */
{
	if (s->n + 2 > s->cap) {
		s->cap = s->cap ? s->cap * 2 : 16;
		s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
	}
	s->v[s->n++] = str;
	s->v[s->n] = NULL;
}

static void
strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

static char *
jv_to_cstr(jv v) /* consumes v: strings as is, scalars as JSON */
{
	char *s;

	if (jv_get_kind(v) != JV_KIND_STRING)
		v = jv_dump_string(v, 0);
	s = xstrdup(jv_string_value(v));
	jv_free(v);
	return s;
}

static void
strv_add_array(struct strv *s, jv a) /* consumes a */
{
	if (jv_get_kind(a) == JV_KIND_ARRAY) {
		jv_array_foreach(a, i, v) strv_add(s, jv_to_cstr(v));
	}
	jv_free(a);
}

#define TASK_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* Whether the variable "name=value" e is named by pattern (n bytes): the
 * name itself, or a prefix when pattern ends in '*'. */
static int
env_matches(const char *e, const char *pattern, size_t n)
{
	const char *eq = strchr(e, '=');

	if (eq == NULL)
		return 0;
	if (n > 0 && pattern[n - 1] == '*')
		return (size_t)(eq - e) >= n - 1 &&
		    strncmp(e, pattern, n - 1) == 0;
	return (size_t)(eq - e) == n && strncmp(e, pattern, n) == 0;
}

/* Adds each variable of ours named by pattern to over. */
static jv
env_pass(jv over, const char *pattern, size_t n)
{
	for (char **e = environ; e && *e; e++)
		if (env_matches(*e, pattern, n)) {
			const char *eq = strchr(*e, '=');

			over = jv_object_set(over,
			    jv_string_sized(*e, (int)(eq - *e)),
			    jv_string(eq + 1));
		}
	return over;
}

/*
 * The task's environment.  Not ours: loom-exec's holds the database URL
 * and the workflows' signing secrets.  A task gets PATH, HOME and LANG
 * and the names of exec.pass_env from ours (PATH has a default), then the
 * LOOM_* variables, then its own env; later wins.  loom-exec(8),
 * ENVIRONMENT OF TASKS, says the same.
 */
static void
build_env(struct strv *env, struct runner_job *j, const char *output_path)
{
	const char *pass = runner_cfg(j->runner)->pass_env;
	jv over = jv_object(), tenv;
	char buf[32];

	over = jv_object_set(
	    over, jv_string("PATH"), jv_string(TASK_DEFAULT_PATH));
	over = env_pass(over, "PATH", 4);
	over = env_pass(over, "HOME", 4);
	over = env_pass(over, "LANG", 4);
	while (pass != NULL && *(pass += strspn(pass, " \t,")) != '\0') {
		size_t n = strcspn(pass, " \t,");

		over = env_pass(over, pass, n);
		pass += n;
	}
	over = jv_object_set(
	    over, jv_string("LOOM_EXECUTION_ID"), jv_string(j->execution_id));
	over = jv_object_set(
	    over, jv_string("LOOM_TASK_ID"), jv_string(j->task_id));
	snprintf(buf, sizeof(buf), "%d", j->attempt);
	over = jv_object_set(over, jv_string("LOOM_ATTEMPT"), jv_string(buf));
	over = jv_object_set(
	    over, jv_string("LOOM_OUTPUT"), jv_string(output_path));
	over = jv_object_set(
	    over, jv_string("LOOM_TRACEPARENT"), jv_string(j->traceparent));
	snprintf(buf, sizeof(buf), "%lld", (long long)j->timeout_ms);
	over =
	    jv_object_set(over, jv_string("LOOM_TIMEOUT_MS"), jv_string(buf));
	if (j->scheduled_time[0] != '\0')
		over = jv_object_set(over, jv_string("LOOM_SCHEDULED_TIME"),
		    jv_string(j->scheduled_time));
	tenv = jv_object_get(jv_copy(j->task), jv_string("env"));
	if (jv_get_kind(tenv) == JV_KIND_OBJECT) {
		jv_object_foreach(tenv, k, v)
		{
			char *val = jv_to_cstr(v);

			over = jv_object_set(over, k, jv_string(val));
			free(val);
		}
	}
	jv_free(tenv);

	jv_object_foreach(over, k, v)
	{
		strv_add(env,
		    xasprintf("%s=%s", jv_string_value(k), jv_string_value(v)));
		jv_free(k);
		jv_free(v);
	}
	jv_free(over);
}

static const char *
java_binary(struct runner_job *j, char **alloc)
{
	jv home = jv_getpath(jv_copy(j->task),
	    JV_ARRAY(jv_string("env"), jv_string("JAVA_HOME")));
	const char *h;

	*alloc = NULL;
	h = jv_get_kind(home) == JV_KIND_STRING ? jv_string_value(home) :
						  getenv("JAVA_HOME");
	if (h != NULL && *h != '\0') {
		*alloc = xasprintf("%s/bin/java", h);
		if (access(*alloc, X_OK) != 0) {
			free(*alloc);
			*alloc = NULL;
		}
	}
	jv_free(home);
	return *alloc ? *alloc : "java";
}

/* argv for the task; returns 0 or -1 with *err set. */
static int
build_argv(struct strv *argv, struct runner_job *j, char **err)
{
	jv cmd;

	if (j->kind == RUN_SHELL) {
		cmd = jv_object_get(jv_copy(j->task), jv_string("command"));
		if (jv_get_kind(cmd) == JV_KIND_STRING) {
			strv_add(argv, xstrdup("/bin/sh"));
			strv_add(argv, xstrdup("-c"));
			strv_add(argv, jv_to_cstr(cmd));
		} else
			strv_add_array(argv, cmd);
	} else {
		char *alloc;
		jv cp;

		strv_add(argv, xstrdup(java_binary(j, &alloc)));
		free(alloc);
		strv_add_array(argv,
		    jv_object_get(jv_copy(j->task), jv_string("jvmOptions")));
		cp = jv_object_get(jv_copy(j->task), jv_string("classpath"));
		if (jv_get_kind(cp) == JV_KIND_ARRAY) {
			jv joined = jv_string("");

			jv_array_foreach(cp, i, el)
			{
				if (i > 0)
					joined =
					    jv_string_append_str(joined, ":");
				joined = jv_string_concat(joined, el);
			}
			jv_free(cp);
			cp = joined;
		}
		if (jv_get_kind(cp) == JV_KIND_STRING &&
		    jv_string_length_bytes(jv_copy(cp)) > 0) {
			strv_add(argv, xstrdup("-cp"));
			strv_add(argv, jv_to_cstr(cp));
		} else
			jv_free(cp);
		strv_add(argv,
		    jv_to_cstr(
			jv_object_get(jv_copy(j->task), jv_string("class"))));
		strv_add_array(
		    argv, jv_object_get(jv_copy(j->task), jv_string("args")));
	}
	if (argv->n == 0) {
		*err = xstrdup("empty command");
		return -1;
	}
	return 0;
}

/* logs and lines */

static void
logs_append(struct run_proc *p, const char *s, size_t n)
{
	const size_t keep = RUNNER_MAX_LOG_BYTES;

	if (p->logs_len + n + 1 > p->logs_cap) {
		if (p->logs_len > keep) { /* drop all but the tail */
			memmove(p->logs, p->logs + p->logs_len - keep, keep);
			p->logs_len = keep;
		}
		if (p->logs_len + n + 1 > p->logs_cap) {
			p->logs_cap = p->logs_len + n + 1 + keep;
			p->logs = xreallocarray(p->logs, p->logs_cap, 1);
		}
	}
	memcpy(p->logs + p->logs_len, s, n);
	p->logs_len += n;
	p->logs[p->logs_len++] = '\n';
}

/* The last RUNNER_MAX_LOG_BYTES of the logs, cut at a line start. */
static jv
logs_tail(struct run_proc *p)
{
	const char *s = p->logs;
	size_t n = p->logs_len;

	if (n > RUNNER_MAX_LOG_BYTES) {
		const char *cut = s + n - RUNNER_MAX_LOG_BYTES;
		const char *nl = memchr(cut, '\n', RUNNER_MAX_LOG_BYTES);

		cut = nl ? nl + 1 : cut;
		n -= (size_t)(cut - s);
		s = cut;
	}
	if (n > 0 && s[n - 1] == '\n')
		n--;
	return jv_string_sized(s, (int)n);
}

/*
 * s (n bytes) with every occurrence of a secret replaced by "[redacted]",
 * n updated; NULL when no secret occurs in it.
 */
static char *
redact(const char *s, size_t *n, char *const secrets[], size_t nsecrets)
{
	static const char mark[] = "[redacted]";
	char *cur = NULL;

	for (size_t k = 0; k < nsecrets; k++) {
		const char *sec = secrets[k], *in = cur ? cur : s, *hit;
		size_t slen = sec ? strlen(sec) : 0, len = *n, o = 0;
		char *out;

		if (slen == 0 || memmem(in, len, sec, slen) == NULL)
			continue;
		/* at most one mark per byte of input: enough room */
		out = xmalloc(len / slen * (sizeof(mark) - 1) + len + 1);
		while ((hit = memmem(in, len, sec, slen)) != NULL) {
			memcpy(out + o, in, (size_t)(hit - in));
			o += (size_t)(hit - in);
			memcpy(out + o, mark, sizeof(mark) - 1);
			o += sizeof(mark) - 1;
			len -= (size_t)(hit - in) + slen;
			in = hit + slen;
		}
		memcpy(out + o, in, len);
		o += len;
		out[o] = '\0';
		free(cur);
		cur = out;
		*n = o;
	}
	return cur;
}

static void
emit_line(struct pstream *ps, const char *s, size_t n)
{
	struct run_proc *p = ps->p;
	struct runner_job *j = p->job;
	char *red;
	size_t i;

	if (n > 0 && s[n - 1] == '\r')
		n--;
	/* The callback URL's token is in the stdin envelope: a task that
	 * echoes its input must not put it in the logs. */
	if ((red = redact(s, &n, j->secrets, 2)) != NULL)
		s = red;
	logs_append(p, s, n);
	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			break;
	/* stdout's last line is the output, blank or not; stderr's last
	 * non-blank line explains a failure. */
	if (i < n || ps == &p->out) {
		free(ps->last);
		ps->last = xstrndup(s, n);
		if (memchr(s, '\0', n)) /* NULs would cut it short */
			for (char *q = ps->last; q < ps->last + n; q++)
				if (*q == '\0')
					*q = ' ';
	}
	if (p->cfg->log_line != NULL)
		p->cfg->log_line(p->cfg->log_arg,
		    JV_OBJECT(jv_string("execution"),
			jv_string(j->execution_id), jv_string("task"),
			jv_string(j->task_id), jv_string("attempt"),
			jv_number(j->attempt), jv_string("stream"),
			jv_string(ps->name), jv_string("msg"),
			jv_string_sized(s, (int)n)));
	free(red);
}

static void
stream_consume(struct pstream *ps, const char *data, size_t n)
{
	while (n > 0) {
		const char *nl = memchr(data, '\n', n);
		size_t take = nl ? (size_t)(nl - data) : n;

		if (ps->len + take > RUNNER_MAX_LINE_BYTES)
			take = RUNNER_MAX_LINE_BYTES - ps->len;
		if (ps->len + take + 1 > ps->cap) {
			ps->cap = ps->len + take + 1 + 4096;
			ps->buf = xreallocarray(ps->buf, ps->cap, 1);
		}
		memcpy(ps->buf + ps->len, data, take);
		ps->len += take;
		data += take;
		n -= take;
		if (n > 0 && *data == '\n') {
			data++;
			n--;
		} else if (ps->len < RUNNER_MAX_LINE_BYTES)
			break; /* unfinished line: wait for more */
		/* a full line, or an over-long one split here */
		emit_line(ps, ps->buf, ps->len);
		ps->len = 0;
	}
}

static void
stream_close(struct pstream *ps)
{
	if (ps->len > 0) { /* a last line without a newline */
		emit_line(ps, ps->buf, ps->len);
		ps->len = 0;
	}
	loop_io_del(ps->io);
	ps->io = NULL;
	if (ps->fd != -1)
		close(ps->fd);
	ps->fd = -1;
}

/* Reads what is there; closes the stream at EOF or on error. */
static void
stream_read(struct pstream *ps, int until_empty)
{
	char buf[65536];
	ssize_t n;

	while (ps->fd != -1) {
		n = read(ps->fd, buf, sizeof(buf));
		if (n > 0) {
			stream_consume(ps, buf, (size_t)n);
			if (!until_empty)
				return; /* level-triggered: more comes later */
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		stream_close(ps); /* EOF or a real error */
	}
}

static void
on_stream(struct loop_io *io, int fd, unsigned events, void *arg)
{
	(void)io;
	(void)fd;
	(void)events;
	stream_read(arg, 0);
}

/* stdin */

static void
stdin_close(struct run_proc *p)
{
	loop_io_del(p->in_io);
	p->in_io = NULL;
	if (p->in_fd != -1)
		close(p->in_fd);
	p->in_fd = -1;
	free(p->in_buf);
	p->in_buf = NULL;
}

static loop_io_cb on_stdin;

/* Writes what the pipe takes; returns when it would block or is done. */
static void
stdin_write(struct run_proc *p)
{
	ssize_t n;

	while (p->in_off < p->in_len) {
		n = write(
		    p->in_fd, p->in_buf + p->in_off, p->in_len - p->in_off);
		if (n > 0) {
			p->in_off += (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN) {
			if (p->in_io == NULL &&
			    (p->in_io = loop_io_add(runner_loop(p->job->runner),
				 p->in_fd, LOOP_WRITE, on_stdin, p)) == NULL)
				break;
			return;
		}
		break; /* EPIPE: the task does not read its stdin */
	}
	stdin_close(p);
}

static void
on_stdin(struct loop_io *io, int fd, unsigned events, void *arg)
{
	(void)io;
	(void)fd;
	(void)events;
	stdin_write(arg);
}

/* signals to the group */

static void
signal_group(struct run_proc *p, int sig)
{
	if (p->pid <= 0)
		return;
	if (kill(-p->pid, sig) == -1 && errno == ESRCH)
		(void)kill(p->pid, sig);
}

static void
on_kill_timer(struct loop_timer *t, void *arg)
{
	struct run_proc *p = arg;

	(void)t;
	runner_job_ctx(p->job);
	log_debug("still there after the grace period, SIGKILL");
	runner_job_ctx(NULL);
	signal_group(p, SIGKILL);
}

static void
terminate(struct run_proc *p)
{
	if (p->terminating)
		return;
	p->terminating = 1;
	signal_group(p, SIGTERM);
	if (p->kill == NULL)
		p->kill = loop_timer_new(
		    runner_loop(p->job->runner), on_kill_timer, p);
	(void)loop_timer_after(p->kill, p->cfg->kill_grace_ms);
}

static void
on_timeout(struct loop_timer *t, void *arg)
{
	struct run_proc *p = arg;

	(void)t;
	runner_job_ctx(p->job);
	log_debug("timed out, SIGTERM to the process group");
	runner_job_ctx(NULL);
	p->timed_out = 1;
	terminate(p);
}

/* cleanup */

static void
proc_free(struct run_proc *p)
{
	if (p == NULL)
		return;
	loop_child_del(p->child); /* kills and reaps if still running */
	if (p->group > 0)	  /* killed by now, by whoever freed us */
		procguard_del(p->group);
	stdin_close(p);
	loop_io_del(p->out.io);
	loop_io_del(p->err.io);
	if (p->out.fd != -1)
		close(p->out.fd);
	if (p->err.fd != -1)
		close(p->err.fd);
	free(p->out.buf);
	free(p->err.buf);
	free(p->out.last);
	free(p->err.last);
	free(p->logs);
	loop_timer_del(p->timeout);
	loop_timer_del(p->kill);
	if (p->output_path != NULL) {
		(void)unlink(p->output_path);
		free(p->output_path);
	}
	free(p);
}

/* Reads $LOOM_OUTPUT: 0, or -1 when it is larger than allowed. */
static int
read_output_file(const char *path, char **buf, size_t *len)
{
	struct stat st;
	size_t cap, n = 0;
	ssize_t r;
	int fd;

	*buf = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0; /* the task removed it: no output */
	if (fstat(fd, &st) == -1 || st.st_size < 0) {
		close(fd);
		return 0;
	}
	if ((uint64_t)st.st_size > RUNNER_MAX_RESPONSE_BYTES) {
		close(fd);
		return -1;
	}
	cap = (size_t)st.st_size + 1;
	*buf = xmalloc(cap);
	while (n + 1 < cap && (r = read(fd, *buf + n, cap - 1 - n)) != 0) {
		if (r == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		n += (size_t)r;
	}
	(*buf)[n] = '\0';
	*len = n;
	close(fd);
	return 0;
}

static void
on_child(struct loop_child *c, pid_t pid, const siginfo_t *si, void *arg)
{
	struct run_proc *p = arg;
	struct runner_job *j = p->job;
	struct runner_proc_exit x;
	char *obuf = NULL;
	size_t olen = 0;
	jv res;

	(void)c;
	(void)pid;
	memset(&x, 0, sizeof(x));
	x.exited = si->si_code == CLD_EXITED;
	x.status = si->si_status;

	/* Stragglers in the group go too; then take what is in the pipes. */
	signal_group(p, SIGKILL);
	p->pid = -1;
	stream_read(&p->out, 1);
	stream_read(&p->err, 1);
	stream_close(&p->out);
	stream_close(&p->err);

	if (read_output_file(p->output_path, &obuf, &olen) == -1) {
		res = JV_OBJECT(jv_string("status"), jv_string("FAILED"),
		    jv_string("output"), jv_null(), jv_string("error"),
		    runner_error(ERR_TASK_FAILED,
			"the file $LOOM_OUTPUT is "
			"larger than %u bytes",
			RUNNER_MAX_RESPONSE_BYTES));
	} else {
		char *red;

		/* the output is stored too: no callback token in it */
		if (obuf != NULL &&
		    (red = redact(obuf, &olen, j->secrets, 2)) != NULL) {
			free(obuf);
			obuf = red;
		}
		x.output_file = obuf;
		x.output_file_len = olen;
		x.last_stdout = p->out.last;
		x.last_stderr = p->err.last;
		res = runner_proc_outcome(&x);
	}
	free(obuf);
	if (p->timed_out) {
		char d[32];

		duration_format(j->timeout_ms, d, sizeof(d));
		res = jv_object_set(
		    res, jv_string("status"), jv_string("FAILED"));
		res = jv_object_set(res, jv_string("output"), jv_null());
		res = jv_object_set(res, jv_string("error"),
		    runner_error(ERR_TIMEOUT, "timed out after %s", d));
	}
	if (p->logs_len > 0)
		res = jv_object_set(res, jv_string("logs"), logs_tail(p));
	runner_job_ctx(j);
	log_debug("process %d ended (%s %d)", (int)pid,
	    x.exited ? "exit" : "signal", x.status);
	runner_job_ctx(NULL);

	p->child = NULL; /* sd-event reaps it after we return */
	loop_child_del(c);
	j->proc = NULL;
	proc_free(p);
	runner_job_finish(j, res);
}

/* spawning */

static int
pipe_for_child(int fds[2], int child_end)
{
	if (pipe2(fds, O_CLOEXEC) == -1)
		return -1;
	/* dup2(fd, fd) would keep FD_CLOEXEC: keep child ends above 2. */
	if (fds[child_end] <= 2) {
		int nfd = fcntl(fds[child_end], F_DUPFD_CLOEXEC, 3);

		if (nfd == -1)
			return -1;
		close(fds[child_end]);
		fds[child_end] = nfd;
	}
	return fcntl(fds[!child_end], F_SETFL, O_NONBLOCK);
}

/* What the child of spawn_task() tells its parent, in their memory. */
struct spawn_note {
	volatile int err;   /* why it did not get to exec, or 0 */
	volatile int guard; /* its write to the guard: 1 done, -1
			     * failed, 0 not tried (it failed first) */
};

/*
 * The child's side of spawn_task(), between vfork() and exec: it runs in
 * the parent's memory while the parent waits, so system calls only, and
 * no stores but to the note and to its own frame (not inlined, so that
 * it cannot reuse a slot of spawn_task()'s frame that the parent still
 * needs).  Exits 127 when something fails, with the error number in the
 * note.
 */
static void __attribute__((noreturn, noinline))
child_exec(char *const argv[], char *const envp[], const char *workdir,
    const int fds[3], int guard_fd, struct spawn_note *note, pid_t parent)
{
	struct sigaction sa;
	sigset_t none;
	pid_t self;

	if (setpgid(0, 0) == -1 ||
	    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) == -1)
		goto fail;
	/* The parent may have died before prctl(): then no signal comes. */
	if (getppid() != parent)
		_exit(127);
	/* Our group with the guard before exec, while SIGPIPE is ignored. */
	self = getpid();
	if (guard_fd != -1)
		note->guard = write(guard_fd, &self, sizeof(self)) ==
			(ssize_t)sizeof(self) ?
		    1 :
		    -1;
	/* Every signal is blocked (the parent's handlers must not run
	 * here); ignored ones would stay ignored after exec. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL);
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) == -1)
			goto fail;
	if (workdir != NULL && chdir(workdir) == -1)
		goto fail;
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	execvpe(argv[0], argv, envp);
fail:
	note->err = errno ? errno : EINVAL;
	_exit(127);
}

/*
 * Starts argv in a new process group whose leader dies with us
 * (PR_SET_PDEATHSIG) and whose whole group the process guard kills if we
 * die (procguard.h): the child registers its group itself, before exec.
 * vfork() rather than fork(): no copy of loom-exec's page tables per
 * task, and we wait until the child has exec'd or failed, as
 * posix_spawn() does, whose child cannot call prctl().  Exec failures
 * come back as an error number.  Returns 0 or an error number.
 *
 * PR_SET_PDEATHSIG fires when the thread that forked exits, not the
 * process: this runs on the loop, in the main thread (the only other
 * threads are curl's resolvers, which never fork), so it fires when
 * loom-exec (or `loom run`) ends.
 */
static int
spawn_task(pid_t *pidp, char *const argv[], char *const envp[],
    const char *workdir, int in_fd, int out_fd, int err_fd)
{
	/*
	 * Not on the stack: the compiler must take it that vfork() wrote
	 * it (the loop's thread is the only one that starts tasks).
	 */
	static struct spawn_note note;
	const int fds[3] = { in_fd, out_fd, err_fd };
	sigset_t all, old;
	pid_t pid, self = getpid();
	int gfd, e;

	if (gettid() != self)
		log_warnx("a task started from a thread other than the main "
			  "one dies with that thread");
	if ((gfd = procguard_fd()) == -1)
		log_warn("no process guard for the task's process group");
	note.err = 0;
	note.guard = 0;
	sigfillset(&all);
	(void)pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = vfork();
	if (pid == 0)
		child_exec(argv, envp, workdir, fds, gfd, &note, self);
	e = errno;
	(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid == -1)
		return e;
	if (note.guard == -1) { /* the guard is gone (EPIPE) */
		log_warnx("no process guard for process group %d", (int)pid);
		procguard_lost();
	}
	if (note.err != 0) { /* it did not get to exec */
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		if (note.guard == 1)
			procguard_del(pid);
		return note.err;
	}
	*pidp = pid;
	return 0;
}

static void
fail_job(struct runner_job *j, jv error)
{
	runner_job_finish(j,
	    JV_OBJECT(jv_string("status"), jv_string("FAILED"),
		jv_string("output"), jv_null(), jv_string("error"), error));
}

/*
 * A directory's descriptor with an exclusive lock on it, or -1 (it is
 * not there, or locked: its runner lives).  flock() locks go with the
 * process that holds them, even when it is killed, and the descriptor is
 * closed at exec, so a task's own process never holds one.
 */
static int
lock_dir(int at, const char *name)
{
	int fd =
	    openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == -1) {
		(void)close(fd);
		fd = -1;
	}
	return fd;
}

/*
 * Removes the $LOOM_OUTPUT directories under tmp that a runner that is
 * gone left (ours, not locked: its process was killed before it could
 * remove them), with the files of its tasks in them.
 */
static void
sweep_output_dirs(const char *tmp)
{
	DIR *d = opendir(tmp);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		struct stat st;
		DIR *sub;
		struct dirent *f;
		int fd;

		if (strncmp(e->d_name, "loom-output-", 12) != 0 ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
			-1 ||
		    !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
		    (fd = lock_dir(dirfd(d), e->d_name)) < 0)
			continue;
		if ((sub = fdopendir(fcntl(fd, F_DUPFD_CLOEXEC, 0))) != NULL) {
			while ((f = readdir(sub)) != NULL)
				if (f->d_name[0] != '.')
					(void)unlinkat(
					    dirfd(sub), f->d_name, 0);
			closedir(sub);
		}
		(void)unlinkat(dirfd(d), e->d_name, AT_REMOVEDIR);
		(void)close(fd);
	}
	closedir(d);
}

/*
 * $LOOM_OUTPUT: a name not taken yet in a directory of the runner's own
 * (mode 0700, made on first use and again if it went), which the task
 * creates if it writes an output.  Not a file made for every task:
 * creating and removing an inode per task costs more than the rest of
 * its start on ext4, which scans for recently deleted inodes.  The
 * runner holds a lock on its directory while it lives; making one, it
 * first removes those that runners killed before they could left.
 */
static int
make_output_path(struct run_proc *p, struct runner *r)
{
	static uint64_t seq;
	struct runner_outdir *od = runner_outdir(r);

	if (od->path != NULL && access(od->path, W_OK | X_OK) == -1) {
		free(od->path); /* removed behind our back (a tmp cleaner) */
		od->path = NULL;
		if (od->lock_fd >= 0)
			(void)close(od->lock_fd);
		od->lock_fd = -1;
	}
	if (od->path == NULL) {
		const char *tmp = getenv("TMPDIR");
		char *d;

		if (tmp == NULL || *tmp == '\0')
			tmp = "/tmp";
		sweep_output_dirs(tmp);
		d = xasprintf("%s/loom-output-XXXXXX", tmp);
		if (mkdtemp(d) == NULL) {
			free(d);
			return -1;
		}
		od->path = d;
		od->lock_fd = lock_dir(AT_FDCWD, d);
	}
	p->output_path =
	    xasprintf("%s/%llu", od->path, (unsigned long long)++seq);
	return 0;
}

/*
 * The task's "workdir" in *workdir (owned; NULL when not given), checked
 * to be a directory.  Returns -1 after failing the job.
 */
static int
task_workdir(struct runner_job *j, char **workdir)
{
	jv wd;

	*workdir = NULL;
	wd = jv_object_get(jv_copy(j->task), jv_string("workdir"));
	if (jv_get_kind(wd) == JV_KIND_STRING &&
	    jv_string_length_bytes(jv_copy(wd)) > 0) {
		struct stat st;

		*workdir = xstrdup(jv_string_value(wd));
		if (stat(*workdir, &st) == -1 || !S_ISDIR(st.st_mode)) {
			fail_job(j,
			    runner_error(ERR_TASK_FAILED,
				"workdir "
				"\"%s\": %s",
				*workdir,
				errno ? strerror(errno) : "not a directory"));
			jv_free(wd);
			return -1;
		}
	}
	jv_free(wd);
	return 0;
}

/*
 * Starts the child with its stdin, stdout and stderr on pipes whose
 * other ends p keeps.  Returns -1 after failing the job.
 */
static int
proc_spawn(struct run_proc *p, struct runner_job *j, const struct strv *argv,
    const struct strv *env, const char *workdir)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
	int e;

	if (pipe_for_child(in, 0) == -1 || pipe_for_child(out, 1) == -1 ||
	    pipe_for_child(err, 1) == -1) {
		fail_job(j,
		    runner_error(ERR_TASK_FAILED, "pipe: %s", strerror(errno)));
		for (int i = 0; i < 2; i++) {
			if (in[i] != -1)
				close(in[i]);
			if (out[i] != -1)
				close(out[i]);
			if (err[i] != -1)
				close(err[i]);
		}
		return -1;
	}

	e = spawn_task(
	    &p->pid, argv->v, env->v, workdir, in[0], out[1], err[1]);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	p->in_fd = in[1];
	p->out.fd = out[0];
	p->err.fd = err[0];
	if (e != 0) {
		p->pid = -1;
		fail_job(j,
		    runner_error(ERR_TASK_FAILED,
			"cannot run "
			"\"%s\": %s%s",
			argv->v[0], strerror(e),
			j->kind == RUN_JAVA && e == ENOENT ?
			    " (set JAVA_HOME or PATH)" :
			    ""));
		return -1;
	}
	p->group = p->pid;
	return 0;
}

/*
 * Watches the started child: its exit, its output pipes, its timeout.
 * Returns -1 after failing the job and killing the child.
 */
static int
proc_watch(struct runner *r, struct run_proc *p, struct runner_job *j)
{
	if ((p->child = loop_child_add(runner_loop(r), p->pid, on_child, p)) ==
	    NULL) {
		fail_job(j,
		    runner_error(ERR_TASK_FAILED,
			"cannot watch "
			"process %d: %s",
			(int)p->pid, strerror(errno)));
		signal_group(p, SIGKILL);
		/* Not watched, so reap it here; SIGKILL makes this quick. */
		while (waitpid(p->pid, NULL, 0) == -1 && errno == EINTR)
			;
		return -1;
	}
	if ((p->out.io = loop_io_add(runner_loop(r), p->out.fd, LOOP_READ,
		 on_stream, &p->out)) == NULL ||
	    (p->err.io = loop_io_add(runner_loop(r), p->err.fd, LOOP_READ,
		 on_stream, &p->err)) == NULL) {
		fail_job(j,
		    runner_error(ERR_TASK_FAILED,
			"cannot watch the "
			"output pipes: %s",
			strerror(errno)));
		signal_group(p, SIGKILL);
		return -1; /* deleting the child watch reaps it */
	}
	p->timeout = loop_timer_new(runner_loop(r), on_timeout, p);
	(void)loop_timer_after(p->timeout, j->timeout_ms);
	return 0;
}

void
run_proc_start(struct runner *r, struct runner_job *j)
{
	struct run_proc *p;
	struct strv argv = { 0 }, env = { 0 };
	char *msg = NULL, *workdir = NULL;

	p = xcalloc(1, sizeof(*p));
	p->job = j;
	p->cfg = runner_cfg(r);
	p->pid = -1;
	p->in_fd = p->out.fd = p->err.fd = -1;
	p->out.p = p->err.p = p;
	p->out.name = "stdout";
	p->err.name = "stderr";

	if (build_argv(&argv, j, &msg) == -1) {
		fail_job(j, runner_error(ERR_VALIDATION, "%s", msg));
		goto fail;
	}
	if (task_workdir(j, &workdir) == -1)
		goto fail;
	if (make_output_path(p, r) == -1) {
		fail_job(j,
		    runner_error(ERR_TASK_FAILED,
			"cannot create a "
			"directory for output files in $TMPDIR: %s",
			strerror(errno)));
		goto fail;
	}
	build_env(&env, j, p->output_path);

	if (proc_spawn(p, j, &argv, &env, workdir) == -1)
		goto fail;
	runner_job_ctx(j);
	log_debug("started %s as process %d", argv.v[0], (int)p->pid);
	runner_job_ctx(NULL);
	if (proc_watch(r, p, j) == -1)
		goto fail;

	p->in_buf = xasprintf("%s\n", j->envelope);
	p->in_len = j->envelope_len + 1;
	j->proc = p;
	stdin_write(p);

	strv_free(&argv);
	strv_free(&env);
	free(workdir);
	return;

fail:
	strv_free(&argv);
	strv_free(&env);
	free(workdir);
	free(msg);
	proc_free(p);
}

void
run_proc_cancel(struct runner_job *j)
{
	if (j->proc != NULL)
		terminate(j->proc);
}

void
run_proc_abort(struct runner_job *j)
{
	struct run_proc *p = j->proc;

	if (p == NULL)
		return;
	signal_group(p, SIGKILL);
	j->proc = NULL;
	proc_free(p); /* the child watch reaps the killed leader */
}
