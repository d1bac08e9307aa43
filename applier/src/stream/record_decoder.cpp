#include "stream/record_decoder.h"

#include <climits>

#include "error.h"

namespace pgdts::stream {

RecordDecoder::RecordDecoder() : block_(new char[kInitialBlock]) {
  google::protobuf::ArenaOptions options;
  options.initial_block = block_.get();
  options.initial_block_size = kInitialBlock;
  arena_ = std::make_unique<google::protobuf::Arena>(options);
}

const pgdts::Record& RecordDecoder::decode(std::string_view payload, pg::Lsn lsn) {
  // Frees what the previous record needed beyond the initial block and
  // rewinds the block: memory stays flat however many records pass.
  arena_->Reset();
  auto* record = google::protobuf::Arena::CreateMessage<pgdts::Record>(arena_.get());
  if (payload.size() > static_cast<std::size_t>(INT_MAX) ||
      !record->ParseFromArray(payload.data(), static_cast<int>(payload.size())))
    throw Error("could not decode the change record at source LSN " + pg::format_lsn(lsn) + " (" +
                std::to_string(payload.size()) +
                " bytes): not a pgdts record; is the slot's output plugin pgdts?");
  return *record;
}

}  // namespace pgdts::stream
