// Schema sync: the selected tables of the source, with the types, sequences,
// constraints and indexes they need, created on the destination.
//
//   catalog.cpp   reads the model (SourceSchema) from the source's catalogs
//   ddl.cpp       turns the model into destination DDL text (pure, unit-tested)
//   apply.cpp     runs that DDL on the destination, idempotently, and syncs
//                 sequence values
//
// Names: schemas, tables and the schemas of copied types are written mapped
// (model::NameMap). Columns are created with their *source* names and renamed
// to their mapped names as the very last step of create_post_data, so that
// every expression that refers to them (CHECK, generated columns, partition
// keys, index expressions and predicates) is rewritten by PostgreSQL itself.
// Until then full sync copies into the source column names.
//
// Expression texts are printed on the source with search_path = pg_catalog,
// the table's own schema, the task's other schemas (objects of task schemas
// print unqualified unless a name is ambiguous) and run on the destination
// with the same path mapped, then public (SourceSchema::path_schemas).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "rights/ownership.h"
#include "model/selection.h"
#include "model/transform.h"

namespace pgdts::pg {
class Connection;
}

namespace pgdts::schema {

// A type as a column (or a domain, or a composite attribute) uses it.
struct TypeUse {
  std::string sql;  // format_type() with search_path = pg_catalog: anything
                    // outside pg_catalog is schema-qualified
  // Set when the type (or the element type of an array) is a user type that
  // the task copies: it is then written with its mapped schema.
  std::optional<model::TableName> user_type;
  bool array = false;  // the column is an array of user_type
};

// One entry of an object's ACL on the source (aclexplode).
struct Grant {
  std::string grantee;    // role name; empty: PUBLIC
  std::string privilege;  // aclexplode's privilege_type: SELECT, USAGE, ...
  bool grantable = false;
};

// Who owns an object on the source, and what it grants to others. Role names
// are the source's, written by whoever could create a role there: they reach
// SQL only quoted.
struct Access {
  std::string owner;
  // Empty when the ACL is the default one. Entries of the owner itself are
  // left out: an owner has every privilege until it revokes its own.
  std::vector<Grant> grants;
};

struct Column {
  std::string name;        // source name
  bool generated = false;  // GENERATED ... STORED: not copied
  int attnum = 0;
  TypeUse type;
  std::optional<std::string> collation;  // qualified, only when not the type's default
  bool not_null = false;
  std::optional<std::string> default_expr;     // pg_get_expr; the generation expression when generated
  std::optional<model::TableName> default_sequence;  // default is nextval() of this sequence
  char identity = '\0';                        // 'a' ALWAYS, 'd' BY DEFAULT
  std::optional<model::TableName> identity_sequence;
  // Not on the source: a column expression (--transform) gives the
  // destination this column (add_expression_columns); attnum is 0.
  bool expression_only = false;
};

// PRIMARY KEY, UNIQUE, EXCLUDE, CHECK or FOREIGN KEY.
struct Constraint {
  std::string name;
  char type = 'c';         // pg_constraint.contype: p u x c f
  std::string definition;  // pg_get_constraintdef (p u x c); FKs are rebuilt from the fields below
  // Foreign keys:
  std::vector<std::string> columns;
  model::TableName referenced;
  std::vector<std::string> referenced_columns;
  char on_update = 'a', on_delete = 'a', match = 's';
  bool deferrable = false, deferred = false, validated = true;
};

struct Index {
  std::string name;
  bool unique = false;
  std::string method_and_keys;  // pg_get_indexdef from "USING": "btree (lower(email)) WHERE ..."
};

struct Table {
  model::TableName name;  // source name
  std::uint32_t oid = 0;
  char relkind = 'r';  // 'r' ordinary (also a leaf partition) or 'p' partitioned
  // Set when the table is a partition and its parent is part of the task.
  std::optional<model::TableName> partition_parent;
  std::vector<Column> columns;  // in attnum order, dropped columns left out
  std::int64_t pages = 0;          // relpages, for chunking
  std::int64_t rows_estimate = 0;  // reltuples (0 when unknown)
  std::int64_t bytes = 0;          // pg_relation_size
  bool has_key = false;            // PRIMARY KEY or REPLICA IDENTITY INDEX
  char replica_identity = 'd';
  std::optional<std::string> replica_identity_index;  // when replica_identity is 'i'
  bool unlogged = false;
  std::optional<std::string> reloptions;     // "fillfactor=70, ..." (WITH (...))
  std::optional<std::string> partition_key;  // pg_get_partkeydef, relkind 'p'
  std::optional<std::string> partition_bound;  // "FOR VALUES ..." or "DEFAULT"
  // Local ones only when partition_parent is set: what the parent passes down
  // is created once, on the parent.
  std::vector<Constraint> constraints;
  std::vector<Index> indexes;  // not those behind a constraint
  Access access;
};

struct Sequence {
  model::TableName name;
  std::uint32_t oid = 0;
  std::string type_sql = "bigint";
  std::int64_t start = 1, increment = 1, min = 1, max = 0, cache = 1;
  bool cycle = false;
  // OWNED BY (serial) or identity of a selected table's column.
  std::optional<model::TableName> owner_table;
  std::string owner_column;
  bool identity = false;  // created by its identity column, not on its own
  // An owned or identity sequence follows its table's owner; its grants are
  // its own.
  Access access;
};

struct UserType {
  model::TableName name;
  std::uint32_t oid = 0;
  char kind = 'e';                  // pg_type.typtype: e enum, d domain, c composite
  std::vector<std::string> labels;  // enum, in sort order
  // Domain:
  TypeUse base;
  std::optional<std::string> collation;
  std::optional<std::string> default_expr;
  bool not_null = false;
  std::vector<Constraint> checks;
  // Composite:
  struct Attribute {
    std::string name;
    TypeUse type;
    std::optional<std::string> collation;
  };
  std::vector<Attribute> attributes;
  std::vector<std::uint32_t> depends_on;  // other copied user types
  std::string owner;  // privileges on types (USAGE) are not copied
};

struct SourceSchema {
  std::vector<Table> tables;        // partitioned parents before their partitions
  std::vector<UserType> types;      // each after the types it depends on
  std::vector<Sequence> sequences;  // owned, identity and standalone
  std::vector<std::string> schemas; // source schemas holding anything above
  std::map<std::string, Access> schema_access;  // of each of schemas
  // The task's schemas (of selected tables, and selected schemas), sorted.
  // Expressions were printed with search_path = pg_catalog, <the object's
  // schema>, <the others in this order>, and run on the destination with the
  // same list mapped (then public): every reference into a task schema
  // resolves to the same object, whatever the schema is called there.
  std::vector<std::string> path_schemas;

  const Table* find(const model::TableName& name) const;
};

// The selected tables (a partitioned table selected => all its partitions,
// recursively; a partition whose root is not selected is still a table of its
// own), the user types they use from selected schemas, sequences (owned by /
// identity of selected tables, and standalone sequences in selected schemas),
// constraints and indexes. Read in the caller's transaction: the caller has
// opened REPEATABLE READ with SET TRANSACTION SNAPSHOT on the exported
// snapshot, so the schema matches the copied data. Without --schemas/--tables
// every user schema: not pg_catalog, information_schema, pg_toast*, pg_temp*,
// not the schema of extension pgdts, and no object that belongs to an
// extension. search_path is changed while reading and put back.
SourceSchema read_source_schema(pg::Connection& source, const model::Selection& selection);
// A keyless table's stand-in key: a unique index the source may use as its
// replica identity (not partial, no expression, immediate, valid, every
// column NOT NULL), the narrowest one, for each table of the list that has
// no primary key and the default replica identity.
struct UniqueKey {
  model::TableName table;
  std::string index;  // its name, in the table's schema
  bool may_alter = false;  // this account may ALTER the table (owns it)
};
std::vector<UniqueKey> find_unique_keys(pg::Connection& source, const std::vector<std::uint32_t>& oids);

// The same in a read-only snapshot of its own (or the exported `snapshot`),
// so that the model holds together while the catalogs change.
SourceSchema read_schema_in_snapshot(pg::Connection& conn, const model::Selection& selection,
                                     const std::string& snapshot = "");

// The names an ETL rule may give the table by (docs/etl.md): its own, then
// its partition ancestors in the task, nearest first. A rule on a
// partitioned table applies to its partitions (those created later too, in
// the output plugin), and the nearest rule wins.
std::vector<model::TableName> rule_names(const SourceSchema& schema, const Table& table);

// A column expression for a column its source table lacks adds that column
// on the destination (docs/etl.md): appended to the table's columns, typed
// as the source types the expression (as the output plugin does), so that
// schema sync creates it, full sync copies the expression into it and
// verify compares it. Runs in a transaction of its own on source.
void add_expression_columns(pg::Connection& source, SourceSchema& schema,
                            const std::vector<model::ColumnTransform>& transforms);

// Selected tables that already exist on the destination (mapped names), for
// --conflict precheck.
std::vector<model::TableName> existing_tables(pg::Connection& dest, const SourceSchema&,
                                             const model::NameMap&);

// Who owns what schema sync creates (rights/ownership.h). The destination
// connection's user (normally a superuser) must not: rows are later written
// with the rights of a table's owner, and a source role's ALTER of its own
// table is replayed as that role (rights/run_as.h).
using rights::Ownership;

// Before the data: schemas, types, sequences, tables (columns, types,
// collations, defaults, NOT NULL, CHECK, generated and identity columns,
// PARTITION BY, partitions with their bounds), each created, then given
// its owner under `ownership` and, when owners are kept, its source grants
// to the roles the destination has (others are skipped with a warning log
// event). Idempotent: objects that exist are left alone, and keep their
// owners. Throws pgdts::Error, before creating anything, when a column
// mapping makes two columns of one table collide or a role that is to own
// an object does not exist on the destination. When dest is inside a
// transaction, everything is created in it (the caller commits or rolls
// back); otherwise each type and table in a transaction of its own.
void create_pre_data(pg::Connection& dest, const SourceSchema&, const model::NameMap&,
                     const Ownership& ownership);

// A foreign key created NOT VALID, to be validated later; or, on a
// partitioned table (PostgreSQL refuses NOT VALID there), not created yet.
struct DeferredForeignKey {
  std::string table;       // qualified, quoted: "store"."orders"
  std::string constraint;  // quoted
  std::string create_sql;  // set when the key is still to be created
};

// After the data: PRIMARY KEY, UNIQUE, other indexes, FOREIGN KEYs (to tables
// of the task; an FK to a table outside the task is skipped with a warning log
// event), replica identity, then column renames. Idempotent.
//
// defer_fk_validation: the tables were copied under different snapshots (a
// resumed full sync), so a child row may refer to a parent row that only the
// change stream will bring: the foreign keys the source has valid are
// created NOT VALID (on a partitioned table: not created) and returned, to
// be validated (created) once the stream has passed every copy's position
// (task/deferred_fks.h).
std::vector<DeferredForeignKey> create_post_data(pg::Connection& dest, const SourceSchema&,
                                                 const model::NameMap&,
                                                 bool defer_fk_validation = false);

// ---- sequence values ---------------------------------------------------
// Sequence changes are not in the logical stream. Their values are carried
// by reading the source and moving the destination forward: after full sync
// (sync_sequences), every few seconds during incremental sync
// (apply/sequence_follower.h) and at cutover with a margin (cutover_command).

// A sequence of the task under its source and its destination name.
// Sequences are mapped by schema only: the name stays.
struct SequencePair {
  model::TableName source;
  model::TableName dest;
};

std::vector<SequencePair> task_sequences(const SourceSchema&, const model::NameMap&);

// A sequence's state: nextval() returns last_value itself when !is_called,
// else last_value + increment.
struct SequenceValue {
  std::int64_t last_value = 0;
  bool is_called = false;
};

// A destination sequence's own parameters.
struct SequenceBounds {
  std::int64_t increment = 1;
  std::int64_t min = 1;
  std::int64_t max = INT64_MAX;
};

// Where the destination sequence must stand so that it hands out the
// source's next value plus `margin` increments: (source last_value + margin *
// increment, source is_called). nullopt when it already stands there or
// further on (in the direction of its increment): sequences never go back.
// Throws Error naming `name` when that value lies outside the sequence's
// MINVALUE..MAXVALUE. Pure, unit-tested.
std::optional<SequenceValue> sequence_target(const SequenceValue& dest, const SequenceValue& source,
                                             const SequenceBounds& bounds, std::int64_t margin,
                                             const std::string& name);

struct SequenceMove {
  SequencePair sequence;
  SequenceValue source;         // as read on the source
  SequenceValue before, after;  // the destination's; equal when unchanged
  bool found = false;           // false: no such sequence on the destination
  bool changed = false;
};

// Moves every destination sequence of the list forward to the source's value
// plus `margin` increments (never back): the source's values are read in one
// query, the destination's in one, and the changed ones set in one
// statement, after every target was found within its sequence's bounds (else
// Error naming the sequence, and nothing is set). A sequence missing on the
// destination is left alone (found = false). Throws SqlError when a source
// sequence cannot be read (dropped since the list was made).
std::vector<SequenceMove> advance_sequences(pg::Connection& source, pg::Connection& dest,
                                            const std::vector<SequencePair>& sequences,
                                            std::int64_t margin);

// After full sync: every destination sequence at least at the source's
// current value (advance_sequences with no margin), logged.
void sync_sequences(pg::Connection& source, pg::Connection& dest, const SourceSchema&,
                    const model::NameMap&);

}  // namespace pgdts::schema
