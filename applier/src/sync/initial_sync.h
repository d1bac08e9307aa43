// The phases of `pgdts sync` before the change stream: schema sync and full
// sync from one exported snapshot, moving the task through its phases
// (store/task_store.h) so that a run that is killed or fails resumes where
// it stopped. See docs/full-sync.md.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "model/options.h"
#include "fullsync/throttle.h"
#include "error.h"
#include "fullsync/progress.h"
#include "pg/lsn.h"
#include "model/selection.h"

namespace pgdts::sync {

using model::Options;

// What the change stream needs from the initial phases.
struct InitialSyncResult {
  bool stopped = false;                  // SIGINT/SIGTERM before the end
  std::set<model::TableName> tables;      // the selected tables, partitions included
  std::map<model::TableName, pg::Lsn> copied_at;
};

// A selected table already exists on the destination and --conflict is
// precheck: not retried, the DBA has to decide.
class ConflictError : public Error {
 public:
  using Error::Error;
};

// Runs what is left of the schema and full phases. prepared is called once
// the destination holds the task's tables and the copy starts (failures
// before it are setup errors, not retried; not called when nothing is left
// to copy). throttle: the full-sync limits, shared with SIGHUP
// (sync/live_settings.h); observer, when set, is told the full sync's progress
// (metrics). Throws on failure.
//
// A streaming task whose selection grew since its last start
// (selected_before) gets the added tables first: created,
// copied from a snapshot of their own, and handed to the stream at that
// snapshot's position (their changes before it are in the copy). The stream
// waits meanwhile. A run killed during that copy resumes it.
InitialSyncResult run_initial_sync(const Options& o, const std::atomic<bool>& stop,
                                   const std::function<void()>& prepared,
                                   fullsync::Throttle& throttle,
                                   fullsync::ProgressObserver* observer = nullptr,
                                   const std::optional<model::Selection>& selected_before = {});

}  // namespace pgdts::sync
