// What `pgdts status` reports, read from the databases (the destination's
// pgdts schema and origin; the source's slot when it is reachable), so it
// works whether or not `pgdts sync` runs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/table_sync.h"
#include "pg/connection.h"
#include "store/task_store.h"

namespace pgdts::task {

// The task's row (store::StoredStatus: phase, last error, positions, what
// the apply session last measured) and what else status shows.
struct TaskStatus : store::StoredStatus {
  bool found = false;
  std::string task;
  // ETL rules in force, as sync stored them: "shop.orders: region = 'eu'".
  std::vector<std::string> filters, transforms;
  store::FullSyncStatus full;
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
