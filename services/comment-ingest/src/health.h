/* health.h - the operators' routes: /healthz, /readyz and /metrics. */
#ifndef CI_HEALTH_H
#define CI_HEALTH_H

#include "http.h"

/* An http_handler; arg is the struct pipeline. */
void health_handle(const char *method, const char *path, struct http_reply *reply, void *arg);

#endif
