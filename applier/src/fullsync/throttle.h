// Throttling of full sync: token buckets shared by every worker, one per
// limit (--full-qps queries/s against the source, --full-rps rows/s,
// --full-mbps MB/s with 1 MB = 1,000,000 bytes).
//
// Limits may be changed while workers run (model/token_bucket.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>

#include "model/token_bucket.h"

namespace pgdts::fullsync {

using model::ClockFn;
using model::sleep_unless_stopped;
using model::ThrottleClock;
using model::TokenBucket;

struct Limits {
  std::optional<double> queries_per_second, rows_per_second, megabytes_per_second;
};

class Throttle {
 public:
  explicit Throttle(const Limits& limits = {}, ClockFn clock = nullptr);

  void set_limits(const Limits& limits);
  Limits limits() const;
  bool limits_rows_or_bytes() const { return rows_.limited() || bytes_.limited(); }

  // The wait owed for one statement on the source.
  ThrottleClock::duration take_query();
  // The wait owed for rows and bytes just read (the longer of the two).
  ThrottleClock::duration take_rows(std::int64_t rows, std::int64_t bytes);

 private:
  TokenBucket queries_, rows_, bytes_;
};

}  // namespace pgdts::fullsync
