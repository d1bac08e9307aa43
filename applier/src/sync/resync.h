// pgdts sync --resync: the recovery of a task whose slot was lost
// (task/task_slot.h). The task goes back to phase full with no slot and no
// origin position, every table marked to be resynced; the sync that
// follows creates a new slot with an exported snapshot, compares every
// table with it and copies again what differs (resync/differential.h; with
// --copy-all, empties and copies every table with full sync's machinery),
// and streams on from that slot. A run killed half-way is resumed by a
// plain pgdts sync (which compares).
#pragma once

#include <optional>
#include <string>

#include "model/options.h"
#include "pg/connection.h"
#include "pg/lsn.h"
#include "pg/replication_stream.h"
#include "store/task_store.h"

namespace pgdts::sync {

using model::Options;

// Refuses with UsageError when there is nothing to recover (the task never
// had a slot, or its slot is healthy: a recopy would be for nothing), and
// with task::SlotLostError while another plugin's or database's slot holds
// the task's slot name. Otherwise resets the task's state on the
// destination as described above.
void start_resync(const Options& o, pg::Connection& dest, const store::TaskPhase& where,
                  pg::Lsn applied, const std::optional<pg::SlotInfo>& slot,
                  const std::string& dbname);

}  // namespace pgdts::sync
