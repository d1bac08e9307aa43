// PostgreSQL's own parser (libpg_query) for DDL replay: SQL text to a parse
// tree (pg_query::ParseResult, the protobuf form libpg_query speaks) and
// back to SQL text. The only place that calls pg_query_*.
#pragma once

#include <string>

#include "pg_query.pb.h"

namespace pgdts::ddl {

// Parses sql. Throws Error with the parser's message and position.
pg_query::ParseResult parse(const std::string& sql);

// SQL text of a parse tree (statements separated by "; "). Throws Error.
std::string deparse(const pg_query::ParseResult& tree);

}  // namespace pgdts::ddl
