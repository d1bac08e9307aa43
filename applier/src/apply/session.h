// One apply session: connections to both sides, the stream resumed from the
// destination's origin, records applied until a stop is requested (then it
// returns, having committed every complete source transaction) or something
// fails (then it throws; the caller decides whether to retry).
//
// Flush reporting: the source is told as flushed only the origin position
// read with pg_replication_origin_progress(origin, true) on a second
// destination connection (committed and durable there), or, when nothing is
// pending at all, the end of WAL the source last reported in a keepalive, so
// that the slot advances on an idle or fully filtered source.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "apply/applier.h"
#include "apply/change_throttle.h"
#include "metrics/task_metrics.h"
#include "pg/conninfo.h"
#include "pg/connection.h"
#include "pg/replication_stream.h"
#include "pg/lsn.h"

namespace pgdts::apply {

struct SessionConfig {
  pg::ConnInfo source;
  pg::ConnInfo target;
  std::string task;
  std::string slot;
  std::string origin;
  std::string application_name;
  std::string source_system_id;  // the task's source: a session refuses another
  bool may_create_slot = false;  // only the first session of a run
  ApplyLimits limits;
  TaskScope scope;
  ChangeThrottle* throttle = nullptr;  // --incr-rps/--incr-mbps, shared with SIGHUP
  rights::Ownership rights;                 // --no-owner, --owner-role
  bool overwrite_existing_rows = false;     // --conflict ignore
  bool forward_origins = false;             // --forward-origins
  // --filter, --transform: the output plugin options that carry them
  // (model::plugin_options).
  std::vector<std::pair<std::string, std::string>> etl_options;
};

struct SessionTotals {
  ApplyCounters counters;  // summed over the sessions of a run
  pg::Lsn confirmed = 0;   // last position reported to the source as flushed
  pg::Lsn failed_at = 0;   // source LSN of the change the last session failed on
};

struct SessionHooks {
  std::function<void()> streaming;   // START_REPLICATION succeeded
  std::function<void()> progressed;  // the destination's durable position moved
  // Told once a second what was applied (per table), latency, positions.
  metrics::TaskMetrics* metrics = nullptr;
};

// Connections the caller already has (from its startup checks), used instead
// of opening new ones: each costs tens of milliseconds.
struct OpenConnections {
  std::optional<pg::ReplicationStream> source;  // replication=database, not streaming
  std::optional<pg::Connection> destination;
};

void run_session(const SessionConfig& config, const std::atomic<bool>& stop, SessionHooks& hooks,
                 SessionTotals& totals, OpenConnections reuse = {});

}  // namespace pgdts::apply
