// Running what the source sent with the rights of a destination role, never
// with those of pgdts' own connection (docs/security.md).
//
// PostgreSQL 16's apply worker switches to the table owner with
// SECURITY_RESTRICTED_OPERATION, which a client cannot. A plain SET ROLE
// does not contain code: a function that runs under it may RESET ROLE, or
// set_config('role', ...), and be the session's superuser again. What a
// client can use is a SECURITY DEFINER function owned by the role: inside
// it PostgreSQL refuses SET ROLE, RESET ROLE and SET SESSION AUTHORIZATION
// ("cannot set parameter within security-definer function"). So code the
// source decides (replayed DDL; rows of a table whose constraints, indexes,
// defaults, generated columns, domains or partition keys call functions a
// source role could have written) runs inside pgdts.run_as_<role oid>(), one
// per role, created by the applier in the destination's pgdts schema (no
// USAGE for anyone else), owned by that role, executable by nobody else.
//
// Its SET clauses restore the settings pgdts relies on when it returns; the
// call checks in the same statement, before the function, that it is still
// SECURITY DEFINER and owned by the role (its owner can alter it), and
// after it that the code did not prepare statements (which pgdts would
// later execute as itself) or change a setting pgdts relies on: the
// transaction then fails and the session ends.
//
// Rows of tables whose evaluation runs no such code are written under
// SET LOCAL ROLE of their owner: nothing can switch back, since nothing of
// the source's runs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "pg/connection.h"

namespace pgdts::rights {

// A role of the destination.
struct RoleFacts {
  std::string name;
  bool exists = false;
  bool superuser = false;
  std::uint32_t oid = 0;
};

// The destination role named name (exists false when there is none).
RoleFacts read_role(pg::Connection& conn, const std::string& name);

// Creates or refreshes run_as_function(role) in one transaction on conn
// (idle, outside a transaction): in place, or not at all, before a call.
void provide_run_as(pg::Connection& conn, const RoleFacts& role);

// session_settings_sql()'s value on conn: what its calls compare with.
std::string session_settings(pg::Connection& conn);

// "pgdts"."run_as_16385": the function that runs text as role.
std::string run_as_function(const RoleFacts& role);

// The statements that create (or refresh) it, owned by the role. The
// settings in its SET clauses are those the apply session uses.
std::vector<std::string> run_as_definition(const RoleFacts& role);

// An expression over the settings pgdts' own statements depend on: read
// once when the session is set up, compared after every call.
std::string session_settings_sql();

// The call, with the checks around it. Parameters: $1 statement text, $2
// text[] of its parameters (NULL: none), $3 text[] of settings (name,
// value pairs) to run it under, $4 session_settings_sql()'s value in the
// session as pgdts set it up, $5 the
// role's name (for the error). Returns one row, the count of rows the
// statement touched, when it touched any; none otherwise (so a pipelined UPDATE's "row not found" check
// works through it).
std::string run_as_call(const RoleFacts& role);

}  // namespace pgdts::rights
