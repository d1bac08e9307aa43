#include "apply/update_merger.h"

#include <algorithm>
#include <cstring>

namespace pgdts::apply {

// The key columns' values as bytes: kind, then the value (length-prefixed
// when variable). Two rows have the same key exactly when these bytes match.
void UpdateMerger::encode_key(const stream::Relation& rel, const pgdts::Tuple& row) {
  key_.clear();
  auto put = [this](const void* p, std::size_t n) { key_.append(static_cast<const char*>(p), n); };
  for (int col : rel.key_columns) {
    const pgdts::Value& v = row.values(col);
    char kind = static_cast<char>(v.kind_case());
    key_ += kind;
    switch (v.kind_case()) {
      case pgdts::Value::kIntValue: {
        std::int64_t x = v.int_value();
        put(&x, sizeof x);
        break;
      }
      case pgdts::Value::kFloatValue: {
        double x = v.float_value();
        put(&x, sizeof x);
        break;
      }
      case pgdts::Value::kBoolValue:
        key_ += v.bool_value() ? '1' : '0';
        break;
      case pgdts::Value::kBinaryValue:
      case pgdts::Value::kTextValue: {
        const std::string& s =
            v.kind_case() == pgdts::Value::kTextValue ? v.text_value() : v.binary_value();
        std::uint64_t n = s.size();
        put(&n, sizeof n);
        key_ += s;
        break;
      }
      default:
        break;
    }
  }
}

bool UpdateMerger::add(const std::shared_ptr<const stream::Relation>& rel,
                       const pgdts::Tuple& new_row, pg::Lsn lsn) {
  auto [it, fresh] = tables_.try_emplace(rel->oid);
  Table& t = it->second;
  if (fresh) {
    t.rel = rel;
    order_.push_back(rel->oid);
  }
  encode_key(*rel, new_row);
  std::size_t size = new_row.ByteSizeLong();
  auto found = t.by_key.find(key_);
  if (found != t.by_key.end()) {
    Held& h = t.rows[found->second];
    h.row.CopyFrom(new_row);
    h.lsn = lsn;
    bytes_ += size;  // an upper bound: the replaced copy is not subtracted
    return true;
  }
  t.by_key.emplace(key_, t.rows.size());
  t.rows.push_back(Held{new_row, lsn});
  ++rows_;
  bytes_ += size;
  return false;
}

void UpdateMerger::drain(std::uint32_t oid, const Emit& emit) {
  auto it = tables_.find(oid);
  if (it == tables_.end()) return;
  Table t = std::move(it->second);
  tables_.erase(it);
  order_.erase(std::remove(order_.begin(), order_.end(), oid), order_.end());
  rows_ -= t.rows.size();
  emit(*t.rel, t.rows);
  if (tables_.empty()) bytes_ = 0;
}

void UpdateMerger::drain_all(const Emit& emit) {
  std::vector<std::uint32_t> order;
  order.swap(order_);
  for (std::uint32_t oid : order) drain(oid, emit);
  clear();
}

void UpdateMerger::clear() {
  tables_.clear();
  order_.clear();
  rows_ = bytes_ = 0;
}

}  // namespace pgdts::apply
