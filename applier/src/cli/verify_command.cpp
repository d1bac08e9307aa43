// pgdts verify: compares the task's tables (rows and catalogs) between the
// source and the destination while changes keep flowing (src/verify/,
// docs/verify.md). Exit 0 when they are equal, 1 when not or when the
// comparison could not be made. --repair writes the differing rows from
// the source through the running sync's stream (exit 0 when everything is
// equal afterwards); --repair --dry-run only lists them.
#include <cstdio>

#include "cli/commands.h"
#include "verify/report.h"
#include "verify/verify.h"

namespace pgdts::cli {

int run_verify(const Options& o) {
  verify::VerifyInput in;
  in.source = o.source;
  in.target = o.target;
  in.task = o.task;
  in.selection = o.selection;
  in.names = o.names;
  in.filters = o.filters;
  in.transforms = o.transforms;
  in.repair = !o.repair ? verify::RepairMode::none
              : o.dry_run ? verify::RepairMode::dry_run
                          : verify::RepairMode::repair;
  verify::VerifyResult result;
  try {
    result = verify::run_verify(in);
  } catch (const std::exception& e) {
    return report_error(e.what(), 1);
  }
  std::string out = o.json ? verify::json_report(result) : verify::text_report(result);
  print(out);
  return result.equal() ? 0 : 1;
}

}  // namespace pgdts::cli
