// Which pieces full sync copies, and in which order: pure logic.
//
// A table larger than the chunk size is split into block ranges of about
// that size (ctid >= '(a,0)' AND ctid < '(b,0)', the last range open-ended so
// that pages added after the size was read are copied too). The chunk size
// is a share of the whole copy: total size / (2 × jobs), kept between
// min_chunk_bytes (default 32 MB: below that a chunk's transaction and
// statement cost more than the parallelism gains) and max_chunk_bytes
// (default 256 MB: bounds one destination transaction). So with 4 jobs a
// table holding most of the data becomes at least 8 ranges and keeps every
// job busy, while many mid-sized tables are copied whole, one job each.
// Tables are queued biggest first, each table's ranges together, so the big
// table starts at once and the small ones fill the gaps at the end.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pgdts::fullsync {

struct PlanInput {
  std::int64_t pages = 0;           // the table's size in blocks
  std::int64_t bytes = 0;           // its size in bytes (pages × block size)
  bool whole = false;               // never split (e.g. --conflict ignore)
};

struct PlanOptions {
  int jobs = 1;
  std::int64_t min_chunk_bytes = 32LL << 20;
  std::int64_t max_chunk_bytes = 256LL << 20;
};

// One piece of work: a whole table (no block bounds) or a block range.
struct Chunk {
  std::size_t table = 0;            // index into the planned tables
  int index = 0, count = 1;         // index-th of count chunks of the table
  std::optional<std::int64_t> first_block, end_block;  // [first, end); nullopt: open
  bool whole() const { return count == 1; }
};

std::int64_t chunk_bytes(const std::vector<PlanInput>& tables, const PlanOptions& options);

// The work queue, biggest tables first.
std::vector<Chunk> plan_chunks(const std::vector<PlanInput>& tables, const PlanOptions& options);

// The WHERE condition of a chunk ("" for a whole table).
std::string ctid_condition(const Chunk& chunk);

}  // namespace pgdts::fullsync
