// The task's replication slot (dts_sync_<task>) as the task depends on it.
// Once the destination says the task has a slot (the slot was created: its
// consistent point is recorded; or changes were applied from it), the
// changes since the destination's position exist only in that slot: a
// missing slot, or one of another plugin or database under its name, means
// those changes are lost to the task. pgdts then never creates a fresh slot
// by itself (that would skip them silently): sync stops with SlotLostError,
// and `pgdts sync --resync` recovers by copying every table again from a
// new slot's snapshot (docs/task-state.md).
#pragma once

#include <optional>
#include <string>

#include "error.h"
#include "pg/lsn.h"
#include "pg/replication_stream.h"
#include "store/task_store.h"

namespace pgdts::task {

// The task's slot is gone or replaced: not retried, sync exits 1.
class SlotLostError : public Error {
 public:
  using Error::Error;
};

enum class SlotProblem { none, missing, other_plugin, other_database };

// True once the task has a slot whose loss would lose changes: its slot was
// created (where.snapshot_lsn), or the destination applied changes
// (applied, the origin's position). A task still in phase schema has
// copied nothing, and a copied task without the incremental phase needs no
// slot.
bool depends_on_slot(const store::TaskPhase& where, pg::Lsn applied);

// What is wrong with the slot found under the task's name (nullopt: none)
// on a source connection to database dbname ("" when unknown).
SlotProblem slot_problem(const std::optional<pg::SlotInfo>& slot, const std::string& dbname);

// The one line for a problem: what happened and how to recover.
std::string slot_lost_message(const std::string& task, SlotProblem problem,
                              const std::optional<pg::SlotInfo>& slot);

// Throws SlotLostError when the task depends on its slot and the slot has a
// problem; Error when it does not depend on it yet but another plugin's or
// database's slot holds its name. A missing slot the task does not depend
// on is fine (it is created).
void require_slot(const std::string& task, const store::TaskPhase& where, pg::Lsn applied,
                  const std::optional<pg::SlotInfo>& slot, const std::string& dbname);

}  // namespace pgdts::task
