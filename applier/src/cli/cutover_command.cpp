// pgdts cutover: under construction on its own branch; replaced there.
#include "cli/commands.h"

namespace pgdts::cli {

int run_cutover(const Options&) { return report_error("cutover is not built yet", 1); }

}  // namespace pgdts::cli
