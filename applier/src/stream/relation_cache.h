// Relations as the stream describes them (RELATION records), by OID. The
// plugin sends a relation before its first change in a stream and again
// after its definition changed; every change refers to it by OID.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "pgdts.pb.h"

namespace pgdts::stream {

struct Column {
  std::string name;
  std::uint32_t type_oid = 0;
  std::int32_t type_modifier = -1;
  std::string type_name;
  bool is_key = false;
};

struct Relation {
  std::uint32_t oid = 0;
  // Destination names (schema, name, column names) start as the source's;
  // the applier maps them (apply/task_scope.h).
  std::string schema;
  std::string name;
  std::string source_schema;
  std::string source_name;
  bool in_task = true;
  // Changes of transactions whose commit record lies before this position
  // are in the table's full-sync copy already.
  std::uint64_t copied_at = 0;
  // A table a wider selection added, whose copy runs beside the stream
  // (apply/task_scope.h): its changes from copied_at on must wait for it.
  bool copying = false;
  pgdts::ReplicaIdentity identity = pgdts::REPLICA_IDENTITY_DEFAULT;
  std::vector<Column> columns;
  std::vector<int> key_columns;  // indexes into columns, in column order
  // Distinct for every definition a session sees: statements prepared for
  // one definition are never used for another.
  std::uint64_t version = 0;
  std::string display_name;  // schema.name, for logs and messages
};

class RelationCache {
 public:
  // Stores (or replaces) the relation the record describes; adjust, when
  // given, may rename it before it is stored. A description equal to the
  // stored one keeps the stored relation and its version.
  const Relation& update(const pgdts::Relation& record,
                         const std::function<void(Relation&)>& adjust = {});
  // nullptr when the stream has not described the relation.
  const Relation* find(std::uint32_t oid) const;
  // Like find(), but a change for an undescribed relation is a protocol
  // error: throws Error naming the OID and the LSN.
  const Relation& get(std::uint32_t oid, std::uint64_t lsn) const;
  // Keeps the relation alive for a holder that outlives updates.
  std::shared_ptr<const Relation> share(std::uint32_t oid) const;

 private:
  std::unordered_map<std::uint32_t, std::shared_ptr<const Relation>> relations_;
  std::uint64_t next_version_ = 1;
};

}  // namespace pgdts::stream
