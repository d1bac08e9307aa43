// What a pgdts command was asked to do: the task, its connections, the
// objects it moves and every setting of the run. Filled by the command line
// (cli/options.h), read by every phase; plain data.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "logging/log.h"
#include "pg/conninfo.h"
#include "pg/lsn.h"
#include "model/row_filter.h"
#include "model/selection.h"
#include "model/transform.h"

namespace pgdts::model {

enum class Command { precheck, sync, status, verify, cutover, release, stream };

struct Options {
  Command command = Command::sync;
  pg::ConnInfo source;
  pg::ConnInfo target;
  std::string task = "default";
  log::Level log_level = log::Level::info;
  // sync and precheck
  std::vector<std::string> phases;
  model::Selection selection;
  model::NameMap names;
  std::vector<RowFilter> filters;            // --filter, at most one per table
  std::vector<ColumnTransform> transforms;   // --transform, at most one per column
  // The options above as "--name=value" tokens (command line and config
  // file): sync stores them with the task, so that verify and cutover run
  // without them take the task's own (use_stored_task_objects).
  std::vector<std::string> object_args;
  bool conflict_ignore = false;  // --conflict ignore (default: precheck)
  bool replica_identity_full = false;
  // Ownership (docs/security.md): keep the source's owners (default), or
  // --no-owner: owner_role (empty: the --target user) owns and runs all.
  bool no_owner = false;
  std::string owner_role;
  bool trust_source = false;  // --trust-source: a superuser owner_role is accepted
  // sync
  int jobs = 2;
  std::optional<double> full_qps, full_rps, full_mbps;
  int retry_connection_minutes = 720;
  int retry_other_minutes = 10;
  // incremental sync: at most this many changes / MB (10^6 bytes) per second
  std::optional<double> incr_rps, incr_mbps;
  std::optional<int> metrics_port;  // serve Prometheus metrics on this TCP port
  std::string alert_command;        // run with a JSON event on stdin (empty: none)
  int alert_latency_seconds = 60;   // latency above this for a minute is alerted
  std::string config_path;          // --config: SIGHUP reads it again
  // --resync: the task's slot was lost; copy every table again from a new
  // slot (refused while the slot is healthy).
  bool resync = false;
  // --copy-all (with --resync): every table emptied and copied whole, as
  // before resyncs compared; without it a resync writes only what differs.
  bool resync_copy_all = false;
  // --forward-origins: changes the source got by replication are sent too.
  bool forward_origins = false;
  // Throttle options given on the command line: a config file read again
  // does not override them.
  std::set<std::string> throttles_on_command_line;
  // cutover
  std::int64_t sequence_margin = 0;  // added to the source's sequence values
  int timeout_seconds = 300;         // how long cutover waits for latency zero
  // status, precheck, verify
  bool json = false;  // --format json
  // verify: --repair writes the differing rows from the source (through the
  // stream); --dry-run with it only lists them.
  bool repair = false;
  bool dry_run = false;
  // stream
  bool consume = false;
  bool create_slot = false;
  std::optional<int> idle_exit_seconds;
  std::optional<pg::Lsn> start_lsn;

  bool has_phase(const char* phase) const {
    return std::find(phases.begin(), phases.end(), phase) != phases.end();
  }
};

// "full-rps 20000, incr-mbps 5" (or "none"): for logs and status.
std::string describe_throttles(const Options& options);

}  // namespace pgdts::model
