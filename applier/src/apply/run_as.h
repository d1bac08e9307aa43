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

#include "apply/value_format.h"

namespace pgdts::apply {

// A role of the destination.
struct RoleFacts {
  std::string name;
  bool exists = false;
  bool superuser = false;
  std::uint32_t oid = 0;
};

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
// role's name (for the error). Returns one row when the statement touched
// a row, none otherwise (so a pipelined UPDATE's "row not found" check
// works through it).
std::string run_as_call(const RoleFacts& role);

// sql with each parameter $k written as ($1)[k]::type (types[k-1]), so that
// it reads its parameters from one text[]: what the function passes on.
// Parameters are recognized outside double-quoted identifiers (the
// applier's statements hold no string literals).
std::string with_array_parameters(std::string_view sql, const std::vector<std::string>& types);

// The parameters as one text[] literal: text forms, bytea as \x hex, NULL
// as NULL.
std::string parameters_as_text_array(const ParamBuffer& params);

}  // namespace pgdts::apply
