// Column values as statement parameters.
//
// Text parameters for everything but bytea, which goes as a binary
// parameter (its raw bytes: no hex encoding that doubles its size). Integers
// and floats are formatted into per-parameter scratch buffers that are
// reused from change to change; text values point into the decoded record.
// So the per-change hot path allocates nothing once the buffers have grown
// to the widest table's column count.
#pragma once

#include <array>
#include <deque>
#include <cstdint>
#include <string_view>
#include <vector>

#include "pgdts.pb.h"

namespace pgdts::apply {

constexpr std::uint32_t kFloat4Oid = 700;

// Text PostgreSQL reads back as exactly v: the shortest round-trip digits;
// NaN, Infinity, -Infinity; -0 keeps its sign. A float4 column's value is
// formatted as a float (shortest for float4).
std::string_view format_float(double v, bool as_float4, char* buf, std::size_t size);
std::string_view format_int(std::int64_t v, char* buf, std::size_t size);

class ParamBuffer {
 public:
  void clear() { count_ = 0; }
  void add_null();
  // The value must stay alive until the parameters are sent. column: the
  // column of the relation it is for (-1: compared as text), for casts
  // when the parameters travel as one text[] (run_as.h).
  void add(const pgdts::Value& value, std::uint32_t type_oid, int column = -1);
  // A text parameter that stays alive until the parameters are sent.
  void add_text(const std::string& text);
  int column(int i) const { return columns_[static_cast<std::size_t>(i)]; }

  int size() const { return static_cast<int>(count_); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  std::size_t next_slot();

  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  std::vector<int> columns_;
  // a deque: growing it keeps earlier buffers (which values_ points into) in place
  std::deque<std::array<char, 48>> scratch_;
  std::size_t count_ = 0;
};

// One array literal per column, built row by row: what an UPDATE of many
// rows reads its rows from (update_from_arrays_sql). Elements are the
// values' text forms, quoted; bytea as \x hex; NULL as NULL. The strings
// keep their capacity from one set to the next.
class ColumnArrays {
 public:
  // Empties the arrays of columns columns.
  void reset(std::size_t columns);
  void add(std::size_t column, const pgdts::Value& value, std::uint32_t type_oid);
  // The column's literal, closed; add nothing to it afterwards.
  const std::string& literal(std::size_t column);

 private:
  std::vector<std::string> arrays_;
  char scratch_[48];
};

// sql with each parameter $k written as ($1)[k]::type (types[k-1]), so that
// it reads its parameters from one text[]: what the function passes on.
// Parameters are recognized outside double-quoted identifiers (the
// applier's statements hold no string literals).
std::string with_array_parameters(std::string_view sql, const std::vector<std::string>& types);

// The parameters as one text[] literal: text forms, bytea as \x hex, NULL
// as NULL.
std::string parameters_as_text_array(const ParamBuffer& params);

}  // namespace pgdts::apply
