#include "apply/run_as.h"

#include "pg/literals.h"

namespace pgdts::apply {

std::string run_as_function(const RoleFacts& role) {
  return "\"pgdts\"." + pg::quote_identifier("run_as_" + std::to_string(role.oid));
}

std::vector<std::string> run_as_definition(const RoleFacts& role) {
  std::string fn = run_as_function(role);
  std::string signature = fn + "(text, text[], text[])";
  // The SET clauses: what the apply session runs under (session.cpp), put
  // back whatever the code inside changed. set_config(..., true) inside
  // lasts until the function returns.
  return {
      "CREATE OR REPLACE FUNCTION \"pgdts\".run_as_refused(message text) RETURNS bigint"
      " LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp"
      " AS $pgdts$BEGIN RAISE EXCEPTION USING MESSAGE = message,"
      " ERRCODE = 'insufficient_privilege'; END$pgdts$",
      "REVOKE ALL ON FUNCTION \"pgdts\".run_as_refused(text) FROM PUBLIC",
      "CREATE OR REPLACE FUNCTION " + fn +
          "(statement text, args text[], settings text[]) RETURNS bigint"
          " LANGUAGE plpgsql SECURITY DEFINER"
          " SET search_path = pg_catalog, pg_temp"
          " SET datestyle = 'ISO' SET intervalstyle = 'postgres' SET timezone = 'UTC'"
          " SET lc_monetary = 'C' SET extra_float_digits = 3 SET bytea_output = 'hex'"
          " SET standard_conforming_strings = on SET backslash_quote = 'safe_encoding'"
          " SET array_nulls = on SET transform_null_equals = off SET xmloption = 'content'"
          " AS $pgdts$\n"
          "DECLARE\n"
          "  n bigint;\n"
          "BEGIN\n"
          "  FOR i IN 1 .. coalesce(pg_catalog.array_length(settings, 1), 0) / 2 LOOP\n"
          "    PERFORM pg_catalog.set_config(settings[2 * i - 1], settings[2 * i], true);\n"
          "  END LOOP;\n"
          "  IF args IS NULL THEN\n"
          "    EXECUTE statement;\n"
          "  ELSE\n"
          "    EXECUTE statement USING args;\n"
          "  END IF;\n"
          "  GET DIAGNOSTICS n = ROW_COUNT;\n"
          "  RETURN n;\n"
          "END\n"
          "$pgdts$",
      "ALTER FUNCTION " + signature + " OWNER TO " + pg::quote_identifier(role.name),
      "REVOKE ALL ON FUNCTION " + signature + " FROM PUBLIC",
      "COMMENT ON FUNCTION " + signature + " IS " +
          "'pgdts: runs what the source sent with the rights of role " +
          [&] {
            std::string n;
            for (char c : role.name) n += c == '\'' ? std::string("''") : std::string(1, c);
            return n;
          }() +
          "'",
  };
}

std::string session_settings_sql() {
  // What pgdts' own statements depend on. role is left out: nothing can
  // change it inside a SECURITY DEFINER function.
  static const char* const kSettings[] = {
      "search_path",   "client_encoding",      "DateStyle",       "IntervalStyle",
      "TimeZone",      "extra_float_digits",   "bytea_output",    "standard_conforming_strings",
      "array_nulls",   "transform_null_equals", "backslash_quote", "xmloption",
      "lc_monetary",   "session_replication_role"};
  std::string sql = "pg_catalog.concat_ws(E'\\n'";
  for (const char* name : kSettings) sql += std::string(", pg_catalog.current_setting('") + name + "')";
  return sql + ")";
}

std::string run_as_call(const RoleFacts& role) {
  std::string fn = run_as_function(role);
  std::string oid = std::to_string(role.oid);
  // Three levels, each OFFSET 0 so the planner keeps them apart and in
  // order: the function is checked to be what pgdts made it before it runs
  // (its owner may have altered it since: SECURITY INVOKER would run its
  // body as pgdts), the session after it. run_as_refused is volatile, so
  // the planner never evaluates it ahead of its branch.
  return "SELECT 1 FROM (SELECT CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_prepared_statements s"
         " WHERE s.prepare_time >= pg_catalog.statement_timestamp()) OR " +
         session_settings_sql() +
         " IS DISTINCT FROM $4 THEN \"pgdts\".run_as_refused('pgdts: code run as role ' || $5 ||"
         " ' changed the apply session (prepared a statement or changed a setting); it is not"
         " trusted further') ELSE g.n END AS n FROM (SELECT CASE WHEN EXISTS (SELECT FROM"
         " pg_catalog.pg_proc p WHERE p.oid = '" +
         fn + "(text, text[], text[])'::pg_catalog.regprocedure AND p.prosecdef AND p.proowner = " +
         oid +
         ") THEN " + fn +
         "($1, $2, $3) ELSE \"pgdts\".run_as_refused('pgdts: ' || $5 || ' altered " + fn +
         ", which runs its statements; it is not trusted further') END AS n OFFSET 0) g"
         " OFFSET 0) h WHERE h.n > 0";
}

std::string with_array_parameters(std::string_view sql, const std::vector<std::string>& types) {
  std::string out;
  out.reserve(sql.size() + types.size() * 24);
  bool quoted = false;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (c == '"') quoted = !quoted;
    if (quoted || c != '$' || i + 1 >= sql.size() || sql[i + 1] < '0' || sql[i + 1] > '9') {
      out += c;
      continue;
    }
    std::size_t k = 0, j = i + 1;
    for (; j < sql.size() && sql[j] >= '0' && sql[j] <= '9'; ++j) k = k * 10 + (sql[j] - '0');
    out += "($1)[" + std::to_string(k) + "]";
    if (k >= 1 && k <= types.size() && !types[k - 1].empty()) out += "::" + types[k - 1];
    i = j - 1;
  }
  return out;
}

std::string parameters_as_text_array(const ParamBuffer& params) {
  static const char kHex[] = "0123456789abcdef";
  std::string out = "{";
  for (int i = 0; i < params.size(); ++i) {
    if (i) out += ',';
    const char* v = params.values()[i];
    if (!v) {
      out += "NULL";
      continue;
    }
    out += '"';
    if (params.formats()[i] == 1) {  // bytea, its raw bytes
      out += "\\\\x";
      for (int b = 0; b < params.lengths()[i]; ++b) {
        unsigned char u = static_cast<unsigned char>(v[b]);
        out += kHex[u >> 4];
        out += kHex[u & 15];
      }
    } else {
      for (const char* p = v; *p; ++p) {
        if (*p == '"' || *p == '\\') out += '\\';
        out += *p;
      }
    }
    out += '"';
  }
  return out + "}";
}

}  // namespace pgdts::apply
