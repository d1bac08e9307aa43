// pgdts cutover: the last step before the application moves to the
// destination. Writes on the source have stopped; cutover waits until the
// destination has applied every source transaction (latency zero), then sets
// every destination sequence of the task to the source's value plus
// --sequence-margin increments, and prints what it changed. It does not stop
// the sync: its last line says what to do next.
//
// Latency zero: a transactional logical message (prefix pgdts_cutover) is
// committed on the source; the LSN pg_logical_emit_message returns is the end
// of the message's record, so every transaction that committed before it
// ends before it, and the message's own commit ends after it. The origin
// pgdts_<task> holds the end LSN of the last source commit the destination
// has committed (and, read with flush = true, made durable); commits are
// applied in order, so once it reaches that LSN everything committed on the
// source before cutover started is on the destination.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "apply/origin.h"
#include "cli/commands.h"
#include "error.h"
#include "pg/connection.h"
#include "pg/lsn.h"
#include "schema/schema_sync.h"
#include "store/task_store.h"

namespace pgdts::cli {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kPollEvery = 250ms;
constexpr auto kReportEvery = 5s;

void say(const std::string& line) {
  print(line + "\n");
}

// The task exists, is streaming (phase incremental) and has its origin.
void check_destination(pg::Connection& dest, const std::string& task) {
  std::optional<std::string> phase = store::TaskStore(dest).find_phase(task);
  if (!phase)
    throw Error("task \"" + task + "\" does not exist on the destination (no row in pgdts.task); " +
                "check --task and --target");
  if (*phase != "incremental")
    throw Error("task \"" + task + "\" is in phase " + *phase +
                ", not incremental: cutover needs its incremental sync; run pgdts sync with the "
                "incremental phase until it reaches it");
  std::string origin = store::origin_name(task);
  if (dest.exec("SELECT 1 FROM pg_catalog.pg_replication_origin WHERE roname = $1", {origin.c_str()})
          .rows() == 0)
    throw Error("replication origin \"" + origin + "\" of task \"" + task +
                "\" does not exist on the destination (was the task released?)");
}

struct SlotState {
  bool exists = false;
  bool active = false;
  std::string pid;
};

SlotState slot_state(pg::Connection& source, const std::string& slot) {
  pg::Result r = source.exec(
      "SELECT active, COALESCE(active_pid::text, '') FROM pg_catalog.pg_replication_slots "
      "WHERE slot_name = $1",
      {slot.c_str()});
  if (r.rows() == 0) return {};
  return {true, r.value(0, 0) == "t", std::string(r.value(0, 1))};
}

// Commits a pgdts_cutover message on the source; returns the LSN the
// destination's origin must reach.
pg::Lsn emit_marker(pg::Connection& source, const std::string& task) {
  pg::Result r = source.exec(
      "SELECT pg_catalog.pg_logical_emit_message(true, 'pgdts_cutover', $1)::text", {task.c_str()});
  auto lsn = pg::parse_lsn(r.value(0, 0));
  if (!lsn) throw Error("source returned an invalid LSN for the cutover message: " + std::string(r.value(0, 0)));
  return *lsn;
}

std::string seconds(Clock::duration d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f s", std::chrono::duration<double>(d).count());
  return buf;
}

// Waits until the origin reaches target, reporting how far behind it is.
// Throws Error after timeout_seconds, saying whether the sync is running.
void wait_latency_zero(pg::Connection& source, pg::Connection& dest, const Options& o,
                       pg::Lsn target) {
  std::string origin = store::origin_name(o.task), slot = store::slot_name(o.task);
  auto start = Clock::now();
  auto deadline = start + std::chrono::seconds(o.timeout_seconds);
  auto next_report = start;
  while (true) {
    pg::Lsn applied = apply::read_origin_progress(dest, origin);
    auto now = Clock::now();
    if (applied >= target) {
      say("latency is zero: the destination has applied every source transaction committed "
          "before " + pg::format_lsn(target) + " (waited " + seconds(now - start) + ")");
      return;
    }
    std::string behind = std::to_string(target - applied);
    if (now >= deadline) {
      SlotState s = slot_state(source, slot);
      std::string why =
          !s.exists ? "replication slot \"" + slot + "\" no longer exists on the source"
          : s.active
              ? "replication slot \"" + slot + "\" is active (PID " + s.pid +
                    "): pgdts sync runs but has not caught up; run cutover again, or with a "
                    "longer --timeout"
              : "replication slot \"" + slot + "\" is not active: is pgdts sync running for task \"" +
                    o.task + "\"?";
      throw Error("latency did not reach zero in " + std::to_string(o.timeout_seconds) +
                  " s: the destination applied task \"" + o.task + "\" up to source LSN " +
                  pg::format_lsn(applied) + ", " + behind + " bytes short of " +
                  pg::format_lsn(target) + "; " + why);
    }
    if (now >= next_report) {
      say("waiting for latency zero: the destination is " + behind + " bytes behind (applied " +
          pg::format_lsn(applied) + ", source at " + pg::format_lsn(target) + ")");
      next_report = now + kReportEvery;
    }
    std::this_thread::sleep_for(kPollEvery);
  }
}

// The task's sequences, from the source's catalog as it is now (tables
// created by replayed DDL included).
std::vector<schema::SequencePair> read_task_sequences(pg::Connection& source, const Options& o) {
  schema::SourceSchema schema = schema::read_schema_in_snapshot(source, o.selection);
  return schema::task_sequences(schema, o.names);
}

void report_sequences(const std::vector<schema::SequenceMove>& moves, std::int64_t margin) {
  std::size_t set = 0, unchanged = 0, missing = 0;
  for (const auto& m : moves) {
    std::string name = model::display_name(m.sequence.dest);
    std::string source_value = std::to_string(m.source.last_value);
    if (!m.found) {
      ++missing;
      say(name + ": not on the destination, left alone (source " + source_value + ")");
      continue;
    }
    if (!m.changed) {
      ++unchanged;
      continue;
    }
    ++set;
    say(name + ": destination " + std::to_string(m.before.last_value) + " -> " +
        std::to_string(m.after.last_value) + " (source " + source_value + ")");
  }
  say("sequences: " + std::to_string(moves.size()) + " in the task, " + std::to_string(set) +
      " set to the source's value plus " + std::to_string(margin) + " increments, " +
      std::to_string(unchanged) + " already there or beyond, " + std::to_string(missing) +
      " missing on the destination");
}

}  // namespace

int run_cutover(const Options& o) {
  try {
    std::string app = "pgdts_cutover_" + o.task;
    pg::Connection dest = pg::Connection::open(o.target, {"destination", false, app, ""});
    check_destination(dest, o.task);
    pg::Connection source = pg::Connection::open(o.source, {"source", false, app, ""});
    std::string slot = store::slot_name(o.task);
    if (!slot_state(source, slot).exists)
      throw Error("replication slot \"" + slot + "\" of task \"" + o.task +
                  "\" does not exist on the source; changes cannot reach the destination, so "
                  "cutover cannot wait for them (check --task and --source)");

    wait_latency_zero(source, dest, o, emit_marker(source, o.task));

    std::vector<schema::SequenceMove> moves =
        schema::advance_sequences(source, dest, read_task_sequences(source, o), o.sequence_margin);
    report_sequences(moves, o.sequence_margin);
    say("next: point the application at the destination, then stop pgdts sync (SIGINT/SIGTERM) "
        "and run pgdts release --task " + o.task +
        " (writes on the source must have stopped before this cutover)");
    return 0;
  } catch (const std::exception& e) {
    return report_error(e.what(), 1);
  }
}

}  // namespace pgdts::cli
