// What pgdts verify prints: one line per table, metadata and sequence
// lines, notes and a summary (text), or one JSON document. Pure, unit-tested.
#pragma once

#include <string>

#include "verify/model.h"

namespace pgdts::verify {

// Keys listed per table in the text output (the JSON lists up to
// kJsonKeys); the count always covers all of them.
constexpr std::size_t kTextKeys = 10;
constexpr std::size_t kJsonKeys = 100;
// Row texts of keyless tables are cut to this many characters.
constexpr std::size_t kRowChars = 200;

// (col1, col2)=(v1, v2), as PostgreSQL prints a key in its messages.
std::string format_key(const std::vector<std::string>& columns, const Key& key);

std::string text_report(const VerifyResult& result);
std::string json_report(const VerifyResult& result);

}  // namespace pgdts::verify
