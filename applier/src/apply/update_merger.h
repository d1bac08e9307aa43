// Net effect of repeated UPDATEs inside one destination transaction: when a
// group updates the same row several times (pgbench_branches: every
// transaction), only the last image needs writing. Each row version written
// inside one transaction also lengthens the chain every later UPDATE of that
// row walks, so merging saves more than the statements themselves.
//
// When it is sound (the Applier checks, per table, before adding):
//   - the UPDATE kept its key (no old key image) and sends every column
//     (no unchanged TOAST value), so the last image is the whole row;
//   - the destination table has no unique or exclusion index except on key
//     columns (which these UPDATEs do not change) and no trigger that fires
//     on replayed changes, and foreign keys are not checked
//     (session_replication_role = replica): then UPDATEs of different rows
//     commute, and moving a row's last UPDATE later inside the transaction
//     changes nothing but the number of statements;
//   - every other change to the table (INSERT, DELETE, a key-changing or
//     TOAST-keeping UPDATE, TRUNCATE, a new definition) first writes out the
//     table's merged UPDATEs, so each row's changes stay in order.
// Merged UPDATEs are written at the latest before the group commits, a
// table's rows together (the Applier writes them as one set where it can).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "apply/held_row.h"
#include "pg/lsn.h"
#include "pgdts.pb.h"
#include "stream/relation_cache.h"

namespace pgdts::apply {

class UpdateMerger {
 public:
  using Held = HeldRow;
  // One table's held rows, in first-update order, each key once.
  using Emit = std::function<void(const stream::Relation&, const std::vector<Held>&)>;

  // Holds at most max_rows rows or max_bytes of values before full().
  UpdateMerger(std::size_t max_rows, std::size_t max_bytes)
      : max_rows_(max_rows), max_bytes_(max_bytes) {}

  // Keeps the UPDATE's new row, replacing an earlier one of the same key;
  // returns true when it replaced one.
  bool add(const std::shared_ptr<const stream::Relation>& rel, const pgdts::Tuple& new_row,
           pg::Lsn lsn);
  bool holds(std::uint32_t oid) const { return tables_.count(oid) != 0; }
  bool empty() const { return tables_.empty(); }
  bool full() const { return rows_ >= max_rows_ || bytes_ >= max_bytes_; }

  // Hands the table's held rows to emit, forgets them.
  void drain(std::uint32_t oid, const Emit& emit);
  void drain_all(const Emit& emit);
  void clear();

 private:
  struct Table {
    std::shared_ptr<const stream::Relation> rel;
    std::vector<Held> rows;
    std::unordered_map<std::string, std::size_t> by_key;
  };

  void encode_key(const stream::Relation& rel, const pgdts::Tuple& row);

  std::size_t max_rows_, max_bytes_;
  std::unordered_map<std::uint32_t, Table> tables_;
  std::vector<std::uint32_t> order_;  // tables in first-touch order
  std::size_t rows_ = 0, bytes_ = 0;
  std::string key_;  // reused
};

}  // namespace pgdts::apply
