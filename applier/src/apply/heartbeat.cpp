#include "apply/heartbeat.h"

#include "logging/log.h"

namespace pgdts::apply {
namespace {

using namespace std::chrono_literals;

constexpr auto kBeatEvery = 5s;
constexpr auto kRetryAfterFailure = 30s;
constexpr auto kPruneEvery = 10min;

constexpr const char* kBeatSql =
    "WITH beat AS ("
    "  INSERT INTO pgdts.dts_postgres_heartbeat (task, beat_time, beat_lsn)"
    "  VALUES ($1, now(), pg_catalog.pg_current_wal_lsn())"
    "  ON CONFLICT (task) DO UPDATE SET beat_time = excluded.beat_time, beat_lsn = excluded.beat_lsn"
    "  RETURNING task)"
    " SELECT pg_catalog.pg_logical_emit_message(true, 'pgdts_heartbeat', task) FROM beat";

// A row's inserting transaction older than every pgdts slot's catalog_xmin
// ended before each slot's restart point, so every slot has decoded it and
// confirmed past its commit: no task will read it again. With no pgdts slot
// left in the database, every row goes. (The plugin sends nothing for
// changes to the extension's own tables, so the DELETE stays off the stream.)
constexpr const char* kPruneSql =
    "DO $$BEGIN IF pg_catalog.to_regclass('pgdts.dts_ddl_command') IS NOT NULL THEN "
    "DELETE FROM pgdts.dts_ddl_command c WHERE pg_catalog.age(c.xmin) > "
    " (SELECT coalesce(max(pg_catalog.age(s.catalog_xmin)), -1) FROM pg_catalog.pg_replication_slots s "
    "  WHERE s.plugin = 'pgdts' AND s.database = pg_catalog.current_database()); "
    "END IF; END$$";

}  // namespace

void prune_ddl_commands(pg::Connection& source) { source.exec(kPruneSql); }

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
  prune_if_due();
}

void Heartbeat::prune_if_due() {
  auto now = Clock::now();
  if (now < next_prune_) return;
  next_prune_ = now + kPruneEvery;
  try {
    prune_ddl_commands(*conn_);
  } catch (const pg::SqlError& e) {
    // Housekeeping only (for example, no DELETE privilege): the rows wait
    // for pgdts release.
    log::Event("ddl_log_not_pruned").field("task", task_).field("error", pg::one_line(e.what())).debug();
  }
}

}  // namespace pgdts::apply
