#include "task/task_slot.h"

namespace pgdts::task {

bool depends_on_slot(const store::TaskPhase& where, pg::Lsn applied) {
  if (where.phase == "schema" || where.phase == "copied") return false;
  return where.snapshot_lsn != 0 || applied != 0;
}

SlotProblem slot_problem(const std::optional<pg::SlotInfo>& slot, const std::string& dbname) {
  if (!slot) return SlotProblem::missing;
  if (slot->slot_type != "logical" || slot->plugin != "pgdts") return SlotProblem::other_plugin;
  if (!slot->database.empty() && !dbname.empty() && slot->database != dbname)
    return SlotProblem::other_database;
  return SlotProblem::none;
}

std::string slot_lost_message(const std::string& task, SlotProblem problem,
                              const std::optional<pg::SlotInfo>& slot) {
  std::string name = store::slot_name(task);
  std::string resync = "run pgdts sync --resync --task " + task +
                       " to compare every table of the task with a new slot and copy again what differs";
  std::string drop = "drop it on the source if it is not in use elsewhere (SELECT "
                     "pg_drop_replication_slot('" + name + "')), then " + resync;
  switch (problem) {
    case SlotProblem::missing:
      return "replication slot \"" + name + "\" of task \"" + task +
             "\" no longer exists on the source: the changes committed since it was dropped "
             "cannot be streamed, and a new slot would skip them; " + resync;
    case SlotProblem::other_plugin:
      return "replication slot \"" + name + "\" of task \"" + task + "\" is now a " +
             (slot && slot->slot_type != "logical" ? slot->slot_type + " slot"
                                                   : "slot of output plugin \"" +
                                                         (slot ? slot->plugin : "") + "\"") +
             ", not the task's pgdts slot: the task's changes since it was replaced are lost "
             "to it; " + drop;
    case SlotProblem::other_database:
      return "replication slot \"" + name + "\" of task \"" + task +
             "\" now belongs to source database \"" + (slot ? slot->database : "") +
             "\", not the task's: the task's changes since it was replaced are lost to it; " +
             drop;
    case SlotProblem::none:
      break;
  }
  return "";
}

void require_slot(const std::string& task, const store::TaskPhase& where, pg::Lsn applied,
                  const std::optional<pg::SlotInfo>& slot, const std::string& dbname) {
  SlotProblem problem = slot_problem(slot, dbname);
  if (problem == SlotProblem::none) return;
  if (depends_on_slot(where, applied)) throw SlotLostError(slot_lost_message(task, problem, slot));
  // Nothing lost yet, but another slot holds the task's slot name.
  if (problem == SlotProblem::other_plugin)
    throw Error("replication slot \"" + store::slot_name(task) + "\" exists with output plugin \"" +
                slot->plugin + "\", not pgdts; drop it or use another --task");
  if (problem == SlotProblem::other_database)
    throw Error("replication slot \"" + store::slot_name(task) + "\" belongs to source database \"" +
                slot->database + "\", not \"" + dbname + "\"; drop it or use another --task");
}

}  // namespace pgdts::task
