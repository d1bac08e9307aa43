// pgdts status: the task's phase, full-sync progress and position, from the
// destination (and the source's slot when --source is given). Exit 0 when
// the task exists, 1 when it does not or the destination is unreachable.
#include <cstdio>
#include <optional>
#include <sstream>
#include <string>

#include "cli/commands.h"
#include "secrets/json.h"
#include "pg/connection.h"
#include "task/status.h"

namespace pgdts::cli {
namespace {

template <typename T>
std::string optional_number(const std::optional<T>& v) {
  if (!v) return "null";
  std::ostringstream out;
  out << *v;
  return out.str();
}

std::string json_strings(const std::vector<std::string>& items) {
  std::string out = "[";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    secrets::append_json_string(out, item);
  }
  return out + "]";
}

std::string to_json(const task::TaskStatus& s) {
  std::string tables = "[";
  for (const auto& t : s.full.tables) {
    if (tables.size() > 1) tables += ',';
    tables += secrets::JsonObject()
                  .field("source", model::display_name(t.source))
                  .field("destination", model::display_name(t.dest))
                  .field("state", t.state)
                  .number("rows", static_cast<double>(t.rows_copied))
                  .number("bytes", static_cast<double>(t.bytes_copied))
                  .number("rows_estimate", static_cast<double>(t.rows_estimate))
                  .number("bytes_estimate", static_cast<double>(t.bytes_estimate))
                  .number("chunks_total", t.chunks_total)
                  .number("chunks_done", t.chunks_done)
                  .str();
  }
  tables += "]";
  secrets::JsonObject full;
  full.number("tables_total", s.full.tables_total)
      .number("tables_copied", s.full.tables_done)
      .number("rows_copied", static_cast<double>(s.full.rows_copied))
      .number("bytes_copied", static_cast<double>(s.full.bytes_copied))
      .number("rows_estimate", static_cast<double>(s.full.rows_estimate))
      .number("bytes_estimate", static_cast<double>(s.full.bytes_estimate))
      .number("rows_per_second", s.full.rows_per_second)
      .number("bytes_per_second", s.full.bytes_per_second)
      .raw("tables", tables);
  secrets::JsonObject source;
  source.field("error", s.source_error)
      .field("current_lsn", s.source_lsn)
      .field("slot_confirmed_lsn", s.slot_confirmed_lsn)
      .raw("slot_retained_bytes",
           s.slot_retained_bytes ? std::to_string(*s.slot_retained_bytes) : "null")
      .raw("slot_active", s.slot_active ? (*s.slot_active ? "true" : "false") : "null");
  return secrets::JsonObject()
             .field("task", s.task)
             .raw("found", s.found ? "true" : "false")
             .field("phase", s.found ? std::optional<std::string>(s.phase) : std::nullopt)
             .field("updated_at", s.found ? std::optional<std::string>(s.updated_at) : std::nullopt)
             .field("last_error", s.last_error)
             .field("snapshot_lsn", s.snapshot_lsn)
             .field("applied_lsn", s.applied_lsn)
             .raw("latency_ms", s.latency_ms ? std::to_string(*s.latency_ms) : "null")
             .raw("latency_age_seconds",
                  s.latency_age_seconds ? std::to_string(*s.latency_age_seconds) : "null")
             .raw("applied_changes", optional_number(s.applied_changes))
             .raw("skipped_changes", optional_number(s.skipped_changes))
             .raw("changes_per_second", optional_number(s.changes_per_second))
             .field("throttles", s.throttles)
             .raw("filters", json_strings(s.filters))
             .raw("transforms", json_strings(s.transforms))
             .raw("full_sync", full.str())
             .raw("source", source.str())
             .str() +
         "\n";
}

std::string megabytes(std::int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

std::string to_text(const task::TaskStatus& s) {
  std::string out = "task:          " + s.task + "\n";
  out += "phase:         " + s.phase + " (updated " + s.updated_at + ")\n";
  if (s.last_error) out += "last error:    " + *s.last_error + "\n";
  if (s.applied_lsn) out += "applied LSN:   " + *s.applied_lsn + "\n";
  if (s.latency_ms) {
    char line[128];
    std::snprintf(line, sizeof line, "latency:       %.1f s (measured %.0f s ago)\n",
                  static_cast<double>(*s.latency_ms) / 1000, s.latency_age_seconds.value_or(0));
    out += line;
  }
  if (s.applied_changes) {
    char line[160];
    std::snprintf(line, sizeof line, "applied:       %lld changes (%.0f/s), %lld skipped\n",
                  static_cast<long long>(*s.applied_changes), s.changes_per_second.value_or(0),
                  static_cast<long long>(s.skipped_changes.value_or(0)));
    out += line;
  }
  if (s.throttles) out += "throttles:     " + *s.throttles + "\n";
  for (const auto& f : s.filters) out += "filter:        " + f + "\n";
  for (const auto& t : s.transforms) out += "transform:     " + t + "\n";
  if (s.source_lsn) out += "source LSN:    " + *s.source_lsn + "\n";
  if (s.slot_retained_bytes)
    out += "slot retains:  " + megabytes(*s.slot_retained_bytes) + " of WAL" +
           (s.slot_active && *s.slot_active ? "" : " (slot not in use)") + "\n";
  if (s.source_error) out += "source:        " + *s.source_error + "\n";
  const auto& f = s.full;
  if (f.tables_total == 0) return out;
  char line[256];
  std::snprintf(line, sizeof line, "full sync:     %d/%d tables copied, %lld rows, %s",
                f.tables_done, f.tables_total, static_cast<long long>(f.rows_copied),
                megabytes(f.bytes_copied).c_str());
  out += line;
  if (f.rows_per_second > 0) {
    std::snprintf(line, sizeof line, ", %.0f rows/s, %.1f MB/s", f.rows_per_second,
                  f.bytes_per_second / 1e6);
    out += line;
  }
  out += "\n";
  for (const auto& t : f.tables) {
    if (t.state == "copied") continue;
    std::snprintf(line, sizeof line, "  %-40s %-8s %lld/%lld rows\n",
                  model::display_name(t.source).c_str(), t.state.c_str(),
                  static_cast<long long>(t.rows_copied), static_cast<long long>(t.rows_estimate));
    out += line;
  }
  return out;
}

}  // namespace

int run_status(const Options& o) {
  task::TaskStatus status;
  try {
    pg::Connection dest = pg::Connection::open(o.target, {"destination", false, "pgdts_status", ""});
    status = task::read_status(dest, o.task);
  } catch (const std::exception& e) {
    return report_error(e.what(), 1);
  }
  if (status.found && !o.source.empty()) {
    try {
      pg::Connection source = pg::Connection::open(o.source, {"source", false, "pgdts_status", ""});
      task::add_source_status(source, status);
    } catch (const std::exception& e) {
      status.source_error = pg::one_line(e.what());
    }
  }
  std::string out = o.json ? to_json(status) : to_text(status);
  if (!status.found && !o.json) out = "";
  print(out);
  if (!status.found) return report_error("task \"" + o.task + "\" does not exist on the destination", 1);
  return 0;
}

}  // namespace pgdts::cli
