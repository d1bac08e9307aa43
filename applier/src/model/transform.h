// Column expressions (--transform "schema.table.column: expression"): the
// destination column gets the value of a SQL expression over the source
// row's columns (mask an email, hash a phone number), computed at the
// source: full sync selects the expression instead of the column, the
// output plugin computes it on every change (option transform,
// plugin/transform.c), verify compares against it. docs/etl.md.
#pragma once

#include <string>
#include <vector>

#include "model/selection.h"

namespace pgdts::model {

struct ColumnTransform {
  model::TableName table;  // source names
  std::string column;
  std::string expression;  // as given, trimmed
  std::string text;        // the option as given, for messages
};

// "schema.table.column: expression". Throws UsageError.
ColumnTransform parse_transform(const std::string& text);

// Each as parse_transform; two for one column are refused. Throws UsageError.
std::vector<ColumnTransform> parse_transforms(const std::vector<std::string>& texts);

// The column's expression, or nullptr.
const ColumnTransform* find_transform(const std::vector<ColumnTransform>& transforms,
                                      const model::TableName& table, const std::string& column);
// The column's expression given on the first of names that has one (a
// table's own name, then its partition ancestors', nearest first), or
// nullptr.
const ColumnTransform* nearest_transform(const std::vector<ColumnTransform>& transforms,
                                         const std::vector<model::TableName>& names,
                                         const std::string& column);
// Whether any expression names one of names.
bool any_transform(const std::vector<ColumnTransform>& transforms,
                   const std::vector<model::TableName>& names);

// The expression in parentheses, on lines of its own (a trailing -- comment
// ends before the closing one).
std::string select_expression(const ColumnTransform& transform);

// The value of the output plugin's transform option:
// (expression) AS "column" FROM "schema"."table".
std::string plugin_option(const ColumnTransform& transform);

}  // namespace pgdts::model
