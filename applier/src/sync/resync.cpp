#include "sync/resync.h"

#include "apply/origin.h"
#include "error.h"
#include "pg/transaction.h"
#include "store/table_sync.h"
#include "logging/log.h"
#include "task/task_slot.h"

namespace pgdts::sync {

void start_resync(const Options& o, pg::Connection& dest, const store::TaskPhase& where,
                  pg::Lsn applied, const std::optional<pg::SlotInfo>& slot,
                  const std::string& dbname) {
  std::string name = store::slot_name(o.task);
  if (!task::depends_on_slot(where, applied))
    throw UsageError("task \"" + o.task + "\" has no slot to recover (phase " + where.phase +
                     ", nothing streamed from a slot yet); run pgdts sync without --resync");
  task::SlotProblem problem = task::slot_problem(slot, dbname);
  if (problem == task::SlotProblem::none)
    throw UsageError("replication slot \"" + name + "\" of task \"" + o.task +
                     "\" is healthy, so no change was lost: --resync would copy every table "
                     "again for nothing; run pgdts sync without --resync");
  if (problem != task::SlotProblem::missing)
    throw task::SlotLostError(task::slot_lost_message(o.task, problem, slot));

  // The origin's position belongs to the lost slot: the new one starts
  // from its own snapshot. Dropped first: a run killed before the state
  // below commits still finds the task depending on a slot, and --resync
  // is simply run again.
  std::string origin = store::origin_name(o.task);
  apply::drop_origin_if_exists(dest, origin);
  pg::Transaction txn(dest);
  store::TaskStore(dest).start_recopy(o.task);
  store::recopy_all(dest, o.task);
  txn.commit();
  apply::create_origin_if_missing(dest, origin);
  log::Event("resync_started")
      .field("task", o.task)
      .field("slot", name)
      .field("previous_phase", where.phase)
      .field("effect", o.resync_copy_all
                           ? "every table of the task is emptied and copied again from a new slot"
                           : "every table of the task is compared with a new slot's snapshot and "
                             "what differs is copied again")
      .warn();
}

}  // namespace pgdts::sync
