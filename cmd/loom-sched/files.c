/*
 * files: file triggers, watched with inotify.
 *
 * A trigger's path is an absolute glob whose last part may have
 * wildcards ("/srv/in/\*.csv"); its directory is watched for the events
 * the trigger names, and a name that matches the glob becomes a row of
 * trigger_queue whose input is {"file": {"path", "event", "events":
 * [{"path", "event"}, ...]}} (triggers.c collapses a debounced burst into
 * one row, its events listed).  Only directories under one of
 * sched.file_roots (loom.conf(5)) are watched, resolved with realpath so
 * a symbolic link cannot lead out: a workflow cannot watch /etc.  An
 * inotify queue overflow is logged; the events lost with it are lost.
 *
 * Several schedulers on one host all see an event; each queues it with a
 * claim of the event's identity (event_key) that only the first one gets
 * (triggers_enqueue), so it is one run, and none is lost while any
 * scheduler watching runs.  Only one scheduler watching (the holder of a
 * lock) would lose the events of the moments between its end and another
 * taking over, and would watch nothing when it runs on a host that lacks
 * the directory.
 */
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/workflow.h"
#include "core/xalloc.h"
#include "sched.h"
#include "util/log.h"
#include "util/loop.h"

static const struct {
	unsigned bit;
	uint32_t mask;
	const char *name;
} event_map[] = {
	{ WF_FILE_CREATE, IN_CREATE, "create" },
	{ WF_FILE_CLOSE_WRITE, IN_CLOSE_WRITE, "close_write" },
	{ WF_FILE_MOVED_TO, IN_MOVED_TO, "moved_to" },
	{ WF_FILE_DELETE, IN_DELETE, "delete" },
	{ WF_FILE_MODIFY, IN_MODIFY, "modify" },
};

#define NEVENTS (sizeof(event_map) / sizeof(event_map[0]))

int
files_root_ok(const struct sched_opts *o, const char *dir)
{
	char real[PATH_MAX];

	if (realpath(dir, real) == NULL)
		return -1;
	for (char **r = o->file_roots; r && *r; r++) {
		size_t n = strlen(*r);

		while (n > 1 && (*r)[n - 1] == '/')
			n--;
		if (strncmp(real, *r, n) == 0 &&
		    (real[n] == '/' || real[n] == '\0'))
			return 1;
	}
	return 0;
}

static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash == path ? xstrdup("/") :
			       xstrndup(path, (size_t)(slash - path));
}

void
files_watch(struct sched *s, struct swf *w)
{
	for (size_t i = 0; s->inotify_fd >= 0 && i < w->wf->ntriggers; i++) {
		const struct wf_trigger *t = &w->wf->triggers[i];
		uint32_t mask = 0;
		char *dir;
		int ok;

		if (t->kind != WF_TRIGGER_FILE || w->watches[i] >= 0)
			continue;
		dir = dir_of(t->path);
		if ((ok = files_root_ok(s->o, dir)) <= 0) {
			log_warnx(
			    "workflow %s: file trigger %s not watched: %s",
			    w->id, t->path,
			    ok < 0 ? strerror(errno) :
				     "its directory is not under "
				     "sched.file_roots (loom.conf)");
			free(dir);
			continue;
		}
		for (size_t e = 0; e < NEVENTS; e++)
			if (t->events & event_map[e].bit)
				mask |= event_map[e].mask;
		w->watches[i] =
		    inotify_add_watch(s->inotify_fd, dir, mask | IN_ONLYDIR);
		if (w->watches[i] < 0)
			log_warn("workflow %s: watching %s", w->id, dir);
		else
			log_info("workflow %s: watching %s", w->id, t->path);
		free(dir);
	}
}

/*
 * inotify gives one watch descriptor per directory, shared by every
 * add_watch of it (the last mask wins): remove one only when no other
 * trigger uses it.  The rare case of two workflows on one directory
 * with different events is documented in loom-sched(8).
 */
void
files_unwatch(struct sched *s, struct swf *w)
{
	for (size_t i = 0; w->watches && i < w->wf->ntriggers; i++) {
		int wd = w->watches[i], used = 0;

		if (wd < 0)
			continue;
		w->watches[i] = -1;
		for (size_t k = 0; k < s->nwfs; k++)
			for (size_t j = 0;
			     s->wfs[k]->watches && j < s->wfs[k]->wf->ntriggers;
			     j++)
				used |= s->wfs[k]->watches[j] == wd;
		if (!used)
			inotify_rm_watch(s->inotify_fd, wd);
	}
}

/* The input of one file event: {"file": {"path", "event", "events"}}. */
static char *
event_input(const char *path, const char *event)
{
	jv one = jv_object_set(
	    jv_object_set(jv_object(), jv_string("path"), jv_string(path)),
	    jv_string("event"), jv_string(event));
	jv f = jv_object_set(jv_copy(one), jv_string("events"),
	    jv_array_append(jv_array(), one));
	jv in =
	    jv_dump_string(jv_object_set(jv_object(), jv_string("file"), f), 0);
	char *input = xstrdup(jv_string_value(in));

	jv_free(in);
	return input;
}

/*
 * What makes one file event the same for every scheduler that sees it
 * (they share no numbering of events): the workflow, the trigger, the
 * event, the path, and the file's stat as it is now -- device, inode,
 * modification and change times (ns), size -- or, for a delete (and a
 * file already gone), its directory's.  Two schedulers reading a file
 * that changed again in between make two keys: a run too many, never one
 * too few.  Returns the key (malloc'd), or NULL when neither stat can be
 * read: the event is then queued without a claim.
 */
static char *
event_key(const struct swf *w, size_t trigger, const char *event,
    const char *path, const char *dir)
{
	struct stat st;
	const char *of = "file";

	if (strcmp(event, "delete") == 0 || lstat(path, &st) < 0) {
		if (stat(dir, &st) < 0)
			return NULL;
		of = "dir";
	}
	return xasprintf(
	    "%s\n%zu\n%s\n%s\n%s:%ju:%ju:%lld.%09ld:%lld.%09ld:%lld", w->id,
	    trigger, event, path, of, (uintmax_t)st.st_dev,
	    (uintmax_t)st.st_ino, (long long)st.st_mtim.tv_sec,
	    st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec,
	    st.st_ctim.tv_nsec, (long long)st.st_size);
}

/* Event e (event_map's) of trigger i of w on name: its row. */
static void
trigger_event(
    struct sched *s, struct swf *w, size_t i, size_t e, const char *name)
{
	const struct wf_trigger *t = &w->wf->triggers[i];
	char *dir = dir_of(t->path), *path, *input, *key, debounce[300];

	path = xasprintf("%s/%s", strcmp(dir, "/") ? dir : "", name);
	input = event_input(path, event_map[e].name);
	key = event_key(w, i, event_map[e].name, path, dir);
	snprintf(debounce, sizeof(debounce), "file:%s:%zu", w->id, i);
	s->file_events++;
	if (triggers_enqueue(s, w->id, input, "file", t->delay_ms,
		t->debounce_ms > 0 ? debounce : NULL, t->debounce_ms, key) == 0)
		log_debug("workflow %s: %s %s: queued by another scheduler",
		    w->id, event_map[e].name, path);
	else
		log_debug("workflow %s: %s %s", w->id, event_map[e].name, path);
	free(key);
	free(input);
	free(path);
	free(dir);
}

/* One event of watch wd on name: a row for each trigger it matches. */
static void
file_event(struct sched *s, const struct inotify_event *ev)
{
	for (size_t k = 0; k < s->nwfs; k++) {
		struct swf *w = s->wfs[k];

		for (size_t i = 0; w->watches && i < w->wf->ntriggers; i++) {
			const char *glob;

			if (w->watches[i] != ev->wd || w->paused)
				continue;
			glob = strrchr(w->wf->triggers[i].path, '/') + 1;
			if (fnmatch(glob, ev->name, FNM_PERIOD) != 0)
				continue;
			for (size_t e = 0; e < NEVENTS; e++)
				if ((ev->mask & event_map[e].mask) &&
				    (w->wf->triggers[i].events &
					event_map[e].bit))
					trigger_event(s, w, i, e, ev->name);
		}
	}
}

static void
on_inotify(struct loop_io *io, int fd, unsigned events, void *arg)
{
	struct sched *s = arg;
	char buf[16384]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const void *)p;

			if (ev->mask & IN_Q_OVERFLOW)
				log_warnx("inotify: queue overflow: file "
					  "events were lost");
			else if (ev->len > 0)
				file_event(s, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
	triggers_prune_file_events(s, loop_mono_ms(s->loop));
	sched_kick(s);
}

int
files_init(struct sched *s)
{
	s->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->inotify_fd < 0)
		return -1;
	s->inotify_io =
	    loop_io_add(s->loop, s->inotify_fd, LOOP_READ, on_inotify, s);
	return s->inotify_io ? 0 : -1;
}

void
files_fini(struct sched *s)
{
	loop_io_del(s->inotify_io);
	s->inotify_io = NULL;
	if (s->inotify_fd >= 0)
		close(s->inotify_fd);
	s->inotify_fd = -1;
}
