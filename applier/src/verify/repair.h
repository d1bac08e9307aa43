// pgdts verify --repair: the rows that still differ after the recheck are
// written again from the source, through the running sync's own stream
// (docs/verify.md, "Repair").
//
// Per table, in batches of at most 1000 keys (or row values), one short
// source transaction:
//
//   LOCK TABLE ONLY t IN SHARE MODE     -- no writer commits on t until ours
//   read the rows of those keys          -- through verify's relation: filters
//                                          and column expressions apply
//   pg_logical_emit_message(true, 'pgdts_repair', <signature> \n <the rows, or "absent">)
//   COMMIT
//
// The message is transactional and the table was locked from the read to
// the commit, so it holds exactly the source's state at its place in the
// stream; the sync applies it there, in a destination transaction like any
// other (apply/repair.cpp): an older change cannot overwrite it, and it
// cannot overwrite a newer one. The signature is made on the destination with
// the task's key, which the source never sees: the sync applies only
// messages signed with it (any source role may emit a logical message). Then verify waits for the destination's
// origin to pass the last message and compares those keys again (recheck).
#pragma once

#include <string>
#include <vector>

#include "verify/model.h"
#include "verify/recheck.h"

namespace pgdts::pg {
class Connection;
}

namespace pgdts::verify {

struct RepairOptions {
  std::string task;  // whose key signs the messages (store::TaskStore::repair_signature)
  bool dry_run = false;
  RecheckOptions recheck;  // origin, rounds and waits, as verify's recheck
};

struct RepairOutcome {
  std::vector<std::string> notes;
  bool pending = false;  // messages written, not seen applied (no sync running)
  std::int64_t rechecked = 0;
  int rounds = 0;
};

// Repairs (or with dry_run lists) what suspects still hold, table by table;
// sets results[i].repaired (or would_repair) and leaves in suspects what
// still differs afterwards. results and suspects are parallel.
RepairOutcome repair_differences(pg::Connection& source, pg::Connection& target, std::vector<Suspects>& suspects,
                                 std::vector<TableResult>& results, const RepairOptions& options);

}  // namespace pgdts::verify
