// Text and JSON output of pgdts verify (see report.h).
#include "verify/report.h"

#include "secrets/json.h"

namespace pgdts::verify {
namespace {

using secrets::JsonObject;

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

std::string cut(const std::string& row) {
  return row.size() <= kRowChars ? row : row.substr(0, kRowChars) + "...";
}

std::string status_name(TableStatus s) {
  switch (s) {
    case TableStatus::equal: return "equal";
    case TableStatus::different: return "different";
    case TableStatus::missing: return "missing";
  }
  return "?";
}

std::string status_name(SequenceStatus s) {
  switch (s) {
    case SequenceStatus::equal: return "equal";
    case SequenceStatus::behind: return "behind";
    case SequenceStatus::missing: return "missing";
  }
  return "?";
}

std::string names(const model::TableName& source, const model::TableName& target) {
  std::string s = model::display_name(source), t = model::display_name(target);
  return s == t ? s : s + " -> " + t;
}

std::string plural(std::int64_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string value(const std::optional<std::int64_t>& v) { return v ? std::to_string(*v) : "not called"; }

// ", repaired 3 keys" / ", would repair 3 rows (dry run)"; empty without --repair.
std::string repair_note(const TableResult& t) {
  const char* one = t.key_columns.empty() ? "row" : "key";
  const char* many = t.key_columns.empty() ? "rows" : "keys";
  if (!t.repair_error.empty()) return ", not repaired: " + t.repair_error;
  if (t.repaired && *t.repaired > 0) return ", repaired " + plural(*t.repaired, one, many);
  if (t.would_repair) return ", would repair " + plural(*t.would_repair, one, many) + " (dry run)";
  return "";
}

std::string table_line(const TableResult& t) {
  std::string line = names(t.source, t.target) + ": ";
  if (!t.error.empty()) return line + "not compared: " + t.error;
  if (t.status == TableStatus::missing) return line + "missing on destination";
  if (t.status == TableStatus::equal)
    return line + "equal (" + plural(t.source_rows.value_or(0), "row", "rows") + ")" + repair_note(t);
  std::vector<std::string> shown;
  if (!t.key_columns.empty()) {
    line += plural(t.differing, "differing key", "differing keys") + ": ";
    for (std::size_t i = 0; i < t.keys.size() && i < kTextKeys; ++i) shown.push_back(format_key(t.key_columns, t.keys[i]));
  } else {
    line += plural(t.differing, "differing row", "differing rows") + ": ";
    for (std::size_t i = 0; i < t.rows.size() && i < kTextKeys; ++i)
      shown.push_back(cut(t.rows[i].row) + " (source " + std::to_string(t.rows[i].source) + ", destination " +
                      std::to_string(t.rows[i].target) + ")");
  }
  line += joined(shown);
  if (t.differing > static_cast<std::int64_t>(shown.size()))
    line += " ... and " + std::to_string(t.differing - static_cast<std::int64_t>(shown.size())) + " more";
  return line + repair_note(t);
}

std::string repair_name(RepairMode m) {
  switch (m) {
    case RepairMode::none: return "none";
    case RepairMode::dry_run: return "dry_run";
    case RepairMode::repair: return "repair";
  }
  return "?";
}

std::string optional_number(const std::optional<std::int64_t>& n) { return n ? std::to_string(*n) : "null"; }

}  // namespace

bool VerifyResult::equal() const {
  if (repair_pending) return false;
  for (const auto& t : tables)
    if (t.status != TableStatus::equal || !t.error.empty() || !t.repair_error.empty()) return false;
  for (const auto& s : sequences)
    if (s.status == SequenceStatus::missing) return false;
  return metadata.empty();
}

std::string format_key(const std::vector<std::string>& columns, const Key& key) {
  return "(" + joined(columns) + ")=(" + joined(key) + ")";
}

std::string text_report(const VerifyResult& r) {
  std::string out;
  int equal_tables = 0;
  std::int64_t differing = 0, repaired = 0, would_repair = 0;
  for (const auto& t : r.tables) {
    out += table_line(t) + "\n";
    if (t.status == TableStatus::equal && t.error.empty()) ++equal_tables;
    differing += t.differing;
    repaired += t.repaired.value_or(0);
    would_repair += t.would_repair.value_or(0);
  }
  for (const auto& m : r.metadata) out += "metadata: " + m.object + ": " + m.message + "\n";
  int missing_sequences = 0;
  for (const auto& s : r.sequences) {
    if (s.status == SequenceStatus::missing) {
      ++missing_sequences;
      out += "sequence " + names(s.source, s.target) + ": missing on destination\n";
    } else if (s.status == SequenceStatus::behind) {
      out += "sequence " + names(s.source, s.target) + ": destination " + value(s.target_value) +
             " behind source " + value(s.source_value) + " (note: cutover sets it)\n";
    }
  }
  for (const auto& n : r.notes) out += "note: " + n + "\n";
  out += std::string(r.equal() ? "equal" : "different") + ": " + std::to_string(equal_tables) + " of " +
         plural(static_cast<std::int64_t>(r.tables.size()), "table", "tables") + " equal, " +
         plural(differing, "differing key or row", "differing keys or rows") + ", " +
         plural(static_cast<std::int64_t>(r.metadata.size()), "metadata difference", "metadata differences") +
         ", " + plural(missing_sequences, "missing sequence", "missing sequences") + "; rechecked " +
         plural(r.rechecked, "key", "keys") + " in " + plural(r.recheck_rounds, "round", "rounds");
  if (r.repair == RepairMode::repair)
    out += "; repaired " + plural(repaired, "key or row", "keys or rows") + (r.repair_pending ? " (pending)" : "");
  if (r.repair == RepairMode::dry_run)
    out += "; dry run: would repair " + plural(would_repair, "key or row", "keys or rows") + ", nothing changed";
  return out + "\n";
}

std::string json_report(const VerifyResult& r) {
  std::string tables = "[";
  for (const auto& t : r.tables) {
    if (tables.size() > 1) tables += ',';
    secrets::JsonObject rows;
    rows.raw("source", t.source_rows ? std::to_string(*t.source_rows) : "null")
        .raw("target", t.target_rows ? std::to_string(*t.target_rows) : "null");
    std::string keys = "[";
    for (std::size_t i = 0; i < t.keys.size() && i < kJsonKeys; ++i) {
      if (keys.size() > 1) keys += ',';
      secrets::append_json_string(keys, format_key(t.key_columns, t.keys[i]));
    }
    keys += "]";
    std::string diff_rows = "[";
    for (std::size_t i = 0; i < t.rows.size() && i < kJsonKeys; ++i) {
      if (diff_rows.size() > 1) diff_rows += ',';
      diff_rows += secrets::JsonObject()
                       .field("row", cut(t.rows[i].row))
                       .number("source", static_cast<double>(t.rows[i].source))
                       .number("target", static_cast<double>(t.rows[i].target))
                       .str();
    }
    diff_rows += "]";
    tables += secrets::JsonObject()
                  .field("source", model::display_name(t.source))
                  .field("target", model::display_name(t.target))
                  .raw("rows", rows.str())
                  .field("status", status_name(t.status))
                  .raw("differing_keys", keys)
                  .raw("differing_rows", diff_rows)
                  .number("differing_count", static_cast<double>(t.differing))
                  .raw("repaired", optional_number(t.repaired))
                  .raw("would_repair", optional_number(t.would_repair))
                  .field("repair_error", t.repair_error.empty() ? std::nullopt : std::optional<std::string>(t.repair_error))
                  .field("error", t.error.empty() ? std::nullopt : std::optional<std::string>(t.error))
                  .str();
  }
  tables += "]";
  std::string metadata = "[";
  for (const auto& m : r.metadata) {
    if (metadata.size() > 1) metadata += ',';
    metadata += secrets::JsonObject().field("object", m.object).field("difference", m.message).str();
  }
  metadata += "]";
  std::string sequences = "[";
  for (const auto& s : r.sequences) {
    if (sequences.size() > 1) sequences += ',';
    sequences += secrets::JsonObject()
                     .field("source", model::display_name(s.source))
                     .field("target", model::display_name(s.target))
                     .field("status", status_name(s.status))
                     .raw("source_value", s.source_value ? std::to_string(*s.source_value) : "null")
                     .raw("target_value", s.target_value ? std::to_string(*s.target_value) : "null")
                     .str();
  }
  sequences += "]";
  std::string notes = "[";
  for (const auto& n : r.notes) {
    if (notes.size() > 1) notes += ',';
    secrets::append_json_string(notes, n);
  }
  notes += "]";
  return secrets::JsonObject()
             .field("task", r.task)
             .raw("equal", r.equal() ? "true" : "false")
             .raw("tables", tables)
             .raw("metadata", metadata)
             .raw("sequences", sequences)
             .number("rechecked", static_cast<double>(r.rechecked))
             .number("recheck_rounds", r.recheck_rounds)
             .field("repair", repair_name(r.repair))
             .raw("repair_pending", r.repair_pending ? "true" : "false")
             .raw("notes", notes)
             .str() +
         "\n";
}

}  // namespace pgdts::verify
