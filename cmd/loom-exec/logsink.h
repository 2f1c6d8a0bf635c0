/*
 * logsink: loom-exec's connection to loom-log (loom-ipc(7)).
 *
 * Every output line of a task, a backend's "logs" and the executor's own
 * records of an attempt go to loom-log as envelope lines when it is
 * there, and to the task_logs table directly (logq.h) when it is not.
 * Nothing blocks: lines are written when the socket takes them, and kept
 * until loom-log says they are written ({"t":"sync"} answered by
 * {"t":"synced"}).  A result waits for its task's lines to be synced
 * before it is reported (dbmode's jobs.c), so a run never ends before
 * its lines are stored, as with the direct way.  When loom-log goes away,
 * does not answer within LOGSINK_STALL_MS, or more than LOGSINK_MAX_LINES
 * (or LOGSINK_MAX_BYTES) wait, every line not synced is handed back to
 * the fallback in order (a line may then be stored twice, never lost),
 * loom-exec says so loudly, and tries loom-log again after
 * LOGSINK_RETRY_MS.  It tries again only when something came for
 * loom-log since the last try (within LOGSINK_RETRY_MS of it) or when
 * the socket is made again (its directory is watched with inotify while
 * loom-log is away), never on a timer alone: an idle executor does not
 * wake up to look for it.
 */
#ifndef LOOM_EXEC_LOGSINK_H
#define LOOM_EXEC_LOGSINK_H

#include <stdint.h>

#include <jv.h>

#include "util/loop.h"

#define LOGSINK_MAX_LINES 100000
#define LOGSINK_MAX_BYTES (64u * 1024 * 1024)
#define LOGSINK_RETRY_MS 1000
#define LOGSINK_APPEAR_MS 50 /* the socket was made: try it then */
#define LOGSINK_STALL_MS 10000
#define LOGSINK_LAZY_MS 100

struct logsink;

/*
 * fallback(arg, line) takes a line (consumed) loom-log did not confirm;
 * synced(arg) says logsink_acked() moved.  path NULL or "": no sink.
 */
struct logsink *logsink_new(struct loop *loop, const char *path,
    void (*fallback)(void *, jv), void (*synced)(void *), void *arg);
void logsink_free(struct logsink *s); /* NULL-safe; unsynced lines: fallback */

/*
 * There is something for loom-log while it is away (a line is given to
 * logsink_line(), or a record would be): it is looked for within
 * LOGSINK_RETRY_MS, even when the last try had given up waiting.
 */
void logsink_poke(struct logsink *s);
/*
 * Takes a record {"execution","task","attempt","stream","msg"[,"level",
 * "ts"]} (consumed).  Returns 0, or -1 when loom-log is not connected
 * (line not consumed: the caller writes it the other way).  An urgent
 * line (a task's output, which its result waits for) is followed by a
 * sync at the next loop turn; others within LOGSINK_LAZY_MS.
 */
int logsink_line(struct logsink *s, jv line, int urgent);
/* Lines taken so far, and of those, the ones loom-log confirmed. */
uint64_t logsink_mark(const struct logsink *s);
uint64_t logsink_acked(const struct logsink *s);
/* Asks loom-log to confirm everything taken so far (once per mark). */
void logsink_sync(struct logsink *s);
int logsink_connected(const struct logsink *s);

#endif
