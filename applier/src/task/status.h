// What `pgdts status` reports, read from the databases (the destination's
// pgdts schema and origin; the source's slot when it is reachable), so it
// works whether or not `pgdts sync` runs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fullsync/table_sync.h"
#include "pg/connection.h"

namespace pgdts::task {

struct TaskStatus {
  bool found = false;
  std::string task;
  std::string phase;
  std::optional<std::string> last_error;
  std::string updated_at;
  std::optional<std::string> snapshot_lsn;
  std::optional<std::string> applied_lsn;  // the origin's position
  std::optional<std::int64_t> latency_ms;  // as the apply session last measured it
  std::optional<double> latency_age_seconds;
  // Incremental sync, as the apply session last stored them (every 10 s).
  std::optional<std::int64_t> applied_changes, skipped_changes;
  std::optional<double> changes_per_second;
  std::optional<std::string> throttles;  // "incr-rps 500, full-mbps 20" or "none"
  // ETL rules in force, as sync stored them: "shop.orders: region = 'eu'".
  std::vector<std::string> filters, transforms;
  fullsync::FullSyncStatus full;
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
