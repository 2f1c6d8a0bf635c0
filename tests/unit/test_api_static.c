/*
 * test_api_static: the pure parts of loom-api's web UI serving
 * (cmd/loom-api/api_static.c): which decoded paths may name a UI file,
 * and the Content-Type of a file name.
 */
#include "cmd/loom-api/api.h"
#include "t.h"

static const struct {
	const char *path;
	int ok;
} paths[] = {
	{ "/", 1 },
	{ "/index.html", 1 },
	{ "/assets/index-Ab12.js", 1 },
	{ "/runs/exec-0123/logs", 1 },
	{ "/workflows/daily-report/", 1 },
	{ "/a.b/c", 1 },
	{ "/api", 0 },
	{ "/api/", 0 },
	{ "/api/v1/nosuch", 0 },
	{ "/apiary", 1 },
	{ "/..", 0 },
	{ "/../etc/passwd", 0 },
	{ "/assets/../../etc/passwd", 0 },
	{ "/assets/..", 0 },
	{ "/.git/config", 0 },
	{ "/assets/.hidden", 0 },
	{ "/./index.html", 0 },
	{ "//etc/passwd", 0 },
	{ "/assets//x.js", 0 },
	{ "/a\\..\\b", 0 },
	{ "relative", 0 },
	{ "", 0 },
};

static const struct {
	const char *name, *type;
} mimes[] = {
	{ "/index.html", "text/html; charset=utf-8" },
	{ "/assets/index-Ab12.js", "text/javascript; charset=utf-8" },
	{ "/assets/index-Ab12.CSS", "text/css; charset=utf-8" },
	{ "/logo.svg", "image/svg+xml" },
	{ "/assets/font.woff2", "font/woff2" },
	{ "/favicon.ico", "image/x-icon" },
	{ "/assets/index.js.map", "application/json" },
	{ "/README", "application/octet-stream" },
	{ "/dir.d/README", "application/octet-stream" },
	{ "/x.exe", "application/octet-stream" },
};

int
main(void)
{
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		is_int(api_static_path_ok(paths[i].path), paths[i].ok,
		    "path '%s'", paths[i].path);
	for (size_t i = 0; i < sizeof(mimes) / sizeof(mimes[0]); i++)
		is_str(api_static_mime(mimes[i].name), mimes[i].type,
		    "mime of '%s'", mimes[i].name);
	return t_done();
}
