/*
 * pglisten: the doorbell side of the PostgreSQL bus, on the event loop.
 *
 * A pglisten owns one dedicated connection that LISTENs on a set of
 * channels.  Each NOTIFY calls on_notify(channel, payload).  The connection
 * is watched on the loop; when it breaks (server restart, network), it is
 * re-made with backoff (100ms doubling to 5s) and every channel LISTENed
 * again, and then on_connect() is called — also after the first connect —
 * so the daemon can catch up on doorbells it missed by querying state.  A
 * NOTIFY is a doorbell, never the data: handlers re-read rows.
 */
#ifndef LOOM_PGLISTEN_H
#define LOOM_PGLISTEN_H

#include "util/loop.h"

struct pglisten;

typedef void pglisten_notify_cb(
    void *arg, const char *channel, const char *payload);
typedef void pglisten_connect_cb(void *arg);

/*
 * channels: NULL-terminated; copied.  Connecting starts at once (blocking
 * for the first attempt so start-up errors are reported); returns NULL
 * with *err when the first attempt fails.
 */
struct pglisten *pglisten_new(struct loop *loop, const char *url,
    const char *app, const char *const *channels, pglisten_notify_cb *notify,
    pglisten_connect_cb *connect, void *arg, char **err);
void pglisten_free(struct pglisten *l);
/*
 * The same, but only one process at a time listens: each takes the
 * session-level advisory lock lock_key before its LISTEN (asking in the
 * server, without blocking the loop), so the others wait until the
 * holder's session ends (it exits, is killed, or loses its connection).
 * on_connect() is called each time the lock is taken.  For channels
 * whose messages must be handled once, not once per listener.
 */
struct pglisten *pglisten_new_leader(struct loop *loop, const char *url,
    const char *app, long long lock_key, const char *const *channels,
    pglisten_notify_cb *notify, pglisten_connect_cb *connect, void *arg,
    char **err);
/* Whether this one holds the lock and listens (leader only). */
int pglisten_leading(const struct pglisten *l);

/* Whether the connection is up right now. */
int pglisten_connected(const struct pglisten *l);

#endif
