// The task's heartbeat on the source: every few seconds one transaction that
// upserts the task's row in pgdts.dts_postgres_heartbeat and emits a
// transactional logical message (prefix pgdts_heartbeat). The message makes
// the transaction travel in the stream (the plugin sends nothing for the
// extension's own tables), so the destination applies a source commit at
// least that often: replication latency is now minus the source commit time
// of the last transaction durable on the destination, and an idle source
// still moves the slot forward.
//
// A heartbeat that fails (no privilege, source briefly away) is logged and
// tried again later; it never stops the apply session, whose own
// replication connection notices a lost source.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "pg/conninfo.h"
#include "pg/connection.h"

namespace pgdts::apply {

// Deletes the rows of pgdts.dts_ddl_command that every pgdts slot of the
// database has passed. The heartbeat does it every few minutes, and
// pgdts release after dropping a slot.
void prune_ddl_commands(pg::Connection& source);

class Heartbeat {
 public:
  using Clock = std::chrono::steady_clock;
  Heartbeat(pg::ConnInfo source, std::string task, std::string application_name)
      : source_(std::move(source)), task_(std::move(task)), app_(std::move(application_name)) {}

  // Writes a heartbeat when one is due.
  void beat_if_due(Clock::time_point now);

 private:
  void beat();
  void prune_if_due();

  pg::ConnInfo source_;
  std::string task_, app_;
  std::optional<pg::Connection> conn_;
  Clock::time_point next_{}, next_prune_{};
  std::string last_failure_;
};

}  // namespace pgdts::apply
