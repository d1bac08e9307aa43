#include "apply/statement_sql.h"

#include <algorithm>

#include "error.h"

namespace pgdts::apply {
namespace {

void append_param(std::string& sql, int& n) {
  sql += '$';
  sql += std::to_string(++n);
}

// "a = $3 AND b IS NULL ..." for the where codes; n is the last parameter
// number used so far.
std::string conditions(const TableNames& t, std::string_view where_codes, int& n) {
  std::string sql;
  for (size_t i = 0; i < where_codes.size(); ++i) {
    char c = where_codes[i];
    if (c == code::kSkip) continue;
    if (!sql.empty()) sql += " AND ";
    sql += t.columns[i];
    switch (c) {
      case code::kEqual:
        if (i < t.equal_operators.size() && !t.equal_operators[i].empty()) {
          sql += ' ';
          sql += t.equal_operators[i];
          sql += ' ';
        } else {
          sql += " = ";
        }
        append_param(sql, n);
        break;
      case code::kTextEqual:
        // Byte equality of the text forms: under the column's own collation
        // a nondeterministic one could take 'A' for 'a'.
        sql += "::pg_catalog.text COLLATE pg_catalog.\"C\" = ";
        append_param(sql, n);
        break;
      case code::kIsNull:
        sql += " IS NULL";
        break;
      default:
        throw Error(std::string("internal error: bad where code '") + c + "'");
    }
  }
  if (sql.empty()) sql = "true";
  return sql;
}

std::string where_clause(const TableNames& t, std::string_view where_codes, bool by_ctid, int& n) {
  std::string cond = conditions(t, where_codes, n);
  if (!by_ctid) return " WHERE " + cond;
  return " WHERE ctid = (SELECT ctid FROM ONLY " + t.qualified + " WHERE " + cond + " LIMIT 1)";
}

std::string on_conflict_overwrite(const TableNames& t, std::string_view set_codes,
                                  const std::vector<int>& keys) {
  std::string target, set;
  for (int k : keys) target += (target.empty() ? "" : ", ") + t.columns[k];
  for (size_t i = 0; i < set_codes.size(); ++i) {
    if (set_codes[i] != code::kValue) continue;
    if (std::find(keys.begin(), keys.end(), static_cast<int>(i)) != keys.end()) continue;
    set += (set.empty() ? "" : ", ") + t.columns[i] + " = EXCLUDED." + t.columns[i];
  }
  if (set.empty()) return " ON CONFLICT (" + target + ") DO NOTHING";
  return " ON CONFLICT (" + target + ") DO UPDATE SET " + set;
}

// Aliases of a statement over sets of rows (the table, the rows from
// arrays), of no user's choosing: columns are always qualified by them.
constexpr const char* kTarget = "pgdts_t";
constexpr const char* kRows = "pgdts_v";

// Key column i of the table matching the same column of the rows, with the
// key index's operator.
std::string key_match(const TableNames& t, size_t i) {
  bool own = i < t.equal_operators.size() && !t.equal_operators[i].empty();
  return std::string(kTarget) + "." + t.columns[i] + (own ? " " + t.equal_operators[i] + " " : " = ") +
         kRows + "." + t.columns[i];
}

// ROWS FROM (pg_catalog.unnest($1::type[]), ...) over the sent columns,
// parameters numbered in column order: rows that travel as one array per
// column. (unnest(a, b) means this only when spelled unqualified.)
std::string rows_from_arrays(const TableNames& t, const std::vector<bool>& sent,
                             const std::vector<std::string>& types) {
  std::string arrays;
  int n = 0;
  for (size_t i = 0; i < sent.size(); ++i) {
    if (!sent[i]) continue;
    if (i >= types.size() || types[i].empty())
      throw Error("internal error: no type for column " + t.columns[i] + " of " + t.qualified);
    arrays += arrays.empty() ? "pg_catalog.unnest(" : ", pg_catalog.unnest(";
    append_param(arrays, n);
    arrays += "::" + types[i] + "[])";
  }
  return "ROWS FROM (" + arrays + ")";
}

}  // namespace

TableNames table_names(std::string_view schema, std::string_view table,
                       const std::vector<std::string>& columns,
                       const std::vector<std::string>* equal_operators) {
  TableNames t;
  if (equal_operators) t.equal_operators = *equal_operators;
  t.qualified = quote_identifier(schema) + "." + quote_identifier(table);
  t.columns.reserve(columns.size());
  for (const auto& c : columns) t.columns.push_back(quote_identifier(c));
  return t;
}

bool has_reliable_equality(std::uint32_t oid) {
  switch (oid) {
    case 16:    // bool
    case 17:    // bytea
    case 18:    // char
    case 19:    // name
    case 20:    // int8
    case 21:    // int2
    case 23:    // int4
    case 25:    // text
    case 26:    // oid
    case 700:   // float4
    case 701:   // float8
    case 790:   // money
    case 1042:  // bpchar
    case 1043:  // varchar
    case 1082:  // date
    case 1083:  // time
    case 1114:  // timestamp
    case 1184:  // timestamptz
    case 1560:  // bit
    case 1562:  // varbit
    case 2950:  // uuid
    case 3220:  // pg_lsn
      return true;
    default:
      return false;
  }
}

int count_params(std::string_view codes) {
  int n = 0;
  for (char c : codes)
    if (c == code::kValue || c == code::kEqual || c == code::kTextEqual) ++n;
  return n;
}

std::string insert_sql(const TableNames& t, std::string_view set_codes, int rows,
                       const std::vector<int>* overwrite_keys) {
  std::string cols;
  int per_row = 0;
  for (size_t i = 0; i < set_codes.size(); ++i) {
    if (set_codes[i] != code::kValue) continue;
    if (!cols.empty()) cols += ", ";
    cols += t.columns[i];
    ++per_row;
  }
  if (per_row == 0) {
    if (rows != 1) throw Error("internal error: multi-row INSERT of no column into " + t.qualified);
    return "INSERT INTO " + t.qualified + " DEFAULT VALUES";
  }
  // The source's values win over GENERATED ALWAYS identities (accepted on
  // any table).
  std::string sql = "INSERT INTO " + t.qualified + " (" + cols + ") OVERRIDING SYSTEM VALUE VALUES ";
  int n = 0;
  for (int r = 0; r < rows; ++r) {
    sql += r ? ", (" : "(";
    for (int c = 0; c < per_row; ++c) {
      if (c) sql += ", ";
      append_param(sql, n);
    }
    sql += ')';
  }
  if (overwrite_keys && !overwrite_keys->empty()) sql += on_conflict_overwrite(t, set_codes, *overwrite_keys);
  return sql;
}

std::string update_sql(const TableNames& t, std::string_view set_codes,
                       std::string_view where_codes, bool by_ctid) {
  std::string set;
  int n = 0;
  for (size_t i = 0; i < set_codes.size(); ++i) {
    if (set_codes[i] != code::kValue) continue;
    if (!set.empty()) set += ", ";
    set += t.columns[i];
    set += " = ";
    append_param(set, n);
  }
  if (set.empty()) throw Error("internal error: UPDATE of " + t.qualified + " sets no column");
  return "UPDATE ONLY " + t.qualified + " SET " + set + where_clause(t, where_codes, by_ctid, n);
}

std::string update_from_arrays_sql(const TableNames& t, std::string_view set_codes,
                                   const std::vector<int>& key_columns,
                                   const std::vector<std::string>& types) {
  std::vector<bool> sent(set_codes.size(), false);
  std::string set, names, on;
  for (size_t i = 0; i < set_codes.size(); ++i) {
    bool is_key = std::find(key_columns.begin(), key_columns.end(), static_cast<int>(i)) !=
                  key_columns.end();
    bool sets = set_codes[i] == code::kValue;
    if (!sets && !is_key) continue;
    sent[i] = true;
    names += (names.empty() ? "" : ", ") + t.columns[i];
    if (sets) set += (set.empty() ? "" : ", ") + t.columns[i] + " = " + kRows + "." + t.columns[i];
    if (is_key) on += (on.empty() ? "" : " AND ") + key_match(t, i);
  }
  if (set.empty() || on.empty())
    throw Error("internal error: UPDATE of " + t.qualified + " from arrays sets no column or has no key");
  return "UPDATE ONLY " + t.qualified + " AS " + kTarget + " SET " + set + " FROM " +
         rows_from_arrays(t, sent, types) + " AS " + kRows + "(" + names + ") WHERE " + on;
}

std::string insert_from_arrays_sql(const TableNames& t, std::string_view set_codes,
                                   const std::vector<std::string>& types,
                                   const std::vector<int>* overwrite_keys) {
  std::vector<bool> sent(set_codes.size(), false);
  std::string cols;
  for (size_t i = 0; i < set_codes.size(); ++i) {
    if (set_codes[i] != code::kValue) continue;
    sent[i] = true;
    cols += (cols.empty() ? "" : ", ") + t.columns[i];
  }
  if (cols.empty()) throw Error("internal error: INSERT from arrays of no column into " + t.qualified);
  std::string sql = "INSERT INTO " + t.qualified + " (" + cols + ") OVERRIDING SYSTEM VALUE SELECT * FROM " +
                    rows_from_arrays(t, sent, types);
  if (overwrite_keys && !overwrite_keys->empty()) sql += on_conflict_overwrite(t, set_codes, *overwrite_keys);
  return sql;
}

std::string delete_from_arrays_sql(const TableNames& t, const std::vector<int>& key_columns,
                                   const std::vector<std::string>& types) {
  std::vector<bool> sent(t.columns.size(), false);
  for (int k : key_columns) sent[static_cast<size_t>(k)] = true;
  std::string names, on;
  for (size_t i = 0; i < sent.size(); ++i) {
    if (!sent[i]) continue;
    names += (names.empty() ? "" : ", ") + t.columns[i];
    on += (on.empty() ? "" : " AND ") + key_match(t, i);
  }
  if (on.empty()) throw Error("internal error: DELETE from arrays of " + t.qualified + " has no key");
  return "DELETE FROM ONLY " + t.qualified + " AS " + kTarget + " USING " +
         rows_from_arrays(t, sent, types) + " AS " + kRows + "(" + names + ") WHERE " + on;
}

std::string delete_sql(const TableNames& t, std::string_view where_codes, bool by_ctid) {
  int n = 0;
  return "DELETE FROM ONLY " + t.qualified + where_clause(t, where_codes, by_ctid, n);
}

namespace {

// ROW($1::t1, ..., $n::tn) with the parameters cast to the destination types.
std::string typed_params(const std::vector<std::string>& types, int& n) {
  std::string out;
  for (const auto& type : types) {
    if (!out.empty()) out += ", ";
    append_param(out, n);
    out += "::" + type;
  }
  return out;
}

std::string joined_columns(const TableNames& t) {
  std::string out;
  for (const auto& c : t.columns) out += (out.empty() ? "" : ", ") + c;
  return out;
}

}  // namespace

std::string delete_equal_rows_sql(const TableNames& t, const std::vector<std::string>& types) {
  int n = 0;
  // ROW(x) of one column is a one-field record too: its text is "(v)" on both sides.
  return "DELETE FROM ONLY " + t.qualified + " WHERE ROW(" + joined_columns(t) + ")::pg_catalog.text = ROW(" +
         typed_params(types, n) + ")::pg_catalog.text";
}

std::string insert_copies_sql(const TableNames& t, const std::vector<std::string>& types) {
  int n = 0;
  std::string values = typed_params(types, n);
  std::string count;
  append_param(count, n);
  return "INSERT INTO " + t.qualified + " (" + joined_columns(t) + ") OVERRIDING SYSTEM VALUE SELECT " + values +
         " FROM pg_catalog.generate_series(1, " + count + "::pg_catalog.int8)";
}

std::string truncate_sql(const std::vector<TruncateTarget>& tables, bool restart_identity) {
  std::string sql = "TRUNCATE ";
  for (size_t i = 0; i < tables.size(); ++i) {
    if (i) sql += ", ";
    // ONLY binds to each name. A partitioned table refuses it (its rows are
    // its partitions', which the record lists too).
    if (!tables[i].partitioned) sql += "ONLY ";
    sql += tables[i].qualified;
  }
  if (restart_identity) sql += " RESTART IDENTITY";
  // Never CASCADE: the record already lists every table the source's
  // CASCADE reached, and on the destination CASCADE would also empty tables
  // outside the task that reference these (PostgreSQL's apply worker
  // truncates with RESTRICT for the same reason).
  return sql;
}

}  // namespace pgdts::apply
