// pgdts verify: under construction on its own branch; replaced there.
#include "cli/commands.h"

namespace pgdts::cli {

int run_verify(const Options&) { return report_error("verify is not built yet", 1); }

}  // namespace pgdts::cli
