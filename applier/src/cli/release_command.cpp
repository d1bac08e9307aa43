// pgdts release: drop the task's slot on the source, its origin and state
// row on the destination. Each step skips what is already gone, so a
// second release is a no-op.
#include <chrono>
#include <thread>

#include "apply/heartbeat.h"
#include "apply/origin.h"
#include "cli/commands.h"
#include "error.h"
#include "store/table_sync.h"
#include "logging/log.h"
#include "pg/connection.h"
#include "store/task_store.h"

namespace pgdts::cli {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A sync that was just stopped leaves its walsender and apply backend for
// a moment: wait this long for them before calling the slot or origin busy.
constexpr auto kBusyWait = 5s;


void drop_slot(pg::Connection& source, const std::string& slot, const std::string& task) {
  auto deadline = Clock::now() + kBusyWait;
  while (true) {
    pg::Result r = source.exec(
        "SELECT active_pid FROM pg_catalog.pg_replication_slots WHERE slot_name = $1",
        {slot.c_str()});
    if (r.rows() == 0) {
      log::Event("slot_absent").field("slot", slot).info();
      return;
    }
    std::string busy_pid = r.is_null(0, 0) ? "" : std::string(r.value(0, 0));
    if (busy_pid.empty()) {
      try {
        source.exec("SELECT pg_catalog.pg_drop_replication_slot($1)", {slot.c_str()});
        log::Event("slot_dropped").field("slot", slot).info();
        return;
      } catch (const pg::SqlError& e) {
        if (e.sqlstate() == "42704") continue;  // dropped meanwhile: look again
        if (e.sqlstate() != "55006") throw;
        busy_pid = pg::pid_in_message(e.what());
      }
    }
    if (Clock::now() >= deadline)
      throw Error("replication slot \"" + slot + "\" is in use by another process (PID " +
                  busy_pid + "); stop the pgdts sync of task \"" + task + "\" first");
    std::this_thread::sleep_for(200ms);
  }
}

void drop_origin(pg::Connection& dest, const std::string& origin) {
  auto deadline = Clock::now() + kBusyWait;
  while (true) {
    try {
      if (apply::drop_origin_if_exists(dest, origin))
        log::Event("origin_dropped").field("origin", origin).info();
      else
        log::Event("origin_absent").field("origin", origin).info();
      return;
    } catch (const Error& e) {
      if (Clock::now() >= deadline) throw;
      std::this_thread::sleep_for(200ms);
    }
  }
}

}  // namespace

int run_release(const Options& o) {
  std::string slot = store::slot_name(o.task), origin = store::origin_name(o.task);
  std::string app = store::application_name(o.task);
  try {
    pg::Connection source = pg::Connection::open(o.source, {"source", false, app, ""});
    drop_slot(source, slot, o.task);
    source.exec(
        "DO $$BEGIN IF pg_catalog.to_regclass('pgdts.dts_postgres_heartbeat') IS NOT NULL THEN "
        "DELETE FROM pgdts.dts_postgres_heartbeat WHERE task = " + source.literal(o.task) +
        "; END IF; IF pg_catalog.to_regclass('pgdts.dts_task_setting') IS NOT NULL THEN "
        "DELETE FROM pgdts.dts_task_setting WHERE task = " + source.literal(o.task) +
        "; END IF; END$$");
    apply::prune_ddl_commands(source);
    pg::Connection dest = pg::Connection::open(o.target, {"destination", false, app, ""});
    drop_origin(dest, origin);
    store::forget_task(dest, o.task);
    if (store::TaskStore(dest).remove_task(o.task))
      log::Event("task_state_removed").field("task", o.task).info();
    log::Event("released").field("task", o.task).info();
    return 0;
  } catch (const std::exception& e) {
    return report_error(e.what(), 1);
  }
}

}  // namespace pgdts::cli
