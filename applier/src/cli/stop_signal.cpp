#include "cli/stop_signal.h"

#include <csignal>

namespace pgdts::cli {
namespace {

std::atomic<bool> stop_requested{false};
static_assert(std::atomic<bool>::is_always_lock_free, "the flag is set from a signal handler");

extern "C" void on_stop_signal(int) { stop_requested.store(true); }

std::atomic<bool> reload_requested{false};

extern "C" void on_reload_signal(int) { reload_requested.store(true); }

}  // namespace

const std::atomic<bool>& install_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  // No SA_RESTART: a poll() waiting for the source returns at once (EINTR).
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A closed stdout or socket is reported as an error (EPIPE), not a kill.
  std::signal(SIGPIPE, SIG_IGN);
  return stop_requested;
}

std::atomic<bool>& install_reload_signal() {
  struct sigaction sa {};
  sa.sa_handler = on_reload_signal;
  sigemptyset(&sa.sa_mask);
  // Unlike a stop, a reload has nothing to interrupt.
  sa.sa_flags = SA_RESTART;
  sigaction(SIGHUP, &sa, nullptr);
  return reload_requested;
}

}  // namespace pgdts::cli
