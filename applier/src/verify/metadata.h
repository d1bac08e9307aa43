// Comparing the catalogs: the destination is read with the same catalog
// reader as the source (schema::read_source_schema, on the mapped names), and
// the two models are compared with the source's names mapped.
//
// Columns are matched by mapped name (type, NOT NULL, default, identity,
// generated, collation). Constraints and indexes are matched by what they
// are, not by name: schema sync keeps their names, but PostgreSQL names the
// indexes it creates on partitions itself. Their definitions (and defaults
// and generated expressions) are compared as token lists with every
// identifier unquoted and the source's column names mapped, so that a column
// renamed by --map, or spelled with or without quotes, compares equal.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "schema/schema_sync.h"
#include "verify/model.h"

namespace pgdts::pg {
class Connection;
}

namespace pgdts::verify {

// Expression text in a canonical form: identifiers (quoted or not) as
// "name" with renames applied where a name stands for a column (not after
// '.' or '::', not before '(' or '.'), string literals and other tokens as
// they are, runs of white space as one space.
std::string normalized_expression(std::string_view text, const std::map<std::string, std::string>& renames);

// The selection under which the destination's catalog reader finds the
// task's tables: every mapped table, and the mapped schemas (for their types).
model::Selection mapped_selection(const schema::SourceSchema& source, const model::NameMap& names);

// Differences of the tables' columns, constraints and indexes. Tables missing
// on the destination are left to the row comparison, except partitioned
// parents, which have no rows.
std::vector<MetadataDifference> compare_metadata(const schema::SourceSchema& source,
                                                 const schema::SourceSchema& target,
                                                 const model::NameMap& names);

// Each sequence of the task on both sides: missing, or its value behind the
// source's.
std::vector<SequenceResult> compare_sequences(pg::Connection& source, pg::Connection& target,
                                              const schema::SourceSchema& schema, const model::NameMap& names);

}  // namespace pgdts::verify
