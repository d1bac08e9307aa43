#include "stream/timestamp.h"

#include <chrono>

#include <cstdio>
#include <ctime>

namespace pgdts::stream {

std::string format_utc(std::int64_t unix_micros, char sep, const char* zone) {
  std::int64_t secs = unix_micros / 1000000, micros = unix_micros % 1000000;
  if (micros < 0) {
    micros += 1000000;
    --secs;
  }
  std::time_t t = static_cast<std::time_t>(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02d%c%02d:%02d:%02d.%06lld%s", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, sep, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(micros), zone);
  return buf;
}

std::int64_t unix_micros_now() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace pgdts::stream
