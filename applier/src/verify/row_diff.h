// Comparing the rows two sides returned for one range, bucket or set of
// keys: pure logic, unit-tested.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "verify/model.h"

namespace pgdts::verify {

// Row text by key, as one side holds it.
using KeyedRows = std::map<Key, std::string>;
// How many times one side holds each row text (tables without a key).
using RowMultiset = std::map<std::string, std::int64_t>;

// Keys whose row is missing on one side or whose text differs, in key order.
std::vector<Key> differing_keys(const KeyedRows& source, const KeyedRows& target);

// Row texts held a different number of times, in text order.
std::vector<RowCount> differing_rows(const RowMultiset& source, const RowMultiset& target);

// While changes flow, the destination shows the source as of the position its
// replication origin stood at, some time after `before` was read from the
// source and before `after` was: a row in flight equals one of the two (or
// is missing on both, as nullopt). A row that equals neither differs for
// another reason than replication lag, unless it changed twice in between.
bool settles(const std::optional<std::string>& target, const std::optional<std::string>& before,
             const std::optional<std::string>& after);

}  // namespace pgdts::verify
