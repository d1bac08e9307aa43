// Rows of one kind of change held back within a destination transaction,
// per table, and written together: INSERTs (pgbench_history's rows, or a
// bulk load, arrive one record each) and DELETEs by key, each as sets of
// rows instead of one statement per row (Applier::write_inserts,
// write_deletes).
//
// Holding a table's changes back moves them later in the transaction, past
// other tables' changes, never past the same table's: every other change to
// the table (another kind, TRUNCATE, a new definition) first writes the
// held rows out, in their order. That is sound when nothing on the
// destination can tell the difference, which the Applier checks per table:
// no trigger fires on replayed changes and no rule rewrites them, and
// foreign keys are not checked (session_replication_role = replica).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "apply/held_row.h"
#include "pg/lsn.h"
#include "pgdts.pb.h"
#include "stream/relation_cache.h"

namespace pgdts::apply {

class RowBatcher {
 public:
  using Held = HeldRow;
  struct Table {
    std::shared_ptr<const stream::Relation> rel;
    std::vector<Held> rows;  // in stream order
  };

  RowBatcher(std::size_t max_rows, std::size_t max_bytes)
      : max_rows_(max_rows), max_bytes_(max_bytes) {}

  void add(const std::shared_ptr<const stream::Relation>& rel, const pgdts::Tuple& row,
           pg::Lsn lsn);
  bool holds(std::uint32_t oid) const;
  bool empty() const { return tables_.empty(); }
  bool full() const { return rows_ >= max_rows_ || bytes_ >= max_bytes_; }

  // Removes and returns the rows held for one table (empty if none), or
  // every table's, in first-insert order.
  Table take(std::uint32_t oid);
  std::vector<Table> take_all();

 private:
  std::size_t max_rows_, max_bytes_;
  std::vector<Table> tables_;  // few tables per group: a vector beats a map
  std::size_t rows_ = 0, bytes_ = 0;
};

}  // namespace pgdts::apply
