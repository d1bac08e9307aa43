// First pass of verify over one table (see ranges.h).
#include "pg/transaction.h"
#include "verify/ranges.h"

#include "verify/recheck.h"

#include <optional>

#include "pg/connection.h"
#include "pg/literals.h"
#include "verify/parallel.h"
#include "verify/row_diff.h"
#include "verify/sql.h"

namespace pgdts::verify {

RangeHash range_hash_of(const pg::Result& r, int row, int first_col) {
  return {pg::to_int64(r.value(row, first_col)), r.optional(row, first_col + 1)};
}

KeyedRows keyed_rows(const pg::Result& r, std::size_t key_size) {
  KeyedRows out;
  for (int row = 0; row < r.rows(); ++row) {
    Key key;
    for (std::size_t i = 0; i < key_size; ++i) key.emplace_back(r.value(row, static_cast<int>(i)));
    out.emplace(std::move(key), std::string(r.value(row, static_cast<int>(key_size))));
  }
  return out;
}

std::map<std::int64_t, RangeHash> bucket_hashes_of(const pg::Result& r) {
  std::map<std::int64_t, RangeHash> out;
  for (int row = 0; row < r.rows(); ++row) out[pg::to_int64(r.value(row, 0))] = range_hash_of(r, row, 1);
  return out;
}

namespace {

RowMultiset multiset(const pg::Result& r) {
  RowMultiset out;
  for (int row = 0; row < r.rows(); ++row) out[std::string(r.value(row, 0))] = pg::to_int64(r.value(row, 1));
  return out;
}

class Pass {
 public:
  Pass(pg::Connection& source, pg::Connection& target, const TablePair& table, const PassOptions& options)
      : source_(source),
        target_(target),
        table_(table),
        options_(options),
        src_sql_(table, Side::source, quoting_of(source)),
        dst_sql_(table, Side::target, quoting_of(target)) {}

  FirstPass keyed() {
    std::vector<Key> bounds = boundaries();
    for (std::size_t i = 0; i <= bounds.size(); ++i) {
      std::optional<Key> lower, upper;
      if (i > 0) lower = bounds[i - 1];
      if (i < bounds.size()) upper = bounds[i];
      compare_range(lower, upper);
    }
    return std::move(out_);
  }

  FirstPass keyless() {
    std::int64_t rows = pg::to_int64(source_.exec(src_sql_.count()).value(0, 0));
    std::int64_t buckets = std::max<std::int64_t>(1, (rows + options_.range_rows - 1) / options_.range_rows);
    // One snapshot per side for the bucket hashes and the rows of the
    // buckets that differ.
    auto [src, dst] = on_both([&] { return buckets_of(source_, src_sql_, buckets); },
                              [&] { return buckets_of(target_, dst_sql_, buckets); });
    try {
      for (std::int64_t b = 0; b < buckets; ++b) {
        RangeHash s = src.count(b) ? src.at(b) : RangeHash{};
        RangeHash t = dst.count(b) ? dst.at(b) : RangeHash{};
        out_.source_rows += s.rows;
        out_.target_rows += t.rows;
        ++out_.ranges;
        if (s == t) continue;
        ++out_.differing_ranges;
        auto [srows, trows] = on_both([&] { return multiset(source_.exec(src_sql_.bucket_rows(buckets, b))); },
                                      [&] { return multiset(target_.exec(dst_sql_.bucket_rows(buckets, b))); });
        for (auto& d : differing_rows(srows, trows)) keep(std::move(d));
      }
    } catch (...) {
      end();
      throw;
    }
    end();
    return std::move(out_);
  }

 private:
  std::map<std::int64_t, RangeHash> buckets_of(pg::Connection& conn, const TableSql& sql, std::int64_t buckets) {
    conn.exec(pg::kBeginSnapshot);
    return bucket_hashes_of(conn.exec(sql.bucket_hashes(buckets)));
  }

  void end() {
    on_both([&] { return end_on(source_); }, [&] { return end_on(target_); });
  }
  static int end_on(pg::Connection& conn) {
    if (conn.is_healthy() && conn.in_transaction()) conn.exec("ROLLBACK");
    return 0;
  }

  // Every range_rows-th key of the source: the ranges are (-inf, b1],
  // (b1, b2], ..., (bn, +inf), so that rows added after this, beyond the
  // last boundary or on the destination only, still fall into one.
  std::vector<Key> boundaries() {
    auto r = source_.exec(src_sql_.boundaries(options_.range_rows));
    std::vector<Key> out;
    for (int row = 0; row < r.rows(); ++row) {
      Key k;
      for (std::size_t i = 0; i < table_.key.size(); ++i) k.emplace_back(r.value(row, static_cast<int>(i)));
      out.push_back(std::move(k));
    }
    return out;
  }

  void compare_range(const std::optional<Key>& lower, const std::optional<Key>& upper) {
    std::string src_cond = src_sql_.range_condition(lower, upper);
    std::string dst_cond = dst_sql_.range_condition(lower, upper);
    try {
      auto [s, t] = on_both(
          [&] {
            source_.exec(pg::kBeginSnapshot);
            return range_hash_of(source_.exec(src_sql_.range_hash(src_cond)), 0, 0);
          },
          [&] {
            target_.exec(pg::kBeginSnapshot);
            return range_hash_of(target_.exec(dst_sql_.range_hash(dst_cond)), 0, 0);
          });
      out_.source_rows += s.rows;
      out_.target_rows += t.rows;
      ++out_.ranges;
      if (!(s == t)) {
        ++out_.differing_ranges;
        std::size_t n = table_.key.size();
        auto [srows, trows] =
            on_both([&] { return keyed_rows(source_.exec(src_sql_.range_rows(src_cond)), n); },
                    [&] { return keyed_rows(target_.exec(dst_sql_.range_rows(dst_cond)), n); });
        for (auto& k : differing_keys(srows, trows)) keep(std::move(k));
      }
    } catch (...) {
      end();
      throw;
    }
    end();
  }

  void keep(Key key) {
    if (out_.keys.size() < options_.suspect_limit) out_.keys.push_back(std::move(key));
    else ++out_.beyond_limit;
  }
  void keep(RowCount row) {
    if (out_.rows.size() < options_.suspect_limit) out_.rows.push_back(std::move(row));
    else ++out_.beyond_limit;
  }

  pg::Connection& source_;
  pg::Connection& target_;
  const TablePair& table_;
  const PassOptions& options_;
  TableSql src_sql_, dst_sql_;
  FirstPass out_;
};

}  // namespace

FirstPass first_pass(pg::Connection& source, pg::Connection& target, const TablePair& table,
                     const PassOptions& options) {
  Pass pass(source, target, table, options);
  return table.keyed() ? pass.keyed() : pass.keyless();
}

}  // namespace pgdts::verify
