#include "apply/row_batcher.h"

#include <algorithm>

namespace pgdts::apply {

void RowBatcher::add(const std::shared_ptr<const stream::Relation>& rel,
                        const pgdts::Tuple& row, pg::Lsn lsn) {
  auto it = std::find_if(tables_.begin(), tables_.end(),
                         [&](const Table& t) { return t.rel->oid == rel->oid; });
  if (it == tables_.end()) {
    tables_.push_back(Table{rel, {}});
    it = tables_.end() - 1;
  }
  it->rows.push_back(Held{row, lsn});
  ++rows_;
  bytes_ += row.ByteSizeLong();
}

bool RowBatcher::holds(std::uint32_t oid) const {
  return std::any_of(tables_.begin(), tables_.end(),
                     [&](const Table& t) { return t.rel->oid == oid; });
}

RowBatcher::Table RowBatcher::take(std::uint32_t oid) {
  auto it = std::find_if(tables_.begin(), tables_.end(),
                         [&](const Table& t) { return t.rel->oid == oid; });
  if (it == tables_.end()) return {};
  Table t = std::move(*it);
  tables_.erase(it);
  rows_ -= t.rows.size();
  if (tables_.empty()) bytes_ = 0;
  return t;
}

std::vector<RowBatcher::Table> RowBatcher::take_all() {
  std::vector<Table> all;
  all.swap(tables_);
  rows_ = bytes_ = 0;
  return all;
}

}  // namespace pgdts::apply
