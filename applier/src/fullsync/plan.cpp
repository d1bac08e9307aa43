// Splitting tables into block ranges (see plan.h).
#include "fullsync/plan.h"

#include <algorithm>
#include <numeric>

namespace pgdts::fullsync {

std::int64_t chunk_bytes(const std::vector<PlanInput>& tables, const PlanOptions& options) {
  std::int64_t total = 0;
  for (const auto& t : tables) total += std::max<std::int64_t>(t.bytes, 0);
  int jobs = std::max(options.jobs, 1);
  std::int64_t share = total / (2LL * jobs);
  return std::clamp(share, std::max<std::int64_t>(options.min_chunk_bytes, 1),
                    std::max(options.max_chunk_bytes, options.min_chunk_bytes));
}

std::vector<Chunk> plan_chunks(const std::vector<PlanInput>& tables, const PlanOptions& options) {
  std::int64_t size = chunk_bytes(tables, options);
  std::vector<std::size_t> order(tables.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (tables[a].bytes != tables[b].bytes) return tables[a].bytes > tables[b].bytes;
    return tables[a].pages > tables[b].pages;
  });
  std::vector<Chunk> out;
  for (std::size_t i : order) {
    const PlanInput& t = tables[i];
    std::int64_t count = 1;
    if (!t.whole && t.pages > 1 && t.bytes > size)
      count = std::min<std::int64_t>((t.bytes + size - 1) / size, t.pages);
    if (count <= 1) {
      out.push_back(Chunk{i, 0, 1, std::nullopt, std::nullopt});
      continue;
    }
    std::int64_t per = (t.pages + count - 1) / count;
    count = (t.pages + per - 1) / per;  // no empty trailing ranges
    for (std::int64_t c = 0; c < count; ++c) {
      Chunk chunk{i, static_cast<int>(c), static_cast<int>(count), std::nullopt, std::nullopt};
      if (c > 0) chunk.first_block = c * per;
      if (c + 1 < count) chunk.end_block = (c + 1) * per;
      out.push_back(chunk);
    }
  }
  return out;
}

std::string ctid_condition(const Chunk& chunk) {
  std::string where;
  if (chunk.first_block)
    where += "ctid >= '(" + std::to_string(*chunk.first_block) + ",0)'::pg_catalog.tid";
  if (chunk.end_block) {
    if (!where.empty()) where += " AND ";
    where += "ctid < '(" + std::to_string(*chunk.end_block) + ",0)'::pg_catalog.tid";
  }
  return where;
}

}  // namespace pgdts::fullsync
