// SIGINT/SIGTERM ask the running command to stop at its next safe point
// (for sync: a transaction boundary); they only set a flag.
#pragma once

#include <atomic>

namespace pgdts::cli {

// Installs the handlers (once) and returns the flag they set.
const std::atomic<bool>& install_stop_signals();

}  // namespace pgdts::cli
