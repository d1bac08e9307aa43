#include "task/deferred_fks.h"

#include <chrono>

#include "logging/log.h"
#include "pg/literals.h"
#include "store/task_store.h"

namespace pgdts::task {
namespace {

using namespace std::chrono_literals;

constexpr auto kPollEvery = 2s;
constexpr auto kRetryAfterFailure = 10s;

// Sleeps in steps, returning early (true) on a stop or when done.
bool pause(std::chrono::milliseconds total, const std::atomic<bool>& stop,
           const std::atomic<bool>& done) {
  for (auto waited = 0ms; waited < total; waited += 100ms) {
    if (stop || done) return true;
    std::this_thread::sleep_for(100ms);
  }
  return stop || done;
}

}  // namespace

void defer_foreign_keys(pg::Connection& dest, const std::string& task,
                        const std::vector<schema::DeferredForeignKey>& keys, pg::Lsn after) {
  std::vector<std::string> tables, names, creates;
  for (const auto& k : keys) {
    tables.push_back(k.table);
    names.push_back(k.constraint);
    creates.push_back(k.create_sql);
  }
  std::string t = pg::text_array(tables), n = pg::text_array(names), c = pg::text_array(creates);
  std::string lsn = pg::format_lsn(after);
  dest.exec("UPDATE pgdts.task SET deferred_fk_tables = $2::text[], deferred_fk_names = $3::text[], "
            "deferred_fk_creates = $4::text[], fks_valid_after = $5::pg_lsn WHERE task = $1",
            {task.c_str(), t.c_str(), n.c_str(), c.c_str(), lsn.c_str()});
  log::Event("foreign_keys_deferred")
      .field("task", task)
      .field("foreign_keys", keys.size())
      .field("until_lsn", lsn)
      .field("reason", "tables were copied under different snapshots (resumed full sync)")
      .info();
}

ForeignKeyValidator::~ForeignKeyValidator() {
  done_ = true;
  if (thread_.joinable()) thread_.join();
}

void ForeignKeyValidator::start(const std::atomic<bool>& stop) {
  if (thread_.joinable()) return;
  thread_ = std::thread([this, &stop] { run(stop); });
}

void ForeignKeyValidator::run(const std::atomic<bool>& stop) {
  while (!stop && !done_) {
    try {
      pg::Connection dest =
          pg::Connection::open(target_, {"destination", false, store::application_name(task_), ""});
      if (validate_when_passed(dest, stop)) return;
    } catch (const std::exception& e) {
      log::Event("foreign_key_validation_failed").field("task", task_).field("error", e.what()).debug();
    }
    if (pause(kRetryAfterFailure, stop, done_)) return;
  }
}

// True when nothing is (or is any longer) waiting; false on a stop.
bool ForeignKeyValidator::validate_when_passed(pg::Connection& dest, const std::atomic<bool>& stop) {
  std::string origin = store::origin_name(task_);
  while (true) {
    pg::Result r = dest.exec(
        "SELECT t.fks_valid_after IS NULL,"
        " coalesce(pg_catalog.pg_replication_origin_progress($2, true) >= t.fks_valid_after, false)"
        " FROM pgdts.task t WHERE t.task = $1",
        {task_.c_str(), origin.c_str()});
    if (r.rows() == 0 || r.value(0, 0) == "t") return true;
    if (r.value(0, 1) == "t") break;
    if (pause(kPollEvery, stop, done_)) return false;
  }
  pg::Result keys = dest.exec(
      "SELECT k.t, k.n, coalesce(k.c, ''),"
      " EXISTS (SELECT 1 FROM pg_catalog.pg_constraint x WHERE x.conrelid = k.t::regclass"
      "         AND '\"' || pg_catalog.replace(x.conname, '\"', '\"\"') || '\"' = k.n)"
      " FROM pgdts.task, unnest(deferred_fk_tables, deferred_fk_names, deferred_fk_creates) AS k(t, n, c)"
      " WHERE task = $1",
      {task_.c_str()});
  std::size_t validated = 0;
  for (int i = 0; i < keys.rows(); ++i) {
    std::string table(keys.value(i, 0)), name(keys.value(i, 1)), create(keys.value(i, 2));
    bool exists = keys.value(i, 3) == "t";
    try {
      // A key on a partitioned table is created now (valid); the others
      // were created NOT VALID and are validated.
      if (!create.empty() && !exists) dest.exec(create);
      else dest.exec("ALTER TABLE " + table + " VALIDATE CONSTRAINT " + name);
      ++validated;
    } catch (const pg::SqlError& e) {
      // The stream has passed every copy: a row still without its parent is
      // a real difference (verify names it); the key stays NOT VALID.
      log::Event("foreign_key_not_validated")
          .field("task", task_)
          .field("table", table)
          .field("constraint", name)
          .field("error", pg::one_line(e.what()))
          .warn();
    }
  }
  dest.exec("UPDATE pgdts.task SET deferred_fk_tables = NULL, deferred_fk_names = NULL, "
            "deferred_fk_creates = NULL, fks_valid_after = NULL WHERE task = $1",
            {task_.c_str()});
  log::Event("foreign_keys_validated").field("task", task_).field("foreign_keys", validated).info();
  return true;
}

}  // namespace pgdts::task
