// The payload of a repair message: what pgdts verify --repair emits on the
// source with pg_logical_emit_message(true, 'pgdts_repair', ...) and the
// applier replays at that message's place in the stream (docs/verify.md,
// "Repair"). Shared vocabulary of verify (which writes it) and apply (which
// reads it); pure, unit-tested.
//
// JSON, values as text in the source's encoding:
//
//   {"format": 1, "table": {"schema": "s", "name": "t"},
//    "columns": ["id", "v"], "key": [0],
//    "rows": [{"values": ["5", "x"]},          keyed: the source's row
//             {"absent": ["7"]}]}              keyed: no row with this key
//   keyless ("key": []):
//    "rows": [{"values": ["a", null], "copies": 2}]   the source holds 2 of it
//
// The table and columns are the SOURCE's names: the applier maps them with
// its own task's --map and refuses a table outside its selection, so a
// message can only ever write where the task itself writes. The source is
// untrusted: parse_repair_message checks every part and throws Error saying
// what is wrong; it never trusts a count, an index or a nesting depth.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/selection.h"

namespace pgdts::model {

// The logical message prefix (the plugin forwards prefixes starting "pgdts").
inline constexpr const char* kRepairPrefix = "pgdts_repair";

using RepairValue = std::optional<std::string>;  // nullopt: SQL NULL

struct RepairRow {
  // keyed: the row's values, one per column (empty when absent);
  // keyless: the row's values.
  std::vector<RepairValue> values;
  // keyed: no source row has this key (values of the key columns, in key
  // order); the destination's row with it is deleted.
  std::optional<std::vector<std::string>> absent;
  // keyless: how many copies of the row the source holds.
  std::int64_t copies = 0;
};

struct RepairMessage {
  TableName table;                   // source names
  std::vector<std::string> columns;  // source names, source order
  std::vector<std::size_t> key;      // indexes into columns; empty: no key
  std::vector<RepairRow> rows;

  bool keyed() const { return !key.empty(); }
};

std::string encode_repair_message(const RepairMessage& message);

// The message's bytes: the signature (64 hex digits, made on the
// destination: store::TaskStore::repair_signature), a newline, the payload.
struct SignedRepair {
  std::string signature;     // empty when the bytes do not start with one
  std::string_view payload;  // into the bytes given
};
SignedRepair split_signature(std::string_view bytes);
std::string signed_repair(const std::string& signature, const std::string& payload);

// Throws Error ("repair message: <what is wrong>") on anything malformed.
RepairMessage parse_repair_message(std::string_view text);

}  // namespace pgdts::model
