// What the source must offer before a task can stream from it. Each failed
// check is an Error whose message says how to fix it.
#pragma once

#include <string>

#include "pg/connection.h"

namespace pgdts::task {

struct SourceFacts {
  std::string database;
  std::string server_encoding;
};

// wal_level = logical, the pgdts extension installed in the database, and
// pgdts allowed by output_plugin_libraries (PostgreSQL 15.19+ refuses slots
// of plugins it does not list).
SourceFacts check_source(pg::Connection& source);

}  // namespace pgdts::task
