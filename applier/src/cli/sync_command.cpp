// pgdts sync: the signals a run answers to, the run itself (sync/runner.h),
// and its one error line.
#include "cli/commands.h"
#include "cli/stop_signal.h"
#include "sync/runner.h"

namespace pgdts::cli {

int run_sync(const Options& o) {
  const std::atomic<bool>& stop = install_stop_signals();
  // From the start: SIGHUP's default action would end the run.
  std::atomic<bool>& reload = install_reload_signal();
  sync::Outcome outcome = sync::run(o, {stop, reload}, reread_throttles);
  if (outcome.status != 0) return report_error(outcome.error, outcome.status);
  return 0;
}

}  // namespace pgdts::cli
