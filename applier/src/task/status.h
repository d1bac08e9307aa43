// What `pgdts status` reports, read from the databases (the destination's
// pgdts schema and origin; the source's slot when it is reachable), so it
// works whether or not `pgdts sync` runs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.h"

namespace pgdts::task {

struct TableProgress {
  std::string source;  // schema.table, quoted where needed
  std::string dest;
  std::string state;   // pending, copying, copied
  std::int64_t rows = 0, bytes = 0, rows_estimate = 0, bytes_estimate = 0;
  int chunks_total = 0, chunks_done = 0;
};

struct TaskStatus {
  bool found = false;
  std::string task;
  std::string phase;
  std::optional<std::string> last_error;
  std::string updated_at;
  std::optional<std::string> snapshot_lsn;
  std::optional<std::string> applied_lsn;  // the origin's position
  // full sync
  int tables_total = 0, tables_copied = 0;
  std::int64_t rows_copied = 0, bytes_copied = 0;
  double rows_per_second = 0, bytes_per_second = 0;  // of the tables being copied
  std::vector<TableProgress> tables;
  // source (when --source is given and reachable)
  std::optional<std::string> source_error;
  std::optional<std::string> source_lsn, slot_confirmed_lsn;
  std::optional<std::int64_t> slot_retained_bytes;
  std::optional<bool> slot_active;
};

TaskStatus read_status(pg::Connection& dest, const std::string& task);
// Adds the slot's figures; a missing slot leaves them unset.
void add_source_status(pg::Connection& source, TaskStatus& status);

}  // namespace pgdts::task
