// Throttling of incremental sync (--incr-rps changes per second, --incr-mbps
// MB of change records per second, 1 MB = 1,000,000 bytes): the token
// buckets of full sync (fullsync/throttle.h) over the records the apply
// session reads. Slowing the reader is enough: the walsender waits on the
// socket and the source keeps the WAL, nothing is dropped. Limits may be
// changed while the session runs (SIGHUP).
#pragma once

#include <cstddef>
#include <optional>

#include "model/token_bucket.h"

namespace pgdts::apply {

struct ChangeLimits {
  std::optional<double> changes_per_second, megabytes_per_second;
};

class ChangeThrottle {
 public:
  explicit ChangeThrottle(const ChangeLimits& limits = {}, model::ClockFn clock = nullptr);

  void set_limits(const ChangeLimits& limits);
  ChangeLimits limits() const;
  bool limited() const { return changes_.limited() || bytes_.limited(); }

  // The wait owed for one record of `bytes` bytes; `change` when it is an
  // INSERT, UPDATE or DELETE (the unit of --incr-rps).
  model::ThrottleClock::duration take(bool change, std::size_t bytes);

 private:
  model::TokenBucket changes_, bytes_;
};

}  // namespace pgdts::apply
