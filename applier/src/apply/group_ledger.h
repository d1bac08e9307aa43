// The exactly-once bookkeeping of an apply session, apart from any SQL.
//
// The destination's replication origin is the one record of what it has
// applied: each group (destination transaction) sets it to the end of its
// last source commit, in the same transaction as the rows. So:
//   - a source transaction whose commit record lies before the position the
//     session started from was applied already, and is skipped (the slot
//     may re-send it after a source crash moved its confirmed position
//     back);
//   - each group commits only if the origin still stands where the
//     previous group left it (previous_end: checked in the group's origin
//     statement), so a group that failed to commit can never be skipped
//     over by the next one;
//   - a group counts as applied (its changes, its commit time, its per-table
//     counts) only once the destination's durable origin position reaches
//     its end.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <utility>
#include <vector>

#include "metrics/task_metrics.h"
#include "pg/lsn.h"

namespace pgdts::apply {

class GroupLedger {
 public:
  struct Group {
    pg::Lsn end = 0;  // end LSN of its last source commit
    std::size_t changes = 0, transactions = 0;
    std::int64_t commit_time = 0;        // of its last source transaction
    std::int64_t first_commit_time = 0;  // of its first
    // per-table counts, by the applier's tally index
    std::vector<std::pair<std::size_t, metrics::TableCounts>> tables;
    std::size_t repaired = 0;  // rows written by repair messages (verify --repair)
  };

  // origin_position: the destination origin's progress when the session
  // started.
  explicit GroupLedger(pg::Lsn origin_position)
      : applied_before_(origin_position), committed_through_(origin_position) {}

  // Whether the source transaction with this commit record was applied
  // before the session started.
  bool applied_already(pg::Lsn final_lsn) const { return final_lsn < applied_before_; }

  // A group is being sent to commit: returns where the origin must stand
  // for it to commit (the previous group's end), and remembers the group
  // until it is durable.
  pg::Lsn sent(Group group);

  // The destination's durable origin position: the groups that end at or
  // before it are applied; each is handed to applied, oldest first, and
  // forgotten.
  void confirm(pg::Lsn durable, const std::function<void(const Group&)>& applied);

  // Source commit time of the first transaction of the oldest group sent
  // and not yet durable; 0 when none is.
  std::int64_t oldest_pending_commit_time() const {
    return unconfirmed_.empty() ? 0 : unconfirmed_.front().first_commit_time;
  }
  bool has_unconfirmed() const { return !unconfirmed_.empty(); }

 private:
  pg::Lsn applied_before_;
  pg::Lsn committed_through_;  // the origin's position once every group sent commits
  std::deque<Group> unconfirmed_;
};

}  // namespace pgdts::apply
