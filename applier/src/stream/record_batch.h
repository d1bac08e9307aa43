// The frames of a batched message: several records of one transaction in
// one CopyData message, each with the LSN an unbatched message would have
// carried (plugin/record_batch.h has the layout; docs/protocol.md,
// "Batches"). pgdts asks for batches at START_REPLICATION: one send and
// one header per transaction instead of one per record.
#pragma once

#include <cstdint>
#include <string_view>

#include "pg/lsn.h"

namespace pgdts::stream {

// START_REPLICATION's option asking the plugin for batches.
inline constexpr const char* kBatchOption = "batch";

class BatchFrames {
 public:
  // message_lsn (the message's own position) only names the message in errors.
  BatchFrames(std::string_view payload, pg::Lsn message_lsn)
      : rest_(payload), message_lsn_(message_lsn) {}

  // The next record and its LSN; false after the last. Throws Error on a
  // frame that does not fit the message or an LSN that does not fit 64 bits.
  bool next(std::string_view& record, pg::Lsn& lsn);

 private:
  std::uint64_t varint();
  [[noreturn]] void malformed(const char* what) const;

  std::string_view rest_;
  pg::Lsn message_lsn_;
  pg::Lsn last_ = 0;
};

}  // namespace pgdts::stream
