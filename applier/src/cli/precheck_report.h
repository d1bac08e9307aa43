// How `pgdts precheck` prints its checks (pure, unit-tested): one line per
// check and a summary, or one JSON document.
#pragma once

#include <string>
#include <vector>

#include "task/precheck.h"

namespace pgdts::cli {

// Every check's line, then the summary line; each ends with a newline.
std::string precheck_text(const std::vector<task::Check>& checks);
// {"result":"pass|warn|fail","checks":[{"name","status","message","fix"}]} and a newline.
std::string precheck_json(const std::vector<task::Check>& checks);



}  // namespace pgdts::cli
