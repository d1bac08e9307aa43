// Frames of a batched message (stream/record_batch.h): each record comes
// back with its own LSN, and a message that does not hold whole frames is
// refused with the message's LSN in the error.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "error.h"
#include "stream/record_batch.h"

namespace {

using pgdts::stream::BatchFrames;

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

// The plugin's layout, written independently of the reader.
std::string frame(std::uint64_t delta, const std::string& record) {
  std::string out;
  put_varint(out, delta);
  auto n = static_cast<std::uint32_t>(record.size());
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(n >> (8 * i)));
  return out + record;
}

struct Frame {
  std::string record;
  pgdts::pg::Lsn lsn;
};

std::vector<Frame> read_all(const std::string& payload) {
  BatchFrames frames(payload, 0x16B3748);
  std::vector<Frame> out;
  std::string_view record;
  pgdts::pg::Lsn lsn = 0;
  while (frames.next(record, lsn)) out.push_back({std::string(record), lsn});
  return out;
}

TEST(RecordBatch, EachRecordGetsItsOwnLsn) {
  std::string payload = frame(0x1'0000'0028, "begin") + frame(0, "relation") +
                        frame(0x58, std::string("ins\0ert", 7)) + frame(0x130, "");
  auto got = read_all(payload);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[0].record, "begin");
  EXPECT_EQ(got[0].lsn, 0x1'0000'0028u);
  EXPECT_EQ(got[1].record, "relation");
  EXPECT_EQ(got[1].lsn, 0x1'0000'0028u);
  EXPECT_EQ(got[2].record, std::string("ins\0ert", 7));
  EXPECT_EQ(got[2].lsn, 0x1'0000'0080u);
  EXPECT_EQ(got[3].record, "");
  EXPECT_EQ(got[3].lsn, 0x1'0000'01B0u);
}

TEST(RecordBatch, EmptyMessageHoldsNoRecord) { EXPECT_TRUE(read_all("").empty()); }

TEST(RecordBatch, LargestLsnFits) {
  auto got = read_all(frame(UINT64_MAX, "x"));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].lsn, UINT64_MAX);
}

void expect_malformed(const std::string& payload, const std::string& why) {
  try {
    read_all(payload);
    FAIL() << "accepted a malformed batch (" << why << ")";
  } catch (const pgdts::Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("malformed record batch in the message at source LSN 0/16B3748"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find(why), std::string::npos) << what;
  }
}

TEST(RecordBatch, TruncatedFramesAreRefused) {
  std::string whole = frame(0x28, "record");
  expect_malformed(whole.substr(0, whole.size() - 1), "longer than what is left");
  expect_malformed(whole.substr(0, 3), "cut short before its length");
  expect_malformed(std::string("\x80", 1), "cut short in its LSN");
  expect_malformed(frame(0x28, "a") + std::string("\x05\x01", 2), "cut short before its length");
}

TEST(RecordBatch, LsnsPast64BitsAreRefused) {
  std::string eleven(10, '\xff');
  eleven.push_back('\x01');
  expect_malformed(eleven, "past 64 bits");
  expect_malformed(frame(UINT64_MAX, "a") + frame(1, "b"), "past 64 bits");
}

}  // namespace
