// Statement texts of verify (see sql.h).
#include "verify/sql.h"

#include "pg/literals.h"

namespace pgdts::verify {

// TimeZone, DateStyle, IntervalStyle, float and bytea output and client
// encoding decide how values print; both sides run with the same ones, so
// equal values have equal text (and equal md5) on both. No JIT: a range's
// statement runs once per range, and compiling it would cost more than it
// saves.
const char* const kComparableSettings =
    "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c extra_float_digits=3 "
    "-c bytea_output=hex -c client_encoding=UTF8 -c lc_monetary=C -c jit=off";

namespace {

std::string joined(const std::vector<std::string>& items, const char* separator = ", ") {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

}  // namespace

TableSql::TableSql(const TablePair& table, Side side, Quoting quoting)
    : table_(table),
      side_(side),
      q_(std::move(quoting)),
      key_types_(side == Side::source ? table.source_key_types : table.target_key_types) {
  for (const auto& c : table_.columns)
    columns_.push_back(q_.identifier(side_ == Side::source ? c.source : c.target));
  for (auto i : table_.key) keys_.push_back(columns_[i]);
}

std::string TableSql::table_name() const {
  const model::TableName& n = side_ == Side::source ? table_.source : table_.target;
  return q_.identifier(n.schema) + "." + q_.identifier(n.name);
}

std::string TableSql::relation() const {
  std::string only = "ONLY " + table_name();
  bool transformed = false;
  for (const auto& e : table_.source_expressions) transformed = transformed || !e.empty();
  if (side_ == Side::target || (table_.source_filter.empty() && !transformed)) return only;
  std::string list = "*";
  if (transformed) {
    list.clear();
    for (std::size_t i = 0; i < columns_.size(); ++i) {
      const std::string& e = i < table_.source_expressions.size() ? table_.source_expressions[i] : "";
      list += (i ? ", " : "") + (e.empty() ? columns_[i] : e + " AS " + columns_[i]);
    }
  }
  return "(SELECT " + list + " FROM " + only +
         (table_.source_filter.empty() ? "" : " WHERE " + table_.source_filter) +
         ") AS pgdts_filtered";
}

std::string TableSql::row_text() const { return "ROW(" + joined(columns_) + ")::text"; }

std::string TableSql::key_columns() const { return joined(keys_); }

std::string TableSql::key_tuple() const {
  return keys_.size() == 1 ? keys_[0] : "(" + key_columns() + ")";
}

std::string TableSql::key_values(const Key& key) const {
  std::vector<std::string> values;
  for (std::size_t i = 0; i < key.size(); ++i) values.push_back(q_.literal(key[i]) + "::" + key_types_[i]);
  return values.size() == 1 ? values[0] : "(" + joined(values) + ")";
}

std::string TableSql::boundaries(std::int64_t step) const { return every_nth_key(relation(), step); }

std::string TableSql::sampled_boundaries(double percent, std::int64_t step) const {
  return every_nth_key("ONLY " + table_name() + " TABLESAMPLE SYSTEM (" + std::to_string(percent) + ")", step);
}

std::string TableSql::every_nth_key(const std::string& from, std::int64_t step) const {
  std::vector<std::string> texts;
  for (std::size_t i = 0; i < keys_.size(); ++i) texts.push_back("k.k" + std::to_string(i) + "::text");
  std::vector<std::string> aliased;
  for (std::size_t i = 0; i < keys_.size(); ++i) aliased.push_back(keys_[i] + " AS k" + std::to_string(i));
  return "SELECT " + joined(texts) + " FROM (SELECT " + joined(aliased) + ", row_number() OVER (ORDER BY " +
         key_columns() + ") AS n FROM " + from + ") k WHERE k.n % " + std::to_string(step) +
         " = 0 ORDER BY k.n";
}

std::string TableSql::range_condition(const std::optional<Key>& lower,
                                      const std::optional<Key>& upper) const {
  std::vector<std::string> parts;
  if (lower) parts.push_back(key_tuple() + " > " + key_values(*lower));
  if (upper) parts.push_back(key_tuple() + " <= " + key_values(*upper));
  return parts.empty() ? "true" : joined(parts, " AND ");
}

std::string TableSql::range_hash(const std::string& condition) const {
  return "SELECT count(*), md5(string_agg(md5(" + row_text() + "), '' ORDER BY " + key_columns() +
         ")) FROM " + relation() + " WHERE " + condition;
}

std::string TableSql::key_texts() const {
  std::vector<std::string> texts;
  for (const auto& k : keys_) texts.push_back(k + "::text");
  return joined(texts);
}

std::string TableSql::range_rows(const std::string& condition) const {
  return "SELECT " + key_texts() + ", " + row_text() + " FROM " + relation() + " WHERE " + condition;
}

std::string TableSql::row_hash() const { return "pg_catalog.hashtextextended(" + row_text() + ", 0)"; }

std::string TableSql::range_hash_sum(const std::string& condition) const {
  return "SELECT count(*), sum(" + row_hash() + ") FROM " + relation() + " WHERE " + condition;
}

std::string TableSql::range_row_hashes(const std::string& condition) const {
  return "SELECT " + key_texts() + ", " + row_hash() + " FROM " + relation() + " WHERE " + condition;
}

std::vector<std::string> TableSql::written_columns() const {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < columns_.size(); ++i)
    if (!table_.columns[i].generated) out.push_back(columns_[i]);
  return out;
}

std::string TableSql::copy_out(const std::string& condition) const {
  return "COPY (SELECT " + joined(written_columns()) + " FROM " + relation() + " WHERE " + condition +
         ") TO STDOUT";
}

std::string TableSql::copy_in() const {
  return "COPY " + table_name() + " (" + joined(written_columns()) + ") FROM STDIN";
}

std::string TableSql::delete_where(const std::string& condition) const {
  return "WITH gone AS (DELETE FROM ONLY " + table_name() + " WHERE " + condition +
         " RETURNING 1) SELECT count(*) FROM gone";
}

std::string TableSql::keys_condition(const std::vector<Key>& keys) const {
  std::vector<std::string> arrays, casts, names;
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    std::vector<std::string> column;
    column.reserve(keys.size());
    for (const auto& k : keys) column.push_back(k[i]);
    arrays.push_back(q_.literal(pg::text_array(column)) + "::text[]");
    names.push_back("c" + std::to_string(i));
    casts.push_back("u.c" + std::to_string(i) + "::" + key_types_[i]);
  }
  return key_tuple() + " IN (SELECT " + joined(casts) + " FROM unnest(" + joined(arrays) + ") AS u(" +
         joined(names) + "))";
}

std::string TableSql::rows_of_keys(const std::vector<Key>& keys) const {
  return range_rows(keys_condition(keys));
}

std::string TableSql::lock() const { return "LOCK TABLE ONLY " + table_name() + " IN SHARE MODE"; }

std::string TableSql::value_texts(const std::string& prefix) const {
  std::vector<std::string> texts;
  for (const auto& c : columns_) texts.push_back(prefix + c + "::text");
  return joined(texts);
}

std::string TableSql::values_of_keys(const std::vector<Key>& keys) const {
  return "SELECT " + key_texts() + ", " + value_texts("") + " FROM " + relation() + " WHERE " +
         keys_condition(keys);
}

std::string TableSql::values_of_rows(const std::vector<std::string>& rows) const {
  // The count is a window over the row's copies, so one pass gives both it
  // and one copy's values (DISTINCT ON needs no = on the columns: json has none).
  std::vector<std::string> inner, outer;
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    inner.push_back(columns_[i] + "::text AS c" + std::to_string(i));
    outer.push_back("r.c" + std::to_string(i));
  }
  return "SELECT DISTINCT ON (r.t) r.t, count(*) OVER (PARTITION BY r.t), " + joined(outer) + " FROM (SELECT " +
         row_text() + " AS t, " + joined(inner) + " FROM " + relation() + ") r WHERE r.t = ANY (" +
         q_.literal(pg::text_array(rows)) + "::text[]) ORDER BY r.t";
}

std::string TableSql::count() const { return "SELECT count(*) FROM " + relation(); }

std::string TableSql::bucket_of(std::int64_t buckets) const {
  std::string n = std::to_string(buckets);
  return "((pg_catalog.hashtextextended(r.t, 0) % " + n + ") + " + n + ") % " + n;
}

std::string TableSql::bucket_hashes(std::int64_t buckets) const {
  return "SELECT " + bucket_of(buckets) + ", count(*), md5(string_agg(md5(r.t), '' ORDER BY md5(r.t))) FROM (SELECT " +
         row_text() + " AS t FROM " + relation() + ") r GROUP BY 1";
}

std::string TableSql::bucket_rows(std::int64_t buckets, std::int64_t bucket) const {
  return "SELECT r.t, count(*) FROM (SELECT " + row_text() + " AS t FROM " + relation() + ") r WHERE " +
         bucket_of(buckets) + " = " + std::to_string(bucket) + " GROUP BY 1";
}

std::string TableSql::row_counts(const std::vector<std::string>& rows) const {
  return "SELECT r.t, count(*) FROM (SELECT " + row_text() + " AS t FROM " + relation() +
         ") r WHERE r.t = ANY (" + q_.literal(pg::text_array(rows)) + "::text[]) GROUP BY 1";
}

}  // namespace pgdts::verify
