// Checks the row filters of a task on the source, before anything starts
// (pgdts precheck and pgdts sync): a filter that the output plugin would
// refuse later, mid-stream, is refused here with one line instead.
#pragma once

#include <map>
#include <vector>

#include "model/row_filter.h"
#include "model/transform.h"
#include "pg/connection.h"
#include "model/selection.h"

namespace pgdts::etl {

// Every filter's table is one of the task's tables (relkind by source
// name: 'r' a plain table or leaf partition, 'p' a partitioned table, whose
// filter applies to its partitions, those created later too), and its condition
// analyzes on the source as a WHERE clause over that table alone, without a
// subquery, another table, a volatile or a user-defined function (the
// output plugin's own rules, plugin/row_filter.c). Throws UsageError naming
// the filter and the rule it breaks; pg::ConnectionError when the source
// goes away.
void check_row_filters(pg::Connection& source, const std::vector<model::RowFilter>& filters,
                       const std::map<model::TableName, char>& task_tables);

// The same for column expressions: the table is in the task, the column
// is in neither the primary key nor the replica identity, and the
// expression analyzes over the table alone, its value assignable to the
// column, under the same rules; for a column the table lacks (which the
// expression adds on the destination) a value a table column can hold.
// Throws UsageError.
void check_transforms(pg::Connection& source, const std::vector<model::ColumnTransform>& transforms,
                      const std::map<model::TableName, char>& task_tables);

}  // namespace pgdts::etl
