// Text forms that cross the libpq boundary: quoted identifiers, array
// literals for query parameters ($1::text[], $1::oid[]) and integers read
// back from results.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pgdts::pg {

// "name" with embedded quotes doubled: always quoted, so case, spaces and
// reserved words survive. Equivalent to PQescapeIdentifier for every
// encoding PostgreSQL accepts from a client (no multibyte character there
// contains the byte '"').
std::string quote_identifier(std::string_view name);
// For messages: quoted only when a lower-case, digit-and-underscore name
// would not read back as the same name (reserved words are not looked at).
std::string quote_identifier_if_needed(std::string_view name);

// {"a","b \"c\""}: every element quoted, so any name survives.
std::string text_array(const std::vector<std::string>& items);
// {16384,16390}
std::string oid_array(const std::vector<std::uint32_t>& oids);
// \x0a1b...: bytea's hex input form of these bytes.
std::string bytea_hex(std::string_view bytes);
// An integer column's text (0 when empty or not a number).
std::int64_t to_int64(std::string_view text);

}  // namespace pgdts::pg
