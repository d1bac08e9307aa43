#include "stream/record_batch.h"

#include "error.h"

namespace pgdts::stream {

bool BatchFrames::next(std::string_view& record, pg::Lsn& lsn) {
  if (rest_.empty()) return false;
  std::uint64_t delta = varint();
  if (delta > UINT64_MAX - last_) malformed("an LSN past 64 bits");
  last_ += delta;
  if (rest_.size() < 4) malformed("a frame cut short before its length");
  auto byte = [this](int i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(rest_[i])); };
  std::uint32_t length = byte(0) | byte(1) << 8 | byte(2) << 16 | byte(3) << 24;
  rest_.remove_prefix(4);
  if (length > rest_.size()) malformed("a record longer than what is left of the message");
  record = rest_.substr(0, length);
  rest_.remove_prefix(length);
  lsn = last_;
  return true;
}

std::uint64_t BatchFrames::varint() {
  std::uint64_t value = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (rest_.empty()) malformed("a frame cut short in its LSN");
    auto b = static_cast<unsigned char>(rest_.front());
    rest_.remove_prefix(1);
    if (shift == 63 && b > 1) malformed("an LSN past 64 bits");
    value |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) return value;
  }
  malformed("an LSN past 64 bits");
}

void BatchFrames::malformed(const char* what) const {
  throw Error("malformed record batch in the message at source LSN " + pg::format_lsn(message_lsn_) +
              ": " + what + " (the source's pgdts output plugin and this pgdts disagree; " +
              "install both from one release)");
}

}  // namespace pgdts::stream
