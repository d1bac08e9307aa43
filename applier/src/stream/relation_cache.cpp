#include "stream/relation_cache.h"

#include "error.h"
#include "pg/lsn.h"

namespace pgdts::stream {

const Relation& RelationCache::update(const pgdts::Relation& record,
                                      const std::function<void(Relation&)>& adjust) {
  auto rel = std::make_shared<Relation>();
  rel->oid = record.oid();
  rel->schema = record.schema();
  rel->name = record.name();
  rel->source_schema = rel->schema;
  rel->source_name = rel->name;
  rel->identity = record.replica_identity();
  rel->columns.reserve(record.columns_size());
  for (const auto& c : record.columns()) {
    rel->columns.push_back(Column{c.name(), c.type_oid(), c.type_modifier(), c.type_name(), c.is_key()});
    if (c.is_key()) rel->key_columns.push_back(static_cast<int>(rel->columns.size() - 1));
  }
  rel->version = next_version_++;
  rel->display_name = rel->schema + "." + rel->name;
  if (adjust) adjust(*rel);
  auto& slot = relations_[rel->oid];
  slot = std::move(rel);
  return *slot;
}

const Relation* RelationCache::find(std::uint32_t oid) const {
  auto it = relations_.find(oid);
  return it == relations_.end() ? nullptr : it->second.get();
}

const Relation& RelationCache::get(std::uint32_t oid, std::uint64_t lsn) const {
  const Relation* rel = find(oid);
  if (!rel)
    throw Error("change record at source LSN " + pg::format_lsn(lsn) + " refers to relation OID " +
                std::to_string(oid) + ", which the stream has not described");
  return *rel;
}

std::shared_ptr<const Relation> RelationCache::share(std::uint32_t oid) const {
  auto it = relations_.find(oid);
  return it == relations_.end() ? nullptr : it->second;
}

}  // namespace pgdts::stream
