// pgdts sync: the prechecks (task/precheck.h: a failure refuses to start),
// startup checks (no retry: a bad setup fails at once), the initial phases
// (schema, full; sync/initial_sync.h), then apply sessions; failures are
// retried within the --retry-connection / --retry-other windows, each retry
// resuming from the state in the databases, until a stop request. The
// command line (cli/) installs the signal handlers and prints the outcome.
#pragma once

#include <atomic>
#include <string>

#include "model/options.h"
#include "sync/live_settings.h"

namespace pgdts::sync {

struct Signals {
  const std::atomic<bool>& stop;  // stop at the next transaction boundary
  std::atomic<bool>& reload;      // read the config file's throttles again
};

// How a run ended: its exit status and, unless 0, the one line that says why.
struct Outcome {
  int status = 0;
  std::string error;
};

Outcome run(const model::Options& options, const Signals& signals, RereadThrottles reread);

}  // namespace pgdts::sync
