// Names in one captured DDL statement: which source objects it names (as the
// source resolved them), and their destination spelling.
//
// Relation names the statement wrote without a schema resolve to what the
// source resolved them to: the record's `resolved` list (the capture asked
// the source's catalog), then the objects the command touched (its object
// identities), then the tables the stream described in the search_path (a
// record of an older plugin), and only then the search_path alone. Every
// relation name resolved from the source's own answers is written out
// qualified with its mapped schema, so the destination never resolves it
// again through a search_path.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "pg_query.pb.h"
#include "pgdts.pb.h"
#include "model/selection.h"

namespace pgdts::ddl {

// The tables a planner knows of, by source name (see Planner).
struct KnownTables {
  const std::set<model::TableName>& start;  // selected at start
  const std::set<model::TableName>& seen;   // described by the stream
  const std::set<model::TableName>& joined; // joined through DDL
  bool contains(const model::TableName& t) const {
    return start.count(t) || seen.count(t) || joined.count(t);
  }
};

class Rewriter {
 public:
  Rewriter(const model::NameMap& names, const KnownTables& known, const pgdts::Ddl& record);

  // Set when a name in the tree was changed: the statement is deparsed.
  bool changed = false;

  // The source table (or index, sequence) a RangeVar or a qualified name
  // list stands for.
  model::TableName resolve(const pg_query::RangeVar& rv) const;
  model::TableName resolve(const std::vector<std::string>& comps) const;
  // The source schema of a non-relation object named by comps (a function,
  // type, view...): its own schema part, else the schema of the object the
  // record names alike (the command's objects), else the command's main
  // object's schema.
  std::string object_schema(const std::vector<std::string>& comps) const;

  void set(std::string* field, const std::string& value);
  std::string column(const model::TableName& table, const std::string& name) const;
  void map_column(const model::TableName& table, std::string* name);
  void map_columns(const model::TableName& table,
                   google::protobuf::RepeatedPtrField<pg_query::Node>* items);

  // A RangeVar naming the source table t: mapped, and qualified when the
  // source's resolution is known.
  void map_table(pg_query::RangeVar* rv, const model::TableName& t);
  // A RangeVar naming an index or a sequence: its (resolved) schema is
  // mapped; its own name is kept (indexes and sequences are not renamed).
  void map_schema(pg_query::RangeVar* rv);
  // A name list of a relation (DROP TABLE's objects, OWNED BY).
  void map_table(google::protobuf::RepeatedPtrField<pg_query::Node>* comps,
                 const model::TableName& t);
  // A name list of another object: qualified with its mapped schema.
  void qualify(google::protobuf::RepeatedPtrField<pg_query::Node>* comps,
               const std::string& source_schema);

  // Maps every name below m: tables in RangeVars, schemas of qualified type
  // and function names, and, with a table, the column names of it.
  void walk(google::protobuf::Message* m, const model::TableName* table);
  void skip_below(const google::protobuf::Message* m) { done_.insert(m); }

  // The source's search_path with each schema mapped, pg_temp last: what
  // functions, types and operators the statement names resolve through.
  std::vector<std::string> mapped_search_path() const;

  // The name the source gave the object the command created (an index
  // created without a name), from the record's identities.
  std::string created_name() const;

 private:
  // The source schema of an unqualified relation name; sure: it came from
  // the source's own resolution (resolved list, identities, known tables).
  std::string resolve_schema(const std::string& relname, bool* sure) const;

  const model::NameMap& names_;
  const KnownTables& known_;
  const pgdts::Ddl& record_;
  std::vector<std::string> path_;
  std::vector<std::vector<std::string>> identities_;
  std::set<const google::protobuf::Message*> done_;
};

bool is_system_schema(const std::string& schema);
std::vector<std::string> strings_of(
    const google::protobuf::RepeatedPtrField<pg_query::Node>& items);

}  // namespace pgdts::ddl
