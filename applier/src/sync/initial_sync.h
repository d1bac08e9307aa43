// The phases of `pgdts sync` before the change stream: schema sync and full
// sync from one exported snapshot, moving the task through its phases
// (store/task_store.h) so that a run that is killed or fails resumes where
// it stopped. See docs/full-sync.md.
#pragma once

#include <atomic>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "model/options.h"
#include "fullsync/throttle.h"
#include "error.h"
#include "fullsync/progress.h"
#include "pg/lsn.h"
#include "model/selection.h"

namespace pgdts::sync {

using model::Options;

// The copy of the tables a wider selection added to a streaming task, in a
// thread of its own beside the stream (run_initial_sync starts it). The
// stream skips their changes from before the copy's snapshot (they are in
// the copy) and meets their first change after it, or a DDL, only once the
// copy is done: until then the applier stops its session there
// (apply::TableCopyingError), the runner waits here, and a new session
// resumes from the destination's origin, so nothing is lost or applied
// twice. Joined on destruction.
class AddedTablesCopy {
 public:
  // copy returns false when its stop flag ended it.
  explicit AddedTablesCopy(std::function<bool(const std::atomic<bool>& stop)> copy);
  // Asks the copy to stop, then waits for it.
  ~AddedTablesCopy();
  AddedTablesCopy(const AddedTablesCopy&) = delete;
  AddedTablesCopy& operator=(const AddedTablesCopy&) = delete;

  // True once the tables are copied (their keys and indexes built).
  std::shared_ptr<const std::atomic<bool>> done() const { return done_; }
  // Waits for the copy: true when it completed, false when stopped;
  // rethrows its failure.
  bool wait();
  // Rethrows the copy's failure, if it has failed already; never waits.
  void rethrow_if_failed();
  // Ends the copy at its next chance (it resumes on the task's next start).
  void request_stop() { stop_.store(true); }

 private:
  void run(const std::function<bool(const std::atomic<bool>&)>& copy);

  std::atomic<bool> stop_{false};
  std::shared_ptr<std::atomic<bool>> done_;
  std::atomic<bool> finished_{false};
  bool copied_ = false;
  std::exception_ptr error_;
  std::thread thread_;  // last: it starts once the rest is constructed
};

// What the change stream needs from the initial phases.
struct InitialSyncResult {
  bool stopped = false;                  // SIGINT/SIGTERM before the end
  std::set<model::TableName> tables;      // the selected tables, partitions included
  std::map<model::TableName, pg::Lsn> copied_at;
  // Tables a wider selection added, being copied beside the stream from a
  // snapshot at copying_from (see AddedTablesCopy); adding is null when
  // there are none.
  std::set<model::TableName> copying;
  pg::Lsn copying_from = 0;
  std::shared_ptr<AddedTablesCopy> adding;
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
// (selected_before) gets the added tables: created, then copied from a
// snapshot of their own beside the stream (InitialSyncResult::adding), and
// handed to the stream at that snapshot's position (their changes before
// it are in the copy). A run killed during that copy resumes it.
InitialSyncResult run_initial_sync(const Options& o, const std::atomic<bool>& stop,
                                   const std::function<void()>& prepared,
                                   fullsync::Throttle& throttle,
                                   fullsync::ProgressObserver* observer = nullptr,
                                   const std::optional<model::Selection>& selected_before = {});

}  // namespace pgdts::sync
