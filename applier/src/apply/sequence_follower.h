// Destination sequences kept moving during incremental sync. Sequence
// changes are not in the logical stream, so every 30 s the apply session
// reads the task's source sequences in one query and moves the destination's
// forward (never back) to the same values: at cutover only the writes of
// the last half minute are left to cover (pgdts cutover adds its margin).
//
// The list of the task's sequences (source catalog, task selection, schema
// mapping) is read on the first round of a session, again when the source's
// set of sequences changed (a replayed CREATE TABLE or ADD COLUMN with a
// serial or identity column: seen from a cheap count over pg_class every
// round) and at least every 5 minutes.
//
// Like the heartbeat, a failure is logged and tried again later; it never
// stops the apply session. Its own connections (statement and lock timeouts
// set) never wait long on a lock the apply session's open transaction holds.
//
// PGDTS_TEST_SEQUENCE_SECONDS (test-only) overrides the 30 s.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "pg/conninfo.h"
#include "pg/connection.h"
#include "schema/schema_sync.h"
#include "model/selection.h"

namespace pgdts::apply {

class SequenceFollower {
 public:
  using Clock = std::chrono::steady_clock;
  SequenceFollower(pg::ConnInfo source, pg::ConnInfo target, std::string task,
                   std::string application_name, model::Selection selection, model::NameMap names);

  // Moves destination sequences forward when a round is due.
  void follow_if_due(Clock::time_point now);

 private:
  void follow(Clock::time_point now);
  void connect();
  // The source's sequences, counted: changes when one is created or dropped.
  std::string catalog_mark();
  void read_list(Clock::time_point now, std::string mark);

  pg::ConnInfo source_info_, target_info_;
  std::string task_, app_;
  model::Selection selection_;
  model::NameMap names_;
  Clock::duration every_;

  std::optional<pg::Connection> source_, dest_;
  std::vector<schema::SequencePair> sequences_;
  bool have_list_ = false;
  std::string mark_;
  Clock::time_point list_read_at_{};
  Clock::time_point next_{};
  bool started_ = false;
  std::string last_failure_;
};

}  // namespace pgdts::apply
