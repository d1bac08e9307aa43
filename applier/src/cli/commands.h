// The commands available now. Each catches its own exceptions at one place,
// prints one `pgdts: error: ...` line and returns the exit status.
#pragma once

#include <string>

#include "cli/options.h"
#include "cli/output.h"

namespace pgdts::cli {

int run_sync(const Options& options);
int run_stream(const Options& options);
int run_release(const Options& options);
int run_status(const Options& options);
int run_precheck(const Options& options);
int run_verify(const Options& options);
int run_cutover(const Options& options);

// The options with the task's stored object options (selection, mapping)
// when none were given. Throws on a connection failure.
Options with_stored_task_objects(const Options& options);

}  // namespace pgdts::cli
