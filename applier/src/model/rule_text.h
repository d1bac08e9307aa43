// The text of an ETL rule, "name: SQL" (--filter "schema.table: condition",
// --transform "schema.table.column: expression"), and how its parts are
// written back into SQL. Pure text handling.
#pragma once

#include <string>
#include <vector>

namespace pgdts::model {

struct RuleText {
  std::vector<std::string> name;  // the dotted name's parts, unquoted
  std::string sql;                // after the ':', trimmed
};

// Splits text at its first ':' outside double quotes; the name must have
// `parts` parts (written as `name_form` in messages) and the SQL must not be
// empty. Throws UsageError naming option.
RuleText split_rule(const std::string& text, const std::string& option, std::size_t parts,
                    const std::string& name_form);


// The SQL in parentheses on lines of their own, so that a trailing --
// comment ends before the closing one: safe inside any larger statement.
std::string parenthesized(const std::string& sql);

}  // namespace pgdts::model
