// Full sync's limits: three token buckets (see throttle.h).
#include "fullsync/throttle.h"

#include <algorithm>

namespace pgdts::fullsync {

Throttle::Throttle(const Limits& limits, ClockFn clock)
    : queries_(std::nullopt, clock), rows_(std::nullopt, clock), bytes_(std::nullopt, clock) {
  set_limits(limits);
}

void Throttle::set_limits(const Limits& limits) {
  queries_.set_rate(limits.queries_per_second);
  rows_.set_rate(limits.rows_per_second);
  bytes_.set_rate(limits.megabytes_per_second
                      ? std::optional<double>(*limits.megabytes_per_second * 1e6)
                      : std::nullopt);
}

Limits Throttle::limits() const {
  auto mb = bytes_.rate();
  return {queries_.rate(), rows_.rate(), mb ? std::optional<double>(*mb / 1e6) : std::nullopt};
}

ThrottleClock::duration Throttle::take_query() { return queries_.take(1); }

ThrottleClock::duration Throttle::take_rows(std::int64_t rows, std::int64_t bytes) {
  return std::max(rows_.take(static_cast<double>(rows)), bytes_.take(static_cast<double>(bytes)));
}

}  // namespace pgdts::fullsync
