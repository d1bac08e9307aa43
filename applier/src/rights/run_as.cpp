#include "rights/run_as.h"

#include "logging/log.h"
#include "pg/literals.h"
#include "pg/transaction.h"

namespace pgdts::rights {

RoleFacts read_role(pg::Connection& conn, const std::string& name) {
  RoleFacts f;
  f.name = name;
  pg::Result r =
      conn.exec("SELECT oid, rolsuper FROM pg_catalog.pg_roles WHERE rolname = $1", {name.c_str()});
  if (r.rows() == 1) {
    f.exists = true;
    f.oid = static_cast<std::uint32_t>(pg::to_int64(r.value(0, 0)));
    f.superuser = r.value(0, 1) == "t";
  }
  return f;
}

void provide_run_as(pg::Connection& conn, const RoleFacts& role) {
  pg::Transaction txn(conn);
  for (const auto& sql : run_as_definition(role)) conn.exec(sql);
  txn.commit();
  log::Event("run_as_ready")
      .field("role", role.name)
      .field("function", run_as_function(role))
      .debug();
}

std::string session_settings(pg::Connection& conn) {
  return std::string(conn.exec("SELECT " + session_settings_sql()).value(0, 0));
}

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
  return "SELECT h.n FROM (SELECT CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_prepared_statements s"
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

}  // namespace pgdts::rights
