// Destination DDL generated from the schema model, with names mapped. Pure
// text generation (no connection): quoting comes in as functions, so the unit
// tests can run it without a server.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "schema/schema_sync.h"

namespace pgdts::schema {

struct Quoting {
  std::function<std::string(std::string_view)> identifier;
  std::function<std::string(std::string_view)> literal;
};

// A statement and the object it creates, for idempotence checks and messages.
struct Statement {
  enum class Kind { schema, type, sequence, table, constraint, index, foreign_key, replica_identity, owned_by };
  Kind kind;
  std::string object;  // constraint or index name; else the qualified name
  std::string sql;
};

// Who gets what on the destination: the ownership policy, and the roles of
// the destination among those the source's objects name.
struct AccessPolicy {
  Ownership ownership;
  std::set<std::string> roles;
};

// A grant left out because its grantee is not a destination role.
struct SkippedGrant {
  std::string object;  // as in the GRANT: TABLE "s"."t"
  std::string grantee;
};

class DdlWriter {
 public:
  DdlWriter(const SourceSchema& schema, const model::NameMap& map, Quoting q)
      : schema_(schema), map_(map), q_(std::move(q)) {}

  // "schema"."name" with the schema mapped and the name as is (types,
  // sequences) or mapped (tables).
  std::string qualified_table(const model::TableName& source) const;
  std::string qualified_in_mapped_schema(const model::TableName& source) const;
  std::string type_sql(const TypeUse& type) const;

  std::string create_schema(const std::string& source_schema) const;
  std::vector<std::string> create_type(const UserType& type) const;
  std::string create_sequence(const Sequence& seq) const;  // without OWNED BY
  std::string sequence_options(const Sequence& seq) const;
  // CREATE TABLE (or CREATE TABLE ... PARTITION OF) and what a partition adds
  // to its parent's definition (defaults, NOT NULL, local CHECKs).
  std::vector<std::string> create_table(const Table& table) const;
  // ALTER SEQUENCE ... OWNED BY for the serial sequences of the table.
  std::vector<std::string> owned_by(const Table& table) const;
  // What gives a created object its owner and privileges under the policy:
  // ALTER ... OWNER TO, then GRANTs (only when owners are kept; those to a
  // role the destination lacks go to skipped). An owned or identity sequence
  // gets nothing of its own: its table's owner change carries it along, and
  // table_access grants on it. Throws pgdts::Error on a privilege it does
  // not know.
  std::vector<std::string> schema_access(const std::string& source_schema, const AccessPolicy& policy,
                                         std::vector<SkippedGrant>* skipped) const;
  std::vector<std::string> type_access(const UserType& type, const AccessPolicy& policy) const;
  std::vector<std::string> sequence_access(const Sequence& seq, const AccessPolicy& policy,
                                           std::vector<SkippedGrant>* skipped) const;
  std::vector<std::string> table_access(const Table& table, const AccessPolicy& policy,
                                        std::vector<SkippedGrant>* skipped) const;
  // Post-data statements of a table in order: PRIMARY KEY/UNIQUE/EXCLUDE,
  // indexes, replica identity. Foreign keys separately (they need every
  // referenced key first).
  std::vector<Statement> keys_and_indexes(const Table& table) const;
  // The FKs of a table; those referencing tables outside the task are returned
  // in skipped (constraint name, referenced table) instead.
  std::vector<Statement> foreign_keys(const Table& table,
                                      std::vector<std::pair<std::string, model::TableName>>* skipped) const;

  // ALTER TABLE ... RENAME COLUMN statements (source name -> mapped name), in
  // an order that never collides (through temporary names when the mapping
  // permutes names). Throws pgdts::Error naming table and columns when two
  // columns map to one name. Partitions are renamed through their parent.
  struct Rename {
    std::string from, to;
  };
  std::vector<Rename> column_renames(const Table& table) const;
  std::string rename_column(const Table& table, const Rename& r) const;

  // search_path for statements of an object of source_schema on the
  // destination: pg_catalog, its mapped schema, the task's other schemas
  // mapped, public.
  std::string search_path(const std::string& source_schema) const;

 private:
  // kind: TABLE, SEQUENCE, SCHEMA, TYPE or DOMAIN (the word of both ALTER
  // and GRANT ... ON); object quoted.
  std::vector<std::string> access(const std::string& kind, const std::string& object, const Access& access,
                                  const AccessPolicy& policy, std::vector<SkippedGrant>* skipped) const;
  std::vector<std::string> grants(const std::string& kind, const std::string& object, const Access& access,
                                  const AccessPolicy& policy, std::vector<SkippedGrant>* skipped) const;

  const SourceSchema& schema_;
  model::NameMap map_;
  Quoting q_;
};

// The task's schemas with own first (the order of search_path after
// pg_catalog when expressions of an object of schema own are printed or run).
std::vector<std::string> expression_path(const std::vector<std::string>& path_schemas,
                                         const std::string& own);

// Throws pgdts::Error when a mapping makes two columns of one table collide.
void check_column_collisions(const SourceSchema& schema, const model::NameMap& map);

}  // namespace pgdts::schema
