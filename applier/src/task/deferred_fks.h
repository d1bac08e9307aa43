// Foreign keys whose validation waits for the change stream.
//
// A resumed full sync copies the tables left unfinished under a later
// snapshot than the ones copied before; a child row copied late may refer to
// a parent row the early copy did not have and only the stream brings
// (apply/task_scope.h). Post-data then creates the foreign keys NOT VALID
// (schema::create_post_data) and records them with the position every copy
// has reached (pgdts.task.deferred_fks, fks_valid_after). Replayed rows do
// not fire foreign-key triggers (session_replication_role = replica), so the
// stream is never held up by them; once the destination's origin has passed
// that position, ALTER TABLE ... VALIDATE CONSTRAINT runs for each, on a
// connection of its own (it takes SHARE UPDATE EXCLUSIVE, which the apply
// session's row changes do not conflict with), and the record is cleared.
// A sync stopped before that does it on its next run.
#pragma once

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "pg/conninfo.h"
#include "pg/connection.h"
#include "pg/lsn.h"
#include "schema/schema_sync.h"

namespace pgdts::task {

// Records the keys to validate once the origin passes after (in the caller's
// transaction, if one is open).
void defer_foreign_keys(pg::Connection& dest, const std::string& task,
                        const std::vector<schema::DeferredForeignKey>& keys, pg::Lsn after);

class ForeignKeyValidator {
 public:
  ForeignKeyValidator(pg::ConnInfo target, std::string task)
      : target_(std::move(target)), task_(std::move(task)) {}
  ~ForeignKeyValidator();

  // Starts watching when the task has keys waiting; returns at once.
  void start(const std::atomic<bool>& stop);

 private:
  void run(const std::atomic<bool>& stop);
  bool validate_when_passed(pg::Connection& dest, const std::atomic<bool>& stop);

  pg::ConnInfo target_;
  std::string task_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

}  // namespace pgdts::task
