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
  std::vector<store::WaitingForeignKey> waiting;
  for (const auto& k : keys) waiting.push_back({k.table, k.constraint, k.create_sql, false});
  store::TaskStore(dest).defer_foreign_keys(task, waiting, after);
  log::Event("foreign_keys_deferred")
      .field("task", task)
      .field("foreign_keys", keys.size())
      .field("until_lsn", pg::format_lsn(after))
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
  store::TaskStore store(dest);
  while (true) {
    store::TaskStore::ForeignKeysWaiting waiting = store.foreign_keys_waiting(task_);
    if (!waiting.any) return true;
    if (waiting.passed) break;
    if (pause(kPollEvery, stop, done_)) return false;
  }
  std::size_t validated = 0;
  for (const store::WaitingForeignKey& key : store.waiting_foreign_keys(task_)) {
    try {
      // A key on a partitioned table is created now (valid); the others
      // were created NOT VALID and are validated.
      if (!key.create_sql.empty() && !key.exists) dest.exec(key.create_sql);
      else dest.exec("ALTER TABLE " + key.table + " VALIDATE CONSTRAINT " + key.constraint);
      ++validated;
    } catch (const pg::SqlError& e) {
      // The stream has passed every copy: a row still without its parent is
      // a real difference (verify names it); the key stays NOT VALID.
      log::Event("foreign_key_not_validated")
          .field("task", task_)
          .field("table", key.table)
          .field("constraint", key.constraint)
          .field("error", pg::one_line(e.what()))
          .warn();
    }
  }
  store.forget_foreign_keys(task_);
  log::Event("foreign_keys_validated").field("task", task_).field("foreign_keys", validated).info();
  return true;
}

}  // namespace pgdts::task
