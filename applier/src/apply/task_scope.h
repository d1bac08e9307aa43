// What of the stream belongs to the task and under which names: the
// selection and name map of the task, the tables resolved at start
// (partitions of a selected partitioned table arrive under their own names),
// and the positions at which full sync copied each table. Applied to every
// RELATION record as it arrives, so a renamed table is followed: its new
// name is selected and mapped like any other.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <set>

#include "error.h"
#include "pg/lsn.h"
#include "stream/relation_cache.h"
#include "model/selection.h"

namespace pgdts::apply {

// The session met a change it may not apply before the copy of a table
// added beside the stream is done (TaskScope::copying).
class TableCopyingError : public Error {
 public:
  using Error::Error;
};

struct TaskScope {
  model::Selection selection;
  model::NameMap names;
  // Tables found selected at start, partitions included.
  std::set<model::TableName> tables;
  // Full sync copied these tables under a snapshot taken at this position:
  // their changes from transactions that committed before it are in the copy.
  std::map<model::TableName, pg::Lsn> copied_at;
  // Tables a wider selection added whose copy runs beside the stream
  // (sync/initial_sync.h), taken under a snapshot at copying_from (also
  // their copied_at), and whether that copy is done. Until it is, their
  // changes from copying_from on, and any DDL from there on, cannot be
  // applied: the applier stops the session (TableCopyingError) and the
  // runner waits for the copy.
  std::set<model::TableName> copying;
  pg::Lsn copying_from = 0;
  std::shared_ptr<const std::atomic<bool>> copy_done;

  bool copy_pending() const { return !copying.empty() && copy_done && !copy_done->load(); }

  // Sets the relation's destination names, whether it is in the task and
  // the position before which its changes are skipped.
  void adjust(stream::Relation& rel) const;
};

}  // namespace pgdts::apply
