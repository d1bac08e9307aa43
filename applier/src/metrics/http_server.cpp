#include "metrics/http_server.h"

#include <civetweb.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "error.h"
#include "logging/log.h"

namespace pgdts::metrics {
namespace {

int serve_metrics(mg_connection* conn, void* data) {
  const mg_request_info* req = mg_get_request_info(conn);
  if (std::strcmp(req->request_method, "GET") != 0 && std::strcmp(req->request_method, "HEAD") != 0) {
    mg_send_http_error(conn, 405, "only GET /metrics is served\n");
    return 405;
  }
  std::string body = static_cast<const Registry*>(data)->render();
  mg_printf(conn,
            "HTTP/1.1 200 OK\r\n"
            "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
            "Content-Length: %zu\r\n"
            "Connection: close\r\n\r\n",
            body.size());
  if (std::strcmp(req->request_method, "GET") == 0) mg_write(conn, body.data(), body.size());
  return 200;
}

// civetweb's own messages (a client that went away...) at debug level, one line each.
int log_message(const mg_connection*, const char* message) {
  log::Event("metrics_http").field("message", message).debug();
  return 1;  // handled: civetweb prints nothing itself
}

// civetweb says only "Failed to setup server ports": binding the port
// ourselves tells why ("Address already in use", "Permission denied").
std::string why_not_bindable(int port, const char* civetweb_text) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);  // as civetweb does
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    int err = errno;
    ::close(fd);
    if (rc != 0) return std::strerror(err);
  }
  return civetweb_text[0] ? civetweb_text : "unknown error";
}

}  // namespace

HttpServer::HttpServer(const Registry& registry, int port) : registry_(registry) {
  mg_init_library(0);
  std::string ports = std::to_string(port);
  const char* options[] = {"listening_ports", ports.c_str(),
                           "num_threads", "2",
                           "request_timeout_ms", "10000",
                           nullptr};
  mg_callbacks callbacks{};
  callbacks.log_message = log_message;
  char error_text[256] = "";
  unsigned error_code = 0;
  mg_error_data error{&error_code, error_text, sizeof error_text};
  mg_init_data init{&callbacks, nullptr, options};
  ctx_ = mg_start2(&init, &error);
  if (!ctx_) {
    mg_exit_library();
    throw UsageError("--metrics-port " + ports + ": cannot listen on it (" +
                     why_not_bindable(port, error_text) +
                     "); is another process using it? pick a free port");
  }
  // No document_root: any other path is civetweb's 404.
  mg_set_request_handler(ctx_, "/metrics$", serve_metrics, const_cast<Registry*>(&registry_));
  log::Event("metrics_listening").field("port", ports).info();
}

HttpServer::~HttpServer() {
  if (ctx_) {
    mg_stop(ctx_);
    mg_exit_library();
  }
}

}  // namespace pgdts::metrics
