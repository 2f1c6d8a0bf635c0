/*
 * api_stream: the streamed answers of loom-api (text/event-stream), the
 * half of the HTTP server that cmd/loom-api/request.c hands them to.
 * Private to the server's files (server.h) and api_stream.c; handlers use
 * api_stream() from api.h.
 *
 * One struct api_streams per server, made on the main loop.  server.c
 * passes it every doorbell (api_streams_doorbell), tells it when the
 * server stops (api_streams_stop: every stream ends), and gives it the
 * stream a handler asked for (api_streams_start) to answer with.
 */
#ifndef LOOM_API_STREAM_H
#define LOOM_API_STREAM_H

#include <stdint.h>

#include <jv.h>

#include "api.h"
#include "util/loop.h"

struct MHD_Connection;
struct api_streams;

#define API_MAX_STREAMS_DEFAULT 256
#define API_HEARTBEAT_MS_DEFAULT 15000

/* Returns NULL with *err (malloc'd) when the loop refuses a watch. */
struct api_streams *api_streams_new(
    struct loop *loop, long max_streams, int64_t heartbeat_ms, char **err);
/* NULL-safe; every stream must have ended (the MHD daemons stopped). */
void api_streams_free(struct api_streams *h);

/* Main thread: a NOTIFY (channel NULL: a reconnect, wakes everyone). */
void api_streams_doorbell(
    struct api_streams *h, const char *channel, const char *payload);
/* Main thread: every stream ends now, and no new one starts. */
void api_streams_stop(struct api_streams *h);
/* Streams open right now. */
long api_streams_count(struct api_streams *h);

/*
 * Worker thread, from the access handler, after a handler called
 * api_stream(): takes rq->stream and queues its answer on mc.  Returns
 * 0 when queued; an HTTP status with *out (503: too many streams, or
 * shutting down) for request.c to send instead; -1 when MHD refused (answer
 * MHD_NO).
 */
int api_streams_start(struct api_streams *h, struct MHD_Connection *mc,
    struct api_request *rq, jv *out);

#endif
