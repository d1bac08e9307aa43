// SIGINT/SIGTERM ask the running command to stop at its next safe point
// (for sync: a transaction boundary); they only set a flag.
#pragma once

#include <atomic>

namespace pgdts::cli {

// Installs the handlers (once) and returns the flag they set.
const std::atomic<bool>& install_stop_signals();

// SIGHUP asks pgdts sync to read its config file again (sync/live_settings.h);
// the handler only sets the returned flag, which the reader clears.
std::atomic<bool>& install_reload_signal();

}  // namespace pgdts::cli
