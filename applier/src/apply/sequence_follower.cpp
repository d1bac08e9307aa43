#include "apply/sequence_follower.h"

#include <cstdlib>

#include "logging/log.h"

namespace pgdts::apply {
namespace {

using namespace std::chrono_literals;

constexpr auto kFollowEvery = 30s;
constexpr auto kListAtLeastEvery = 5min;

// The apply session's open transaction may hold a lock on a sequence (a
// replayed ALTER or DROP of its table), and that transaction commits only
// when the session loop, which runs this, goes on: waiting long would stall
// both. A timed-out round is a warning and is tried again.
constexpr const char* kTimeouts = "-c lock_timeout=1000 -c statement_timeout=20000";

SequenceFollower::Clock::duration follow_interval() {
  using Clock = SequenceFollower::Clock;
  if (const char* env = std::getenv("PGDTS_TEST_SEQUENCE_SECONDS")) {
    char* end = nullptr;
    double s = std::strtod(env, &end);
    if (end != env && s > 0) return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  }
  return kFollowEvery;
}

}  // namespace

SequenceFollower::SequenceFollower(pg::ConnInfo source, pg::ConnInfo target, std::string task,
                                   std::string application_name, model::Selection selection,
                                   model::NameMap names)
    : source_info_(std::move(source)),
      target_info_(std::move(target)),
      task_(std::move(task)),
      app_(std::move(application_name)),
      selection_(std::move(selection)),
      names_(std::move(names)),
      every_(follow_interval()) {}

void SequenceFollower::follow_if_due(Clock::time_point now) {
  if (!started_) {
    // The session's first seconds belong to catching up.
    started_ = true;
    next_ = now + every_;
    return;
  }
  if (now < next_) return;
  next_ = now + every_;
  try {
    follow(now);
    if (!last_failure_.empty()) {
      log::Event("sequence_follow_resumed").field("task", task_).info();
      last_failure_.clear();
    }
  } catch (const std::exception& e) {
    source_.reset();  // new connections and a new list next time
    dest_.reset();
    have_list_ = false;
    std::string why = pg::one_line(e.what());
    if (why != last_failure_)
      log::Event("sequence_follow_failed")
          .field("task", task_)
          .field("error", why)
          .field("effect", "destination sequences lag the source's until a later round "
                           "succeeds; pgdts cutover sets them in any case")
          .warn();
    last_failure_ = why;
  }
}

void SequenceFollower::connect() {
  if (!source_) source_.emplace(pg::Connection::open(source_info_, {"source", false, app_, kTimeouts}));
  if (!dest_) dest_.emplace(pg::Connection::open(target_info_, {"destination", false, app_, kTimeouts}));
}

std::string SequenceFollower::catalog_mark() {
  pg::Result r = source_->exec(
      "SELECT pg_catalog.count(*)::text || '/' || COALESCE(pg_catalog.max(oid)::text, '') "
      "FROM pg_catalog.pg_class WHERE relkind = 'S'");
  return std::string(r.value(0, 0));
}

void SequenceFollower::read_list(Clock::time_point now, std::string mark) {
  // One snapshot of the catalogs, so that the model holds together.
  schema::SourceSchema schema = schema::read_schema_in_snapshot(*source_, selection_);
  sequences_ = schema::task_sequences(schema, names_);
  mark_ = std::move(mark);
  list_read_at_ = now;
  have_list_ = true;
  log::Event("sequences_listed").field("task", task_).field("sequences", sequences_.size()).debug();
}

void SequenceFollower::follow(Clock::time_point now) {
  connect();
  std::string mark = catalog_mark();
  if (!have_list_ || mark != mark_ || now - list_read_at_ >= kListAtLeastEvery)
    read_list(now, std::move(mark));
  if (sequences_.empty()) return;
  std::vector<schema::SequenceMove> moves;
  try {
    moves = schema::advance_sequences(*source_, *dest_, sequences_, 0);
  } catch (...) {
    have_list_ = false;  // a sequence dropped or renamed since: list them again
    throw;
  }
  std::size_t moved = 0, missing = 0;
  for (const auto& m : moves) {
    moved += m.changed;
    missing += !m.found;
  }
  log::Event e("sequences_followed");
  e.field("task", task_).field("sequences", moves.size()).field("moved", moved).field("missing", missing);
  if (moved) e.info();
  else e.debug();
}

}  // namespace pgdts::apply
