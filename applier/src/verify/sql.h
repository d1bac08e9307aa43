// The statements verify runs on either side of a table pair: pure text
// generation (identifiers and literals come in as functions, so the unit
// tests need no server). Every statement lists the columns explicitly, in
// source order, with the side's own names, so both sides hash the same text.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "verify/model.h"

namespace pgdts::verify {

struct Quoting {
  std::function<std::string(std::string_view)> identifier;
  std::function<std::string(std::string_view)> literal;
};

enum class Side { source, target };

class TableSql {
 public:
  TableSql(const TablePair& table, Side side, Quoting quoting);

  // ONLY "schema"."table": a leaf or plain table, never its inheritance
  // children; on the source, with a row filter, only the rows it keeps
  // (a subquery in parentheses).
  std::string relation() const;
  // ROW("a", "b", ...)::text
  std::string row_text() const;
  // "k1", "k2"
  std::string key_columns() const;

  // Source only: every step-th key in key order, as text (range boundaries).
  std::string boundaries(std::int64_t step) const;
  // The same among the keys of a sample of percent of the table's pages
  // (TABLESAMPLE SYSTEM): boundaries of ranges of about step * 100 /
  // percent rows, for the price of sorting the sample.
  std::string sampled_boundaries(double percent, std::int64_t step) const;
  // Keys above lower (exclusive) and up to upper (inclusive); nullopt: open.
  std::string range_condition(const std::optional<Key>& lower, const std::optional<Key>& upper) const;
  // count and md5 over the md5 of each row text, in key order.
  std::string range_hash(const std::string& condition) const;
  // key values as text, then the row text.
  std::string range_rows(const std::string& condition) const;
  // The rows of exactly these keys (key values as text, then row text).
  std::string rows_of_keys(const std::vector<Key>& keys) const;
  // key IN (the keys, cast from text arrays)
  std::string keys_condition(const std::vector<Key>& keys) const;
  // Resync's cheaper hashes (hashtextextended: a third of md5's cost, and
  // no sort): count and the sum of the 64-bit hashes of the row texts
  // (keys are unique, so the order does not matter)...
  std::string range_hash_sum(const std::string& condition) const;
  // ... and key values as text, then the 64-bit hash of the row text: a
  // range's rows compared key by key without carrying whole rows across.
  std::string range_row_hashes(const std::string& condition) const;

  // Resync (resync/differential.h) rewrites the destination's differing
  // rows from the source's snapshot. Source only: the rows meeting the
  // condition, as the destination should hold them, every column but the
  // generated ones (computed there).
  std::string copy_out(const std::string& condition) const;
  // Destination only: the COPY that takes copy_out's rows.
  std::string copy_in() const;
  // Destination only: removes the rows meeting the condition; returns
  // how many.
  std::string delete_where(const std::string& condition) const;

  // --repair: the table itself locked against writers until the end of the
  // transaction (SHARE: readers go on).
  std::string lock() const;
  // --repair, keyed: key values as text, then every column's value as text,
  // of exactly these keys.
  std::string values_of_keys(const std::vector<Key>& keys) const;
  // --repair, keyless: per row text among these, how many times the table
  // holds it and the values (as text) of one such row.
  std::string values_of_rows(const std::vector<std::string>& rows) const;

  // Tables without a key: the rows hashed into buckets by their text.
  std::string count() const;
  // bucket, count, md5 over the md5 of each row text in text order.
  std::string bucket_hashes(std::int64_t buckets) const;
  // row text, how many times the bucket holds it.
  std::string bucket_rows(std::int64_t buckets, std::int64_t bucket) const;
  // row text, how many times the table holds it, for these texts.
  std::string row_counts(const std::vector<std::string>& rows) const;

 private:
  std::string key_tuple() const;
  std::string key_values(const Key& key) const;
  std::string key_texts() const;
  std::string every_nth_key(const std::string& from, std::int64_t step) const;
  std::string row_hash() const;
  // Quoted, this side's names, generated columns left out.
  std::vector<std::string> written_columns() const;
  std::string table_name() const;
  // "a"::text, "b"::text, ...
  std::string value_texts(const std::string& prefix) const;
  std::string bucket_of(std::int64_t buckets) const;

  const TablePair& table_;
  Side side_;
  Quoting q_;
  std::vector<std::string> columns_;  // quoted, this side's names
  std::vector<std::string> keys_;     // quoted key columns
  const std::vector<std::string>& key_types_;
};

// The session settings under which both sides print values identically.
extern const char* const kComparableSettings;

}  // namespace pgdts::verify
