// Row filters (--filter "schema.table: condition"): which rows of a source
// table belong to the destination. The condition is a boolean SQL
// expression over the table's own columns; a row is copied and its changes
// streamed exactly when it is true. It is evaluated at the source only:
// full sync copies SELECT ... WHERE condition, the output plugin runs it on
// every change (option row_filter, plugin/row_filter.c), verify compares
// the rows it keeps. docs/etl.md.
//
// Pure text handling here; check.h checks filters against the source.
#pragma once

#include <string>
#include <vector>

#include "model/selection.h"

namespace pgdts::model {

struct RowFilter {
  model::TableName table;  // source name
  std::string condition;  // as given, trimmed
  std::string text;       // the option as given, for messages
};

// "schema.table: condition" (a part of the name may be double-quoted, the
// first ':' outside quotes ends it). Throws UsageError.
RowFilter parse_row_filter(const std::string& text);

// Each as parse_row_filter; two for one table are refused. Throws UsageError.
std::vector<RowFilter> parse_row_filters(const std::vector<std::string>& texts);

// The table's filter, or nullptr.
const RowFilter* find_filter(const std::vector<RowFilter>& filters, const model::TableName& table);
// The filter of the first of names that has one (a table's own name, then
// its partition ancestors', nearest first: schema::rule_names), or nullptr.
const RowFilter* nearest_filter(const std::vector<RowFilter>& filters,
                                const std::vector<model::TableName>& names);

// The condition ready to stand in a WHERE clause, in parentheses (on lines
// of their own, so that a trailing -- comment ends before them).
std::string where_condition(const RowFilter& filter);

// The value of the output plugin's row_filter option:
// "schema"."table" WHERE condition.
std::string plugin_option(const RowFilter& filter);

}  // namespace pgdts::model
