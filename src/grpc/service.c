/*
 * service.c - the gRPC server as a runtime service (thanosc/loop.h), so a
 * role registers it next to its HTTP server and the runtime starts it and
 * stops it gracefully on SIGTERM.
 */
#include <string.h>

#include "thanosc/common.h"
#include "thanosc/grpc.h"
#include "thanosc/log.h"

static int service_start(struct service *svc, struct runtime *rt) {
  struct grpc_service *gs = tc_container_of(svc, struct grpc_service, svc);
  int rc = grpc_server_new(rt->loop, gs->table, &gs->opts, &gs->srv);
  if (rc)
    return rc;
  char port[16];
  snprintf(port, sizeof port, "%d", grpc_server_port(gs->srv));
  LOG_INFO("listening for gRPC", "address", gs->opts.address, "port", port);
  return 0;
}

static void server_stopped(struct grpc_server *s, void *data) {
  struct grpc_service *gs = data;
  grpc_server_free(s);
  gs->srv = NULL;
  LOG_INFO("gRPC server stopped");
  gs->stopped(&gs->svc);
}

static void service_stop(struct service *svc, service_stopped_fn *done) {
  struct grpc_service *gs = tc_container_of(svc, struct grpc_service, svc);
  if (!gs->srv) {
    done(svc);
    return;
  }
  gs->stopped = done;
  LOG_INFO("stopping gRPC server");
  grpc_server_stop(gs->srv, server_stopped, gs);
}

void grpc_service_init(struct grpc_service *gs, const struct grpc_method *table,
                       const struct grpc_server_opts *o) {
  memset(gs, 0, sizeof *gs);
  gs->table = table;
  gs->opts = *o;
  gs->svc.name = "grpc";
  gs->svc.start = service_start;
  gs->svc.stop = service_stop;
  gs->svc.grace_ms = o->grace_ms;
}
