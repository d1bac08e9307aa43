// The task's state on the destination: schema pgdts, table pgdts.task (one
// row per task), so that any host can run or resume the task. The source
// identity stored there keeps a task from being pointed at another source by
// mistake.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pg/connection.h"
#include "pg/lsn.h"
#include "model/selection.h"

namespace pgdts::store {

inline std::string slot_name(const std::string& task) { return "dts_sync_" + task; }
inline std::string origin_name(const std::string& task) { return "pgdts_" + task; }
// What the task's connections show in pg_stat_activity (and what release
// and stop look for there).
inline std::string application_name(const std::string& task) { return "pgdts_" + task; }

struct SourceIdentity {
  std::string system_id;  // pg_control's system identifier (IDENTIFY_SYSTEM)
  std::string database;
};

// Where a task is. A task moves forward through these (never back):
//   schema       nothing created on the destination yet
//   full         tables created (or given), rows being copied
//   post_data    rows copied; indexes, foreign keys, renames and sequences next
//   incremental  streaming changes (the origin holds the position)
//   copied       done, for a task without the incremental phase
struct TaskPhase {
  std::string phase;
  pg::Lsn snapshot_lsn = 0;  // the task slot's consistent point (0: no slot yet)
  // pgdts sync --resync started and is not streaming yet: full sync empties
  // each table before copying it, and the tables' keys, indexes and column
  // names are there already (no post-data step).
  bool recopy = false;
};

struct ApplyProgress {
  std::optional<std::int64_t> latency_ms;
  std::uint64_t applied_changes = 0, skipped_changes = 0;  // since the run started
  double changes_per_second = 0;
};

// A foreign key whose validation waits until the stream passes every copy
// (tables copied under different snapshots).
struct WaitingForeignKey {
  std::string table, constraint;  // quoted as the destination spells them
  std::string create_sql;         // set for a key created at validation time
  bool exists = false;            // the constraint is there (NOT VALID)
};

// The task's row as pgdts status shows it.
struct StoredStatus {
  std::string phase;
  std::optional<std::string> last_error;
  std::string updated_at;
  std::optional<std::string> snapshot_lsn;
  std::optional<std::string> applied_lsn;  // the origin's position
  std::optional<std::int64_t> latency_ms;
  std::optional<double> latency_age_seconds;
  std::optional<std::int64_t> applied_changes, skipped_changes;
  std::optional<double> changes_per_second;
  std::optional<std::string> throttles;
};

class TaskStore {
 public:
  explicit TaskStore(pg::Connection& dest) : dest_(dest) {}

  // Creates schema and table if missing, and the task's row (in
  // initial_phase when new). Throws Error when the task exists for another
  // source. Returns where the task is.
  TaskPhase register_task(const std::string& task, const std::string& initial_phase,
                          const std::string& slot, const SourceIdentity& source);
  std::string phase(const std::string& task);
  // The task's phase; nullopt when it has no row (or no task ever ran here).
  std::optional<std::string> find_phase(const std::string& task);
  // nullopt when the task has no row.
  std::optional<StoredStatus> status(const std::string& task);
  // Foreign keys to validate once the origin passes `after` (in the
  // caller's transaction, if one is open).
  void defer_foreign_keys(const std::string& task, const std::vector<WaitingForeignKey>& keys,
                          pg::Lsn after);
  // Whether keys wait, and whether the task's origin has passed their LSN.
  struct ForeignKeysWaiting {
    bool any = false, passed = false;
  };
  ForeignKeysWaiting foreign_keys_waiting(const std::string& task);
  std::vector<WaitingForeignKey> waiting_foreign_keys(const std::string& task);
  void forget_foreign_keys(const std::string& task);
  // The task's row (Error when it has none).
  TaskPhase where(const std::string& task);
  // Moves the task to phase (in the caller's transaction, if one is open).
  // Reaching incremental (or copied) ends a resync's recopy.
  void set_phase(const std::string& task, const std::string& phase);
  // pgdts sync --resync: back to phase full with no slot recorded and every
  // table to be emptied and copied again (in the caller's transaction).
  void start_recopy(const std::string& task);
  void set_snapshot_lsn(const std::string& task, pg::Lsn lsn);
  // What the apply session last measured (latency unset: keep the last).
  void set_apply_progress(const std::string& task, const ApplyProgress& progress);
  // The task's object options (model::Options::object_args) and throttles.
  void set_settings(const std::string& task, const std::vector<std::string>& object_args,
                    const std::string& throttles);
  // Records the destination tables the task feeds (replacing what it fed).
  void claim_tables(const std::string& task, const std::vector<model::TableName>& tables);
  // Which of these tables other tasks feed (tasks done copying without an
  // incremental phase feed nothing): (table, task), ordered.
  std::vector<std::pair<model::TableName, std::string>> tables_of_other_tasks(
      const std::string& task, const std::vector<model::TableName>& tables);
  // Empty when the task or its stored options are missing.
  std::vector<std::string> stored_task_options(const std::string& task);
  void set_last_error(const std::string& task, const std::string& error);
  void clear_last_error(const std::string& task);
  // verify --repair's messages travel through the source, where any role
  // may emit a logical message: each is signed with a key of the task that
  // never leaves the destination (pgdts.task.repair_key, made on first
  // use), and the sync applies only messages whose signature matches.
  // payload: the message's bytes as bytea text (pg::bytea_hex); the
  // signature is hex, sha256(key || sha256(key || payload)).
  std::string repair_signature(const std::string& task, const std::string& payload);
  // False also when the task has no key (no repair was ever signed).
  bool repair_signature_matches(const std::string& task, const std::string& payload, const std::string& signature);
  // Removes the task's row; drops the table and the schema when they hold
  // nothing else. False when there was no row.
  bool remove_task(const std::string& task);

 private:
  bool has_table(const char* qualified);  // pgdts' own tables exist once a task ran

  pg::Connection& dest_;
};

}  // namespace pgdts::store
