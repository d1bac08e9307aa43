#include "apply/change_throttle.h"

#include <algorithm>

namespace pgdts::apply {
namespace {

std::optional<double> bytes_per_second(const std::optional<double>& megabytes) {
  if (!megabytes) return std::nullopt;
  return *megabytes * 1e6;
}

}  // namespace

ChangeThrottle::ChangeThrottle(const ChangeLimits& limits, model::ClockFn clock)
    : changes_(limits.changes_per_second, clock),
      bytes_(bytes_per_second(limits.megabytes_per_second), clock) {}

void ChangeThrottle::set_limits(const ChangeLimits& limits) {
  changes_.set_rate(limits.changes_per_second);
  bytes_.set_rate(bytes_per_second(limits.megabytes_per_second));
}

ChangeLimits ChangeThrottle::limits() const {
  std::optional<double> bytes = bytes_.rate();
  return {changes_.rate(), bytes ? std::optional<double>(*bytes / 1e6) : std::nullopt};
}

model::ThrottleClock::duration ChangeThrottle::take(bool change, std::size_t bytes) {
  model::ThrottleClock::duration wait{};
  if (change && changes_.limited()) wait = changes_.take(1);
  if (bytes_.limited()) wait = std::max(wait, bytes_.take(static_cast<double>(bytes)));
  return wait;
}

}  // namespace pgdts::apply
