#include "apply/statement_cache.h"

namespace pgdts::apply {

const Statement* StatementCache::find(std::string_view key) const {
  auto it = statements_.find(key);
  return it == statements_.end() ? nullptr : it->second.get();
}

const Statement& StatementCache::add(std::string_view key, std::string sql, std::string what,
                                     int nparams) {
  auto st = std::make_unique<Statement>();
  st->name = "pgdts_s" + std::to_string(++counter_);
  st->sql = std::move(sql);
  st->what = std::move(what);
  st->nparams = nparams;
  auto [it, inserted] = statements_.emplace(std::string(key), std::move(st));
  return *it->second;
}

}  // namespace pgdts::apply
