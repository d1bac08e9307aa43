// Row comparison of verify (see row_diff.h).
#include "verify/row_diff.h"

namespace pgdts::verify {

std::vector<Key> differing_keys(const KeyedRows& source, const KeyedRows& target) {
  std::vector<Key> out;
  auto s = source.begin();
  auto t = target.begin();
  // Both maps are sorted by key: one merge pass.
  while (s != source.end() || t != target.end()) {
    if (t == target.end() || (s != source.end() && s->first < t->first)) {
      out.push_back((s++)->first);
    } else if (s == source.end() || t->first < s->first) {
      out.push_back((t++)->first);
    } else {
      if (s->second != t->second) out.push_back(s->first);
      ++s;
      ++t;
    }
  }
  return out;
}

std::vector<RowCount> differing_rows(const RowMultiset& source, const RowMultiset& target) {
  std::vector<RowCount> out;
  auto s = source.begin();
  auto t = target.begin();
  while (s != source.end() || t != target.end()) {
    if (t == target.end() || (s != source.end() && s->first < t->first)) {
      out.push_back({s->first, s->second, 0});
      ++s;
    } else if (s == source.end() || t->first < s->first) {
      out.push_back({t->first, 0, t->second});
      ++t;
    } else {
      if (s->second != t->second) out.push_back({s->first, s->second, t->second});
      ++s;
      ++t;
    }
  }
  return out;
}

bool settles(const std::optional<std::string>& target, const std::optional<std::string>& before,
             const std::optional<std::string>& after) {
  return target == before || target == after;
}

}  // namespace pgdts::verify
