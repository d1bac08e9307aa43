// The first pass over one table: hashes of key ranges (or, without a key, of
// buckets of row texts) on both sides at once, and the rows of only the
// ranges whose hashes differ. Everything is counted and hashed on the
// servers; at most one range's rows (about range_rows) are in memory per side.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "verify/model.h"

#include "verify/row_diff.h"

namespace pgdts::pg {
class Connection;
class Result;
}

namespace pgdts::verify {

struct PassOptions {
  std::int64_t range_rows = 20000;    // rows per key range or bucket
  std::size_t suspect_limit = 10000;  // keys / rows kept for the recheck
};

// What the first pass found: the keys (or row texts) that differed at the
// moment each range was read. They may only be in flight.
struct FirstPass {
  std::int64_t source_rows = 0, target_rows = 0;
  std::vector<Key> keys;        // keyed tables
  std::vector<RowCount> rows;   // tables without a key
  std::int64_t beyond_limit = 0;  // further differences, not kept
  std::int64_t ranges = 0, differing_ranges = 0;  // key ranges or buckets
};

// A range's (or bucket's) row count and hash, as range_hash,
// range_hash_sum and bucket_hashes return them (null: no rows).
struct RangeHash {
  std::int64_t rows = 0;
  std::optional<std::string> hash;
  bool operator==(const RangeHash&) const = default;
};
RangeHash range_hash_of(const pg::Result& r, int row, int first_col);
// Key values, then one text per row (range_rows, range_row_hashes).
KeyedRows keyed_rows(const pg::Result& r, std::size_t key_size);
// Bucket -> hash (bucket_hashes).
std::map<std::int64_t, RangeHash> bucket_hashes_of(const pg::Result& r);

// Each range is read in a REPEATABLE READ READ ONLY transaction per side, so
// that its hash and its rows come from one snapshot; the two sides run in
// parallel. Throws pg::SqlError / pg::ConnectionError.
FirstPass first_pass(pg::Connection& source, pg::Connection& target, const TablePair& table,
                     const PassOptions& options);

}  // namespace pgdts::verify
