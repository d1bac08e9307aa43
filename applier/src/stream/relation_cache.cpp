#include "stream/relation_cache.h"

#include "error.h"
#include "pg/lsn.h"

namespace pgdts::stream {
namespace {

bool same_definition(const Relation& a, const Relation& b) {
  if (a.schema != b.schema || a.name != b.name || a.source_schema != b.source_schema ||
      a.source_name != b.source_name || a.identity != b.identity || a.in_task != b.in_task ||
      a.copied_at != b.copied_at || a.columns.size() != b.columns.size())
    return false;
  for (std::size_t i = 0; i < a.columns.size(); ++i) {
    const Column &x = a.columns[i], &y = b.columns[i];
    if (x.name != y.name || x.type_oid != y.type_oid || x.type_modifier != y.type_modifier ||
        x.type_name != y.type_name || x.is_key != y.is_key)
      return false;
  }
  return true;
}

}  // namespace

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
  rel->display_name = rel->schema + "." + rel->name;
  if (adjust) adjust(*rel);
  auto& slot = relations_[rel->oid];
  // The plugin describes a relation again after every invalidation of its
  // cache entry (ANALYZE, a DDL elsewhere): an unchanged description keeps
  // its version, so the statements prepared for it stay in use.
  if (slot && same_definition(*slot, *rel)) return *slot;
  rel->version = next_version_++;
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
