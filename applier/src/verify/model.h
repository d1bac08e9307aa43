// pgdts verify: what is compared and what was found. Plain data shared by the
// parts of verify (see verify.h for the order in which they run).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/selection.h"

namespace pgdts::verify {

// One column as both sides call it; rows are compared on the columns that
// exist on both sides (a missing column is a metadata difference).
struct ColumnPair {
  std::string source;
  std::string target;
  bool generated = false;  // GENERATED ... STORED on the source: compared, never written (--repair)
};

// A table whose rows are compared: a plain table or a leaf partition.
// Partitioned parents hold no rows of their own; comparing the leaves finds
// the same differences in smaller pieces, each with its own key index.
struct TablePair {
  model::TableName source;
  model::TableName target;
  std::vector<ColumnPair> columns;  // in source order
  // Indexes into columns of the key (PRIMARY KEY, else the narrowest
  // non-partial unique index on NOT NULL columns), in index order; empty
  // when the table has none: its rows are compared as a multiset.
  std::vector<std::size_t> key;
  // format_type of each key column on each side (for casts of key values).
  std::vector<std::string> source_key_types, target_key_types;
  bool target_exists = false;
  std::int64_t rows_estimate = 0;
  // --filter: the condition (in parentheses) of the source rows that belong
  // to the destination; empty: all of them.
  std::string source_filter;
  // --transform: per entry of columns, the source expression (in
  // parentheses) the destination column holds; empty: the column itself.
  std::vector<std::string> source_expressions;

  bool keyed() const { return !key.empty(); }
};

// A key as text values, one per key column, in key order.
using Key = std::vector<std::string>;

// A row of a table without a key that the two sides hold a different number
// of times.
struct RowCount {
  std::string row;  // ROW(...)::text
  std::int64_t source = 0, target = 0;
};

enum class TableStatus { equal, different, missing };

struct TableResult {
  model::TableName source, target;
  TableStatus status = TableStatus::equal;
  std::optional<std::int64_t> source_rows, target_rows;
  std::vector<std::string> key_columns;  // source names; empty: no key
  std::vector<Key> keys;                 // reported keys (capped)
  std::vector<RowCount> rows;            // keyless tables: reported rows (capped)
  std::int64_t differing = 0;            // keys (or distinct rows) that differ, all of them
  std::string error;                     // the table could not be compared (reported, fails)
  // --repair: keys (or distinct rows) written from the source and found
  // equal afterwards; --repair --dry-run: what would be written (the
  // differing keys and rows, listed above). nullopt without --repair.
  std::optional<std::int64_t> repaired;
  std::optional<std::int64_t> would_repair;
  std::string repair_error;  // --repair could not write this table's repair (fails verify)
};

enum class RepairMode { none, dry_run, repair };

// One difference of the catalogs, e.g. object "table shop.products",
// message "index products_active_name (btree (name) WHERE active) missing on
// the destination".
struct MetadataDifference {
  std::string object;
  std::string message;
};

enum class SequenceStatus { equal, behind, missing };

struct SequenceResult {
  model::TableName source, target;
  SequenceStatus status = SequenceStatus::equal;
  std::optional<std::int64_t> source_value, target_value;  // last_value (nullopt: never called)
};

struct VerifyResult {
  std::string task;
  std::vector<TableResult> tables;
  std::vector<MetadataDifference> metadata;
  std::vector<SequenceResult> sequences;
  std::int64_t rechecked = 0;  // keys and rows compared again while changes flowed
  int recheck_rounds = 0;
  std::vector<std::string> notes;  // e.g. the sync is not running
  RepairMode repair = RepairMode::none;
  // --repair wrote repair messages that the sync has not been seen to apply
  // (it is not running): they apply when it runs.
  bool repair_pending = false;

  bool equal() const;
};

}  // namespace pgdts::verify
