// How `pgdts precheck` prints its checks (pure, unit-tested): one line per
// check and a summary, or one JSON document.
#pragma once

#include <string>
#include <vector>

#include "cli/options.h"
#include "task/precheck.h"

namespace pgdts::cli {

// Every check's line, then the summary line; each ends with a newline.
std::string precheck_text(const std::vector<task::Check>& checks);
// {"result":"pass|warn|fail","checks":[{"name","status","message","fix"}]} and a newline.
std::string precheck_json(const std::vector<task::Check>& checks);

// The task as the command line describes it.
task::PrecheckInput precheck_input(const Options& o);

// `pgdts sync`'s start: runs the prechecks, logs every warning and failure
// as a `precheck` event; returns "" when nothing failed, otherwise the one
// line that says which checks failed and how to fix them. task_tables
// receives the destination tables the task feeds.
std::string precheck_before_sync(const Options& o, std::vector<task::TableName>& task_tables);

}  // namespace pgdts::cli
