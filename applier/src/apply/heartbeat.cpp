#include "apply/heartbeat.h"

#include "logging/log.h"

namespace pgdts::apply {
namespace {

using namespace std::chrono_literals;

constexpr auto kBeatEvery = 5s;
constexpr auto kRetryAfterFailure = 30s;

constexpr const char* kBeatSql =
    "WITH beat AS ("
    "  INSERT INTO pgdts.dts_postgres_heartbeat (task, beat_time, beat_lsn)"
    "  VALUES ($1, now(), pg_catalog.pg_current_wal_lsn())"
    "  ON CONFLICT (task) DO UPDATE SET beat_time = excluded.beat_time, beat_lsn = excluded.beat_lsn"
    "  RETURNING task)"
    " SELECT pg_catalog.pg_logical_emit_message(true, 'pgdts_heartbeat', task) FROM beat";

}  // namespace

void Heartbeat::beat_if_due(Clock::time_point now) {
  if (now < next_) return;
  try {
    beat();
    next_ = now + kBeatEvery;
    if (!last_failure_.empty()) {
      log::Event("heartbeat_resumed").field("task", task_).info();
      last_failure_.clear();
    }
  } catch (const std::exception& e) {
    conn_.reset();  // a new connection next time
    next_ = now + kRetryAfterFailure;
    std::string why = pg::one_line(e.what());
    if (why != last_failure_)
      log::Event("heartbeat_failed")
          .field("task", task_)
          .field("error", why)
          .field("effect", "latency is not measured and an idle source's slot does not advance "
                           "until a heartbeat succeeds")
          .warn();
    last_failure_ = why;
  }
}

void Heartbeat::beat() {
  if (!conn_) conn_.emplace(pg::Connection::open(source_, {"source", false, app_, ""}));
  conn_->exec(kBeatSql, {task_.c_str()});
}

}  // namespace pgdts::apply
