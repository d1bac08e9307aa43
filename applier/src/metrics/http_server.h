// Serves a Registry as GET /metrics over HTTP (Prometheus' text format
// 0.0.4), with civetweb (Debian libcivetweb-dev) on its own threads: a
// scrape never waits for the task, nor the task for a scrape.
#pragma once

#include <memory>

#include "metrics/registry.h"

struct mg_context;

namespace pgdts::metrics {

class HttpServer {
 public:
  // Listens on every interface at port. Throws UsageError when the port
  // cannot be bound (in use, or below 1024 without the right).
  HttpServer(const Registry& registry, int port);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

 private:
  const Registry& registry_;
  mg_context* ctx_ = nullptr;
};

}  // namespace pgdts::metrics
