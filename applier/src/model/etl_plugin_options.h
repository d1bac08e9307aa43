// The output plugin options that carry a task's ETL rules: one row_filter
// per filter, one transform per column expression (docs/protocol.md). The
// applier and pgdts stream start the stream with them, so that both see
// the rows and values the rules let through.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "model/row_filter.h"
#include "model/transform.h"

namespace pgdts::model {

std::vector<std::pair<std::string, std::string>> plugin_options(
    const std::vector<RowFilter>& filters, const std::vector<ColumnTransform>& transforms);

// The tables the rules name, each once, in the order given.
std::vector<TableName> ruled_tables(const std::vector<RowFilter>& filters,
                                    const std::vector<ColumnTransform>& transforms);

}  // namespace pgdts::model
