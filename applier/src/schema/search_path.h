// search_path for the statements of schema sync, and the caller's value put
// back afterwards (schema sync borrows the caller's connections).
#pragma once

#include <string>
#include <vector>

#include "pg/connection.h"

namespace pgdts::schema {

// Sets search_path at session level (so it works inside or outside a
// transaction) and restores the value it found when it goes.
class SearchPath {
 public:
  explicit SearchPath(pg::Connection& conn) : conn_(conn) {
    saved_ = std::string(conn_.exec("SELECT pg_catalog.current_setting('search_path')").value(0, 0));
  }
  ~SearchPath() {
    try {
      if (conn_.is_healthy()) set(saved_);
    } catch (...) {
      // Aborted transaction or lost connection: the caller sees that error.
    }
  }
  SearchPath(const SearchPath&) = delete;
  SearchPath& operator=(const SearchPath&) = delete;

  void set(const std::string& path) {
    if (path == current_) return;
    conn_.exec("SELECT pg_catalog.set_config('search_path', $1, false)", {path.c_str()});
    current_ = path;
  }
  // pg_catalog, then schemas in order: their objects print unqualified
  // (unless an earlier schema holds the same name).
  void schemas(const std::vector<std::string>& schemas) {
    std::string path = "pg_catalog";
    for (const auto& s : schemas) path += ", " + conn_.identifier(s);
    set(path);
  }

 private:
  pg::Connection& conn_;
  std::string saved_;
  std::string current_;
};

}  // namespace pgdts::schema
