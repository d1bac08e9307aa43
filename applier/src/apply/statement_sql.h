// SQL text of the statements that replay changes. Pure functions of names
// and per-column codes, so that they are unit-tested without a server.
//
// Per-column codes (one char per column of the relation, in column order):
//   SET / INSERT list:  'v' the column gets a parameter, '-' left out
//                       (an unchanged TOAST value: the destination keeps it)
//   WHERE:              '=' col = $n      (a type whose = means "same value")
//                       't' col::text = $n (json, xml, point...: no or a
//                                           misleading =)
//                       'n' col IS NULL
//                       '-' not compared
// Parameters are numbered in order: SET/INSERT columns first, then WHERE.
#pragma once

#include "pg/literals.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace pgdts::apply {

namespace code {
constexpr char kValue = 'v';
constexpr char kSkip = '-';
constexpr char kEqual = '=';
constexpr char kTextEqual = 't';
constexpr char kIsNull = 'n';
}  // namespace code

// The one identifier quoter (pg/literals.h), by its name here too.
using pg::quote_identifier;

// Quoted names of a destination table and its columns (stream order).
struct TableNames {
  std::string qualified;             // "schema"."table"
  std::vector<std::string> columns;  // "col", ...
  // By column (or empty): the operator a WHERE compares the column with,
  // when not "=" (OPERATOR("ns".=)).
  std::vector<std::string> equal_operators;
};

TableNames table_names(std::string_view schema, std::string_view table,
                       const std::vector<std::string>& columns,
                       const std::vector<std::string>* equal_operators = nullptr);

// Whether the text form of a value may be compared with the type's own =
// operator: equal means identical for these built-in types. Everything else
// (json, xml, geometric types, numeric's 1.0 = 1.00, interval's
// '1 day' = '24 hours', user types) is compared as text.
bool has_reliable_equality(std::uint32_t type_oid);

// rows > 1: one statement inserting that many rows, parameters row by row.
// With overwrite_keys (column positions of the key), a row whose key exists
// already is overwritten instead (--conflict ignore): ON CONFLICT (key) DO
// UPDATE SET every other column inserted, or DO NOTHING when there is none.
std::string insert_sql(const TableNames& t, std::string_view set_codes, int rows = 1,
                       const std::vector<int>* overwrite_keys = nullptr);
// by_ctid: the WHERE matches a whole old row (REPLICA IDENTITY FULL), of
// which there may be duplicates: touch exactly one, the first found.
std::string update_sql(const TableNames& t, std::string_view set_codes,
                       std::string_view where_codes, bool by_ctid);
// One UPDATE of many rows that kept their key (merged UPDATEs of one
// table): the new rows travel as one array per column, unnested and joined
// to the table on the key; each key appears once. set_codes as for
// update_sql; types[i] is column i's destination type, qualified. The
// arrays (parameters, in column order) are those of the columns set and
// of the key columns, unnested side by side.
std::string update_from_arrays_sql(const TableNames& t, std::string_view set_codes,
                                   const std::vector<int>& key_columns,
                                   const std::vector<std::string>& types);
// One INSERT of many rows, one array per column sent (set_codes and
// overwrite_keys as for insert_sql, types as above).
std::string insert_from_arrays_sql(const TableNames& t, std::string_view set_codes,
                                   const std::vector<std::string>& types,
                                   const std::vector<int>* overwrite_keys = nullptr);
// One DELETE of many rows by their keys, one array per key column.
std::string delete_from_arrays_sql(const TableNames& t, const std::vector<int>& key_columns,
                                   const std::vector<std::string>& types);
std::string delete_sql(const TableNames& t, std::string_view where_codes, bool by_ctid);
// Repair of a table without a key (verify --repair): every row whose
// values, cast to the destination's column types (types[i], qualified),
// print the same as the parameters $1..$n; compared as row texts in one
// session, so equal values match whatever the settings, and types without
// an = (json, point) too.
std::string delete_equal_rows_sql(const TableNames& t, const std::vector<std::string>& types);
// $n+1 copies of the row $1..$n (cast to types) in one statement.
std::string insert_copies_sql(const TableNames& t, const std::vector<std::string>& types);
struct TruncateTarget {
  std::string qualified;
  bool partitioned = false;  // on the destination
};
std::string truncate_sql(const std::vector<TruncateTarget>& tables, bool restart_identity);

// Number of parameters codes call for.
int count_params(std::string_view codes);

}  // namespace pgdts::apply
