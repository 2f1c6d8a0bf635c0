/*
 * ctl: a daemon's control socket (loom-ipc(7), "Control sockets").
 *
 * Every Link Loom daemon listens on a Unix stream socket, by default
 * /run/loom/loom-NAME.sock (control.dir, or the daemon's own key), for JSON
 * lines: {"v":1,"t":"status"} is answered with the daemon's status (the
 * common part made here: daemon, version, pid, host, start time,
 * uptime; the rest from the daemon's callback), {"v":1,"t":"reload"}
 * does what SIGHUP does (the daemon's own SIGHUP watch runs, from the
 * loop), {"v":1,"t":"ping"} is answered with a pong, and anything else
 * with an error line.  The socket is made with mode 0660; a peer must be
 * root, the daemon's own user, or in its group (SO_PEERCRED).  A path
 * where another live process listens is refused (the daemon does not
 * start); a stale socket file is taken over.
 *
 * Everything runs on the daemon's loop thread.
 */
#ifndef LOOM_CTL_H
#define LOOM_CTL_H

#include <jv.h>

#include "util/config.h"
#include "util/loop.h"

#define CTL_DEFAULT_DIR "/run/loom"

/*
 * The daemon's figures: an object (consumed by ctl) whose members are
 * added to the status reply; "metrics" in it is a family object of
 * util/metrics.h.
 */
typedef jv ctl_status_cb(void *arg);

struct ctl;

/*
 * The socket's path: opt when given (a -C option), else the config key
 * key, else control.dir/NAME.sock (name is the program's name).  Returns a
 * malloc'd string, or NULL when the key is set to the empty string (no control
 * socket).
 */
char *ctl_path(const struct config *cfg, const char *key, const char *name,
    const char *opt);
/* control.dir, or its default (not owned). */
const char *ctl_dir(const struct config *cfg);

/*
 * Listens on path.  daemon is the program's name for the status.
 * Returns NULL with *err (malloc'd) when the path is taken by a live
 * listener (or is not a socket, or too long).  When the socket cannot be
 * made there (a directory it may not write), it says so with a warning
 * and returns a ctl that listens nowhere: the daemon runs on without.
 */
struct ctl *ctl_new(struct loop *loop, const char *path, const char *daemon,
    ctl_status_cb *cb, void *arg, char **err);
/* NULL-safe; removes the socket file. */
void ctl_free(struct ctl *c);

/*
 * The common part of a status reply (daemon, version, pid, host,
 * started, uptime_s) for start time started_ms (wall clock); loom-log
 * uses it on its own socket.
 */
jv ctl_status_common(const char *daemon, int64_t started_ms);
/*
 * Refuses a path another process listens on (-1, *err) and removes a
 * stale socket file there (0).
 */
int ctl_claim_path(const char *path, const char *daemon, char **err);

/*
 * The client side: sends {"v":1,"t":TYPE} to the socket at path and
 * returns the first answer line as an object, or an invalid jv with a
 * message (no such socket, nobody listens, no answer in timeout_ms).
 * Blocks: for programs and threads that may wait (loom status, loom-api's
 * request threads).
 */
jv ctl_ask(const char *path, const char *type, int timeout_ms);
/*
 * A connected stream socket to the Unix socket at path, close-on-exec,
 * with flags added to its type (0, or SOCK_NONBLOCK: a Unix socket
 * connects at once or refuses, EAGAIN when its backlog is full).
 * Returns the descriptor, or -1 with errno (ENAMETOOLONG for a path too
 * long for sun_path); nothing is left open on failure.
 */
int ctl_unix_connect(const char *path, int flags);
/*
 * Every loom-*.sock in dir and in its exec-* directories (the control
 * sockets of this host's daemons; each instance of loom-exec@.service
 * makes its own in its runtime directory, dir/exec-N), and loom-log's
 * socket (logd_socket, or dir/log.sock) when it exists, sorted: an array
 * of paths.
 */
jv ctl_sockets(const char *dir, const char *logd_socket);
/*
 * The name a socket's daemon goes by in loom status and /metrics: the
 * file name without ".sock" ("loom-exec-2"), or "loom-log" for loom-log's
 * socket.  malloc'd.
 */
char *ctl_socket_name(const char *path);

#endif
