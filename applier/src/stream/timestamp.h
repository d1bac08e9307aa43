// Commit times travel as microseconds since the Unix epoch; people and
// PostgreSQL read them as UTC text.
#pragma once

#include <cstdint>
#include <string>

namespace pgdts::stream {

// "2026-11-25<sep>21:40:01.123456<zone>": sep ' ' and zone "+00" for a
// timestamptz literal, 'T' and "Z" for ISO 8601.
std::string format_utc(std::int64_t unix_micros, char sep, const char* zone);

// This machine's clock, in the commit times' unit.
std::int64_t unix_micros_now();

}  // namespace pgdts::stream
