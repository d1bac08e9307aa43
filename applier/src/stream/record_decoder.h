// Decoding of one XLogData payload into a pgdts::Record (proto/pgdts.proto).
//
// Records are parsed into a protobuf Arena that is reset before each record:
// per record, allocation is a pointer bump in a reused block instead of a
// malloc/free per message, repeated field and string.
#pragma once

#include <memory>
#include <string_view>

#include <google/protobuf/arena.h>

#include "pg/lsn.h"
#include "pgdts.pb.h"

namespace pgdts::stream {

class RecordDecoder {
 public:
  RecordDecoder();
  // The record lives until the next decode(). Throws Error naming the LSN
  // when the payload is not a Record.
  const pgdts::Record& decode(std::string_view payload, pg::Lsn lsn);

 private:
  static constexpr std::size_t kInitialBlock = 256 * 1024;
  std::unique_ptr<char[]> block_;
  std::unique_ptr<google::protobuf::Arena> arena_;
};

}  // namespace pgdts::stream
