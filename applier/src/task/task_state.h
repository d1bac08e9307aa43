// The task's state on the destination: schema pgdts, table pgdts.task (one
// row per task), so that any host can run or resume the task. The source
// identity stored there keeps a task from being pointed at another source by
// mistake.
#pragma once

#include <string>

#include "pg/connection.h"

namespace pgdts::task {

inline std::string slot_name(const std::string& task) { return "dts_sync_" + task; }
inline std::string origin_name(const std::string& task) { return "pgdts_" + task; }

struct SourceIdentity {
  std::string system_id;  // pg_control's system identifier (IDENTIFY_SYSTEM)
  std::string database;
};

class TaskStore {
 public:
  explicit TaskStore(pg::Connection& dest) : dest_(dest) {}

  // Creates schema and table if missing, and the task's row. Throws Error
  // when the task exists for another source.
  void register_task(const std::string& task, const std::string& phase, const std::string& slot,
                     const SourceIdentity& source);
  void set_last_error(const std::string& task, const std::string& error);
  // Removes the task's row; drops the table and the schema when they hold
  // nothing else. False when there was no row.
  bool remove_task(const std::string& task);

 private:
  pg::Connection& dest_;
};

}  // namespace pgdts::task
