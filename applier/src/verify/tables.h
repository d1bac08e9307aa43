// Which tables verify compares row by row, under which names, by which key.
#pragma once

#include <vector>

#include "model/row_filter.h"
#include "model/transform.h"
#include "schema/schema_sync.h"
#include "verify/model.h"

namespace pgdts::pg {
class Connection;
}

namespace pgdts::verify {

// The tables of the task that hold rows (plain tables and leaf partitions) in
// the order of the schema model, with their mapped names, the columns both
// sides have, and the key: the source's PRIMARY KEY, else its narrowest
// valid unique index without expressions or predicate over NOT NULL columns
// (such an index identifies a row as well; the destination has it under the
// mapped column names). Both connections run with search_path = pg_catalog
// so that type names print schema-qualified.
std::vector<TablePair> plan_tables(pg::Connection& source, pg::Connection& target,
                                   const schema::SourceSchema& schema, const model::NameMap& names);

// What the destination should hold of each pair: the row filter and the
// column expressions of the nearest rules (a partition follows its root's).
void apply_rules(std::vector<TablePair>& pairs, const schema::SourceSchema& schema,
                 const std::vector<model::RowFilter>& filters,
                 const std::vector<model::ColumnTransform>& transforms);

// The source table whose column mapping applies to a table: its partition
// root within the task (partitions are renamed through their parent).
const schema::Table& mapping_root(const schema::SourceSchema& schema, const schema::Table& table);

}  // namespace pgdts::verify
