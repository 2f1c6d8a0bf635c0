/*
 * workflow_file: a workflow read from a file or a pipe, the I/O half of
 * the loader whose pure half is lib/core/workflow.c (workflow_load_buf()).
 * Errors go to the diagnostics with the file's name, as the parser's do.
 */
#ifndef LOOM_WORKFLOW_FILE_H
#define LOOM_WORKFLOW_FILE_H

#include "core/diag.h"
#include "core/workflow.h"

struct workflow *workflow_load_file(const char *path, struct diags *d);
/* Reads fd (a pipe, stdin) to the end; name is used in diagnostics. */
struct workflow *workflow_load_fd(int fd, const char *name, struct diags *d);
/* The same with options (o may be NULL; see core/workflow.h). */
struct workflow *workflow_load_file_opts(
    const char *path, const struct workflow_opts *o, struct diags *d);
struct workflow *workflow_load_fd_opts(
    int fd, const char *name, const struct workflow_opts *o, struct diags *d);

#endif
