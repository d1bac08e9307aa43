// What of the stream belongs to the task and under which names: the
// selection and name map of the task, the tables resolved at start
// (partitions of a selected partitioned table arrive under their own names),
// and the positions at which full sync copied each table. Applied to every
// RELATION record as it arrives, so a renamed table is followed: its new
// name is selected and mapped like any other.
#pragma once

#include <map>
#include <set>

#include "pg/lsn.h"
#include "stream/relation_cache.h"
#include "model/selection.h"

namespace pgdts::apply {

struct TaskScope {
  model::Selection selection;
  model::NameMap names;
  // Tables found selected at start, partitions included.
  std::set<model::TableName> tables;
  // Full sync copied these tables under a snapshot taken at this position:
  // their changes from transactions that committed before it are in the copy.
  std::map<model::TableName, pg::Lsn> copied_at;

  // Sets the relation's destination names, whether it is in the task and
  // the position before which its changes are skipped.
  void adjust(stream::Relation& rel) const;
};

}  // namespace pgdts::apply
