/* health.c - the operators' routes: /healthz, /readyz and /metrics. */
#include "health.h"

#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "pipeline.h"

void health_handle(const char *method, const char *path, struct http_reply *reply, void *arg)
{
	(void)method;
	struct pipeline *p = arg;
	if (strcmp(path, "/healthz") == 0) {
		/* Answering at all proves the loop is alive. */
		reply->status = 200;
		reply->body = strdup("{\"status\":\"ok\"}\n");
	} else if (strcmp(path, "/readyz") == 0) {
		reply->status = pipeline_readiness(p, &reply->body) ? 200 : 503;
	} else if (strcmp(path, "/metrics") == 0) {
		pipeline_sample_metrics(p);
		reply->status = 200;
		reply->content_type = "text/plain; version=0.0.4";
		reply->body = metrics_render(&reply->len);
		return;
	} else {
		reply->status = 404;
		return;
	}
	reply->content_type = "application/json";
	reply->len = reply->body ? strlen(reply->body) : 0;
}
