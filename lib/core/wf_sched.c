/*
 * wf_sched: the workflow keys that say when and how runs start (part of
 * the loader, see workflow.c): catchup, catchupWindow, catchupMax,
 * jitter, pauseOnFailure and triggers.  loom-sched (cmd/loom-sched) acts
 * on them; loom-workflow(5) documents them.
 *
 * A file trigger's path is an absolute glob whose directory part has no
 * wildcard (inotify watches a directory; the glob picks names in it).
 * Whether the directory is one a scheduler may watch is the scheduler's
 * and loom-api's question (sched.file_roots in loom.conf), not the
 * loader's: the pure core knows no configuration.
 */
#include <stdlib.h>
#include <string.h>

#include "schedule.h"
#include "wf_int.h"
#include "xalloc.h"

#define MAX_DELAY_MS (24 * 3600 * 1000LL)

static void
parse_bool(struct wctx *c, const struct ynode *n, const char *key, int *out)
{
	if (n->type != YN_SCALAR || n->kind != YS_BOOL) {
		expect(c, n, "true or false", key, 0);
		return;
	}
	*out = n->u.str[0] == 't' || n->u.str[0] == 'T';
}

static unsigned
parse_file_events(struct wctx *c, const struct ynode *n)
{
	unsigned events = 0;
	size_t count = 0;
	char **names = get_text_list(c, n, "events", 1, &count);

	if (names == NULL)
		return 0;
	for (size_t i = 0; i < count; i++) {
		size_t j;

		for (j = 0; j < NELEM(file_event_names); j++)
			if (strcmp(names[i], file_event_names[j]) == 0)
				break;
		if (j < NELEM(file_event_names)) {
			events |= 1u << j;
			continue;
		}
		char *list = join_or(file_event_names, NELEM(file_event_names));
		report(c, n, "unknown file event '%s': expected %s", names[i],
		    list);
		free(list);
	}
	free_strv(names, count);
	if (count == 0)
		report(c, n,
		    "'events' is empty: name at least one of "
		    "create, close_write, moved_to, delete, modify");
	return events;
}

/* The path: absolute, no "..", wildcards only in its last part. */
static char *
parse_file_path(struct wctx *c, const struct ynode *n)
{
	const char *p = get_nonempty(c, n, "path"), *slash;

	if (p == NULL)
		return NULL;
	slash = strrchr(p, '/');
	if (p[0] != '/') {
		report(c, n, "file trigger path '%s' is not absolute", p);
		return NULL;
	}
	if (strstr(p, "/../") != NULL || strstr(p, "/./") != NULL ||
	    (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0)) {
		report(c, n, "file trigger path '%s' has '.' or '..' parts", p);
		return NULL;
	}
	if (strpbrk(p, "*?[") != NULL && strpbrk(p, "*?[") < slash) {
		report(c, n,
		    "file trigger path '%s' has a wildcard in a directory: "
		    "only the last part may have one",
		    p);
		return NULL;
	}
	if (slash[1] == '\0') {
		report(c, n,
		    "file trigger path '%s' names a directory: add a "
		    "file name or a pattern such as '*'",
		    p);
		return NULL;
	}
	return xstrdup(p);
}

static void
parse_file_trigger(struct wctx *c, const struct ynode *n, struct wf_trigger *t)
{
	const struct ynode *s[FTK__COUNT], *unknown[32];
	size_t nu;

	t->kind = WF_TRIGGER_FILE;
	if (expect_map(c, n, "file") < 0)
		return;
	nu = map_slots(n, file_trigger_keys, FTK__COUNT, s, NULL, unknown, 32);
	for (size_t i = 0; i < nu; i++)
		report_unknown(c, unknown[i], "a file trigger",
		    file_trigger_keys, FTK__COUNT);
	if (s[FTK_PATH] == NULL)
		report(c, n, "a file trigger needs a 'path'");
	else
		t->path = parse_file_path(c, s[FTK_PATH]);
	if (s[FTK_EVENTS] == NULL)
		t->events = WF_FILE_CLOSE_WRITE | WF_FILE_MOVED_TO;
	else
		t->events = parse_file_events(c, s[FTK_EVENTS]);
}

static void
parse_trigger(struct wctx *c, const struct ynode *n, struct wf_trigger *t)
{
	const struct ynode *s[TGK__COUNT], *unknown[32];
	size_t nu;

	if (expect_map(c, n, "triggers") < 0)
		return;
	nu = map_slots(n, trigger_keys, TGK__COUNT, s, NULL, unknown, 32);
	for (size_t i = 0; i < nu; i++)
		report_unknown(
		    c, unknown[i], "a trigger", trigger_keys, TGK__COUNT);
	if ((s[TGK_FILE] != NULL) == (s[TGK_MESSAGE] != NULL))
		report(c, n,
		    "a trigger needs exactly one of 'file' or "
		    "'message'");
	else if (s[TGK_FILE] != NULL)
		parse_file_trigger(c, s[TGK_FILE], t);
	else {
		t->kind = WF_TRIGGER_MESSAGE;
		if (s[TGK_MESSAGE]->type != YN_SCALAR ||
		    s[TGK_MESSAGE]->kind != YS_NULL)
			(void)expect_map(c, s[TGK_MESSAGE], "message");
	}
	if (s[TGK_DELAY] &&
	    get_duration(c, s[TGK_DELAY], "delay", 0, &t->delay_ms) == 0 &&
	    t->delay_ms > MAX_DELAY_MS)
		report(c, s[TGK_DELAY], "'delay' is longer than 1d");
	if (s[TGK_DEBOUNCE] &&
	    get_duration(c, s[TGK_DEBOUNCE], "debounce", 0, &t->debounce_ms) ==
		0 &&
	    t->debounce_ms > MAX_DELAY_MS)
		report(c, s[TGK_DEBOUNCE], "'debounce' is longer than 1d");
}

static void
parse_triggers(struct wctx *c, const struct ynode *n)
{
	struct workflow *wf = c->wf;
	int messages = 0;

	if (n->type != YN_SEQ) {
		expect(c, n, "a list of triggers", "triggers", 0);
		return;
	}
	if (n->n > WF_MAX_TRIGGERS) {
		report(c, n, "too many triggers (%zu): at most %d", n->n,
		    WF_MAX_TRIGGERS);
		return;
	}
	wf->triggers = xcalloc(n->n ? n->n : 1, sizeof(*wf->triggers));
	wf->ntriggers = n->n;
	for (size_t i = 0; i < n->n; i++) {
		parse_trigger(c, n->u.items[i], &wf->triggers[i]);
		if (wf->triggers[i].kind == WF_TRIGGER_MESSAGE &&
		    ++messages == 2)
			report(c, n->u.items[i],
			    "a second 'message' trigger: a workflow has one");
	}
}

/*
 * A file trigger's run gets its event in the param 'file'; a workflow
 * that declares params must declare that one too, or every such run
 * would be refused for an unknown param.
 */
static void
check_file_param(struct wctx *c, const struct ynode *at)
{
	struct workflow *wf = c->wf;
	int files = 0;

	for (size_t i = 0; i < wf->ntriggers; i++)
		files |= wf->triggers[i].kind == WF_TRIGGER_FILE;
	if (files && jv_get_kind(wf->params) == JV_KIND_OBJECT &&
	    jv_object_length(jv_copy(wf->params)) > 0 &&
	    !jv_object_has(jv_copy(wf->params), jv_string("file")))
		report(c, at,
		    "a file trigger passes its event in the param 'file', "
		    "but 'params' does not declare it: add 'file: null' to "
		    "params");
}

void
parse_sched_keys(struct wctx *c, const struct ynode *const *s)
{
	struct workflow *wf = c->wf;
	int64_t v;
	int p;

	if (s[WK_CATCHUP] &&
	    (p = get_enum(c, s[WK_CATCHUP], "catchup", catchup_names,
		 NELEM(catchup_names), 0)) >= 0)
		wf->catchup = (enum catchup_policy)p;
	if (s[WK_CATCHUPWINDOW])
		get_duration(c, s[WK_CATCHUPWINDOW], "catchupWindow", 1,
		    &wf->catchup_window_ms);
	if (s[WK_CATCHUPMAX] &&
	    get_int(c, s[WK_CATCHUPMAX], "catchupMax", 1, SCHED_CATCHUP_MAX,
		&v) == 0)
		wf->catchup_max = (int)v;
	if (s[WK_JITTER] &&
	    get_duration(c, s[WK_JITTER], "jitter", 0, &wf->jitter_ms) == 0 &&
	    wf->jitter_ms > MAX_DELAY_MS)
		report(c, s[WK_JITTER], "'jitter' is longer than 1d");
	if (s[WK_PAUSEONFAILURE])
		parse_bool(c, s[WK_PAUSEONFAILURE], "pauseOnFailure",
		    &wf->pause_on_failure);
	if (s[WK_TRIGGERS]) {
		parse_triggers(c, s[WK_TRIGGERS]);
		check_file_param(c, s[WK_TRIGGERS]);
	}
}
