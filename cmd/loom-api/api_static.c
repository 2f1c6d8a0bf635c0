/*
 * api_static: the web UI's files (ui/dist, installed as share/loom/ui),
 * served at / by loom-api (loom-api(8), WEB UI).
 *
 * A GET or HEAD that no API route takes comes here (request.c) when a UI
 * directory is set.  Paths under /api/ are never served from it: an
 * unknown API path keeps its JSON 404.  A path names a file below the UI
 * directory; a segment that is empty, "..", or starts with a dot is
 * refused (404), and the file's real path (symbolic links resolved) must
 * still lie inside the directory's.  A path whose last segment has no
 * dot and names no file is one of the UI's own pages (/runs/exec-…) and
 * gets index.html (the SPA fallback); a missing asset is a 404.
 *
 * Caching: Vite names the files under assets/ by a hash of their
 * content, so they may be kept for a year; index.html and the rest must
 * be asked again (no-cache) so that a new build is seen at once, which
 * costs a 304 when If-Modified-Since is the file's Last-Modified.
 *
 * The directory is api.ui_dir, or --ui-dir; by default share/loom/ui
 * next to the program's bin/ (an installed tree, or a build tree, where
 * make copies ui/dist), else LOOM_DATADIR/ui.  "none" turns it off.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "util/config.h"
#include "core/xalloc.h"

/*
 * The UI loads only its own files and speaks only to this server; React
 * Flow positions nodes with style attributes, hence unsafe-inline for
 * styles (not scripts).  No other site may frame it.
 */
#define UI_CSP \
	"default-src 'self'; script-src 'self'; style-src 'self' " \
	"'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " \
	"frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

struct mime {
	const char *ext, *type;
};

static const struct mime mimes[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "mjs", "text/javascript; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "json", "application/json" },
	{ "map", "application/json" },
	{ "svg", "image/svg+xml" },
	{ "png", "image/png" },
	{ "ico", "image/x-icon" },
	{ "jpg", "image/jpeg" },
	{ "webp", "image/webp" },
	{ "woff", "font/woff" },
	{ "woff2", "font/woff2" },
	{ "txt", "text/plain; charset=utf-8" },
	{ "webmanifest", "application/manifest+json" },
	{ "wasm", "application/wasm" },
};

const char *
api_static_mime(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(slash ? slash : path, '.');

	if (dot != NULL)
		for (size_t i = 0; i < sizeof(mimes) / sizeof(mimes[0]); i++)
			if (strcasecmp(dot + 1, mimes[i].ext) == 0)
				return mimes[i].type;
	return "application/octet-stream";
}

int
api_static_path_ok(const char *path)
{
	const char *p = path;

	if (path[0] != '/' || strchr(path, '\\') != NULL)
		return 0;
	if (strcmp(path, "/api") == 0 || strncmp(path, "/api/", 5) == 0)
		return 0;
	while (*p == '/') {
		const char *seg = p + 1, *end = strchrnul(seg, '/');

		if (end == seg && *end == '/') /* "//" */
			return 0;
		if (seg[0] == '.' && end != seg) /* "..", ".", ".git" */
			return 0;
		p = end;
	}
	return 1;
}

/* Whether the last segment of path looks like a file name (has a dot). */
static int
names_a_file(const char *path)
{
	const char *slash = strrchr(path, '/');

	return strchr(slash ? slash + 1 : path, '.') != NULL;
}

static char *
default_ui_dir(void)
{
	char exe[PATH_MAX], *p;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	struct stat st;

	if (n > 0) {
		exe[n] = '\0';
		if ((p = strrchr(exe, '/')) != NULL) {
			*p = '\0';
			p = xasprintf("%s/../share/loom/ui", exe);
			if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
				return p;
			free(p);
		}
	}
	return xstrdup(LOOM_DATADIR "/ui");
}

void
api_static_options_load(struct api_options *o, const struct config *cfg)
{
	const char *v = config_get(cfg, "api.ui_dir", "");

	free(o->ui_dir);
	o->ui_dir = NULL;
	if (strcmp(v, "none") == 0)
		return;
	o->ui_dir = *v ? xstrdup(v) : default_ui_dir();
}

void
api_static_set_dir(struct api_options *o, const char *dir)
{
	free(o->ui_dir);
	o->ui_dir = strcmp(dir, "none") == 0 ? NULL : xstrdup(dir);
}

void
api_static_announce(struct api_options *o)
{
	char *index, *real;

	if (o->ui_dir == NULL) {
		log_info("web UI: off (api.ui_dir = none)");
		return;
	}
	if ((real = realpath(o->ui_dir, NULL)) == NULL) {
		log_info("web UI: off: %s: %s", o->ui_dir, strerror(errno));
		free(o->ui_dir);
		o->ui_dir = NULL;
		return;
	}
	free(o->ui_dir);
	o->ui_dir = real;
	index = xasprintf("%s/index.html", real);
	if (access(index, R_OK) < 0)
		log_info("web UI: off: %s: %s", index, strerror(errno));
	else
		log_info("web UI: serving %s", real);
	free(index);
}

/*
 * Opens dir + path when it is a regular file inside dir, else -1.
 * *st is its status.
 */
static int
open_inside(const char *dir, const char *path, struct stat *st)
{
	char *want = xasprintf("%s%s", dir, path), *real;
	size_t dlen = strlen(dir);
	int fd = -1;

	real = realpath(want, NULL);
	free(want);
	if (real == NULL)
		return -1;
	if (strncmp(real, dir, dlen) == 0 && real[dlen] == '/' &&
	    (fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) >= 0 &&
	    (fstat(fd, st) < 0 || !S_ISREG(st->st_mode))) {
		close(fd);
		fd = -1;
	}
	free(real);
	return fd;
}

/* The file's time as an HTTP date (Last-Modified, If-Modified-Since). */
static void
http_date(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/*
 * Answers with the file fd (which MHD closes), or 304 when the client's
 * copy is as new (If-Modified-Since names the file's time exactly).
 */
static enum MHD_Result
send_file(struct api_conn *rc, int fd, const struct stat *st, const char *name)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	int hashed = strncmp(name, "/assets/", 8) == 0, status = 200;
	const char *ims = MHD_lookup_connection_value(
	    rc->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MODIFIED_SINCE);
	char date[64];

	http_date(st->st_mtime, date, sizeof(date));
	if (ims != NULL && strcmp(ims, date) == 0) {
		close(fd);
		status = 304;
		resp = MHD_create_response_from_buffer(
		    0, NULL, MHD_RESPMEM_PERSISTENT);
	} else
		resp = MHD_create_response_from_fd((uint64_t)st->st_size, fd);
	if (resp == NULL) {
		if (status == 200)
			close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Last-Modified", date);
	MHD_add_response_header(resp, "Content-Type", api_static_mime(name));
	MHD_add_response_header(resp, "Cache-Control",
	    hashed ? "public, max-age=31536000, immutable" : "no-cache");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Content-Security-Policy", UI_CSP);
	/* resp_len sizes libpq's buffers (thread_db.c); a file never was in
	 * them, so a large one must not make the thread reconnect */
	rc->resp_len = 0;
	ret = MHD_queue_response(rc->mc, (unsigned)status, resp);
	MHD_destroy_response(resp);
	if (log_get_level() >= LOG_LVL_DEBUG)
		api_log_request(rc->method, rc->rq.path, status,
		    api_mono_ms() - rc->t0, name);
	return ret;
}

int
api_static_serve(struct api_conn *rc, enum MHD_Result *ret)
{
	const char *dir = rc->api->opt->ui_dir, *path = rc->rq.path;
	struct stat st;
	int fd;

	if (dir == NULL || strcmp(rc->rq.method, "GET") != 0 ||
	    !api_static_path_ok(path))
		return 0;
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	if ((fd = open_inside(dir, path, &st)) >= 0) {
		*ret = send_file(rc, fd, &st, path);
		return 200;
	}
	if (names_a_file(path))
		return 0;
	if ((fd = open_inside(dir, "/index.html", &st)) < 0)
		return 0;
	*ret = send_file(rc, fd, &st, "/index.html");
	return 200;
}
