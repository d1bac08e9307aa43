// What writing a row of a destination table runs, and with whose rights
// (docs/security.md): its owner, and the code a source role could have
// written that its constraints, defaults, generated columns, indexes,
// domains, partition keys, policies, triggers and rules evaluate.
#pragma once

#include <string>
#include <vector>

#include "pg/connection.h"

namespace pgdts::rights {

struct TableRights {
  bool found = false;
  std::string owner;
  bool owner_superuser = false;
  // What runs that a source role could have written, for the log ("" when
  // nothing does): such rows are written through run_as of the owner.
  std::string code;
  bool runs_code() const { return !code.empty(); }
};

// Reads only the catalogs, taking no lock on the table: the caller's other
// session may hold one (a replayed DDL not yet committed). sent_columns:
// the columns written (the defaults of the others are evaluated);
// replica_role: the writing session runs with session_replication_role =
// replica (which triggers and rules fire depends on it).
TableRights read_table_rights(pg::Connection& conn, const std::string& schema,
                              const std::string& name, const std::vector<std::string>& sent_columns,
                              bool replica_role);

}  // namespace pgdts::rights
