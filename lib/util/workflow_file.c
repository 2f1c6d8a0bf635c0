/* workflow_file: see workflow_file.h. */
#include "workflow_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/xalloc.h"

/*
 * Reads fd to the end (at most one byte over the cap, so an oversized pipe
 * is refused without reading it all) and loads what it holds.
 */
struct workflow *
workflow_load_fd_opts(
    int fd, const char *name, const struct workflow_opts *o, struct diags *d)
{
	struct workflow *wf;
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap = 0;
	ssize_t r;
	int regular;

	if (fstat(fd, &st) < 0) {
		diags_add(d, name, 0, 0, "cannot read: %s", strerror(errno));
		return NULL;
	}
	if (S_ISDIR(st.st_mode)) {
		diags_add(d, name, 0, 0, "cannot read: %s", strerror(EISDIR));
		return NULL;
	}
	regular = S_ISREG(st.st_mode);
	if (regular && (uintmax_t)st.st_size > WORKFLOW_MAX_BYTES) {
		diags_add(d, name, 0, 0,
		    "file is too large: %jd bytes (the "
		    "limit is %u)",
		    (intmax_t)st.st_size, WORKFLOW_MAX_BYTES);
		return NULL;
	}
	/*
	 * A regular file is read into a buffer of its size, plus one byte to
	 * see the end without growing; a pipe grows the buffer as it goes.
	 */
	if (regular && st.st_size > 0) {
		cap = (size_t)st.st_size + 1;
		buf = xmalloc(cap);
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 64 * 1024;
			buf = xreallocarray(buf, cap, 1);
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			diags_add(
			    d, name, 0, 0, "cannot read: %s", strerror(errno));
			free(buf);
			return NULL;
		}
		if (r == 0 || (len += (size_t)r) > WORKFLOW_MAX_BYTES)
			break;
	}
	wf = workflow_load_buf_opts(name, buf, len, o, d);
	free(buf);
	return wf;
}

struct workflow *
workflow_load_fd(int fd, const char *name, struct diags *d)
{
	return workflow_load_fd_opts(fd, name, NULL, d);
}

struct workflow *
workflow_load_file_opts(
    const char *path, const struct workflow_opts *o, struct diags *d)
{
	struct workflow *wf;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		diags_add(d, path, 0, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	wf = workflow_load_fd_opts(fd, path, o, d);
	close(fd);
	return wf;
}

struct workflow *
workflow_load_file(const char *path, struct diags *d)
{
	return workflow_load_file_opts(path, NULL, d);
}
