/* The Prometheus text exposition format (0.0.4) of a capture's stats, and
 * the HTTP endpoint that serves it (capture --metrics-listen). */
#ifndef TM_METRICS_H
#define TM_METRICS_H

#include "capture/monitor/stats.h"
#include "store/common/fsutil.h"
#include "store/common/tm_error.h"

#define TM_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Appends the metrics of st, read now, to out. -1 with err when out of
 * memory. */
int tm_metrics_render(const tm_capture_stats *st, tm_buf *out, tm_error *err);

typedef struct tm_metrics_server tm_metrics_server;

/* Whether listen reads as an address to serve on: 0, or -1 with err
 * (TM_ERR_USAGE) saying what is expected. */
int tm_metrics_listen_check(const char *listen, tm_error *err);

/* Serves GET /metrics on listen ("ADDR:PORT", "[IPv6]:PORT" or ":PORT" for
 * every address) from libmicrohttpd's own thread, which only reads st.
 * *out is NULL with err when the address does not parse or cannot be bound. */
int tm_metrics_serve(const char *listen, const tm_capture_stats *st, tm_metrics_server **out,
                     tm_error *err);
void tm_metrics_stop(tm_metrics_server *s);

#endif
