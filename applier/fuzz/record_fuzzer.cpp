// Fuzz target: change records as the replication stream delivers them.
//
// An input is one or more XLogData payloads (what the output plugin sends,
// one protobuf Record each), separated by kNext: several, so that a RELATION
// record can describe the table a later change refers to. Each payload goes
// the way `pgdts sync` and `pgdts stream` take it: RecordDecoder::decode
// (the one decoding entry point), the relation cache, the relation a change
// refers to, the BEGIN format check and the JSON line of `pgdts stream`.
//
// The whole input is also read as one batched message (stream/record_batch.h),
// each frame taken like a payload.
//
// Bad input must end in pgdts::Error (the documented "not a pgdts record",
// "undescribed relation", "format mismatch" errors); anything else escaping
// is a finding, and so is every sanitizer report.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "error.h"
#include "stream/format_version.h"
#include "stream/json_printer.h"
#include "stream/record_batch.h"
#include "stream/record_decoder.h"
#include "stream/relation_cache.h"

namespace {

constexpr std::string_view kNext = "\n#next\n";

using namespace pgdts;

// What the applier asks of a change first: the relation it refers to.
void find_relation(const pgdts::Record& r, const stream::RelationCache& relations, pg::Lsn lsn) {
  switch (r.kind_case()) {
    case pgdts::Record::kInsert: relations.get(r.insert().relation_oid(), lsn); break;
    case pgdts::Record::kUpdate: relations.get(r.update().relation_oid(), lsn); break;
    case pgdts::Record::kDelete: relations.get(r.delete_().relation_oid(), lsn); break;
    default: break;
  }
}

void take_payload(std::string_view payload, pg::Lsn lsn, stream::RecordDecoder& decoder,
                  stream::RelationCache& relations, std::string& out) {
  const pgdts::Record& record = decoder.decode(payload, lsn);
  if (record.has_relation()) relations.update(record.relation());
  out.clear();
  stream::append_json_line(record, lsn, relations, out);
  if (record.has_begin()) stream::check_begin_format(record.begin().format_version(), "0/0");
  find_relation(record, relations, lsn);
}

void take_batch(std::string_view message) {
  stream::RecordDecoder decoder;
  stream::RelationCache relations;
  std::string out;
  stream::BatchFrames frames(message, 0x16B3748);
  std::string_view payload;
  pg::Lsn lsn = 0;
  try {
    while (frames.next(payload, lsn)) {
      try {
        take_payload(payload, lsn, decoder, relations, out);
      } catch (const pgdts::Error&) {
      }
    }
  } catch (const pgdts::Error&) {
    // a malformed batch: the stream stops here
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  take_batch(input);
  stream::RecordDecoder decoder;
  stream::RelationCache relations;
  std::string out;
  pg::Lsn lsn = 0x16B3748;
  while (true) {
    std::size_t end = input.find(kNext);
    try {
      take_payload(input.substr(0, end), lsn, decoder, relations, out);
    } catch (const pgdts::Error&) {
      // a clean error (the stream would stop here; the next payloads are
      // taken all the same, for more paths per input)
    }
    if (end == std::string_view::npos) break;
    input.remove_prefix(end + kNext.size());
    lsn += 0x40;
  }
  return 0;
}
