#include "apply/origin.h"

#include <chrono>
#include <thread>

#include "error.h"
#include "logging/log.h"

namespace pgdts::apply {
bool create_origin_if_missing(pg::Connection& dest, const std::string& origin) {
  pg::Result r = dest.exec(
      "SELECT pg_catalog.pg_replication_origin_create($1) "
      "WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_replication_origin WHERE roname = $1)",
      {origin.c_str()});
  return r.rows() == 1;
}

bool drop_origin_if_exists(pg::Connection& dest, const std::string& origin) {
  pg::Result r = dest.exec("SELECT 1 FROM pg_catalog.pg_replication_origin WHERE roname = $1",
                           {origin.c_str()});
  if (r.rows() == 0) return false;
  try {
    dest.exec("SELECT pg_catalog.pg_replication_origin_drop($1)", {origin.c_str()});
  } catch (const pg::SqlError& e) {
    std::string pid = pg::pid_in_message(e.what());
    if (pid != "?")
      throw Error("replication origin \"" + origin + "\" on the destination is in use by PID " +
                  pid + "; stop the pgdts sync using it first");
    throw;
  }
  return true;
}

pg::Lsn read_origin_progress(pg::Connection& dest, const std::string& origin) {
  pg::Result r =
      dest.exec("SELECT pg_catalog.pg_replication_origin_progress($1, true)", {origin.c_str()});
  if (r.rows() != 1 || r.is_null(0, 0)) return 0;
  auto lsn = pg::parse_lsn(r.value(0, 0));
  if (!lsn) throw Error("destination returned an invalid origin position for " + origin);
  return *lsn;
}

void setup_origin_session(pg::Connection& apply, const std::string& origin,
                          const std::atomic<bool>& stop) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (true) {
    try {
      apply.exec("SELECT pg_catalog.pg_replication_origin_session_setup($1)", {origin.c_str()});
      return;
    } catch (const pg::SqlError& e) {
      std::string pid = pg::pid_in_message(e.what());
      // 55006: object in use ("... is already active for PID n")
      if (e.sqlstate() != "55006" || pid == "?") {
        if (e.sqlstate() == "42704")
          throw Error("replication origin \"" + origin +
                      "\" does not exist on the destination (was the task released meanwhile?)");
        throw;
      }
      if (std::chrono::steady_clock::now() >= deadline || stop)
        throw Error("replication origin \"" + origin + "\" on the destination is in use by PID " +
                    pid + " (another pgdts sync of this task?)");
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  }
}

}  // namespace pgdts::apply
