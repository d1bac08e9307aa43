// A schema selected as a whole (--schemas) moves with its other objects:
// functions and procedures, views and materialized views, the triggers of
// its tables, and the comments on all of these and on its tables and
// columns. Read from the source in a snapshot, created on the destination
// after the copy (views need their tables, triggers their functions), each
// by the role that owns it (rights/ownership.h) through that role's run_as
// function: nothing the source wrote is created with pgdts' own rights.
//
// Definitions are the source's own printing (pg_get_functiondef,
// pg_get_viewdef with references qualified, pg_get_triggerdef), so they name
// the source's schemas: with a --map or --case that renames anything they are
// left out (logged), as a rename inside a body cannot be done safely.
#pragma once

#include <string>
#include <vector>

#include "model/selection.h"
#include "pg/connection.h"
#include "schema/schema_sync.h"

namespace pgdts::schema {

struct SchemaObject {
  std::string kind;      // function, procedure, view, materialized view, trigger, comment
  std::string identity;  // as pg_identify_object spells it (messages, existence)
  std::string owner;     // source role that owns it (a trigger: its table's owner)
  std::string create_sql;
  // What tells whether it exists on the destination: a regprocedure or
  // regclass text, or "trigger name on table" (empty for comments: they are
  // set again every time).
  std::string exists_as;
};

// The objects of the selected schemas, in an order they can be created in:
// functions and procedures, views (each after those it reads), triggers,
// then comments. Read in one snapshot.
std::vector<SchemaObject> read_schema_objects(pg::Connection& source, const SourceSchema& schema,
                                              const model::Selection& selection);

// Creates the objects the destination lacks; one that fails is logged
// (schema_object_not_created) and the others go on: a view of a table
// outside the task cannot be made, which is no reason to stop the task.
void create_schema_objects(pg::Connection& dest, const std::vector<SchemaObject>& objects,
                           const model::NameMap& map, const Ownership& ownership);

}  // namespace pgdts::schema
