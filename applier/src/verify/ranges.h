// The first pass over one table: hashes of key ranges (or, without a key, of
// buckets of row texts) on both sides at once, and the rows of only the
// ranges whose hashes differ. Everything is counted and hashed on the
// servers; at most one range's rows (about range_rows) are in memory per side.
#pragma once

#include <cstdint>

#include "verify/model.h"

namespace pgdts::pg {
class Connection;
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

// Each range is read in a REPEATABLE READ READ ONLY transaction per side, so
// that its hash and its rows come from one snapshot; the two sides run in
// parallel. Throws pg::SqlError / pg::ConnectionError.
FirstPass first_pass(pg::Connection& source, pg::Connection& target, const TablePair& table,
                     const PassOptions& options);

}  // namespace pgdts::verify
