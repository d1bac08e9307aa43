#include "model/repair_message.h"

#include <gtest/gtest.h>

#include "error.h"

namespace pgdts::model {
namespace {

RepairMessage keyed_sample() {
  RepairMessage m;
  m.table = {"Shop \"EU\"", "orders"};
  m.columns = {"id", "note", "tag"};
  m.key = {0};
  RepairRow present;
  present.values = {std::string("5"), std::string("line\n\"two\"\t\\ é \x01"), std::nullopt};
  RepairRow absent;
  absent.absent = std::vector<std::string>{"7"};
  m.rows = {present, absent};
  return m;
}

TEST(RepairMessage, KeyedRowsSurviveEncodingAndParsing) {
  RepairMessage m = keyed_sample();
  RepairMessage back = parse_repair_message(encode_repair_message(m));
  EXPECT_EQ(back.table, m.table);
  EXPECT_EQ(back.columns, m.columns);
  EXPECT_EQ(back.key, m.key);
  ASSERT_EQ(back.rows.size(), 2u);
  EXPECT_EQ(back.rows[0].values, m.rows[0].values);
  EXPECT_FALSE(back.rows[0].absent);
  ASSERT_TRUE(back.rows[1].absent);
  EXPECT_EQ(*back.rows[1].absent, std::vector<std::string>{"7"});
}

TEST(RepairMessage, KeylessRowsCarryTheirCopies) {
  RepairMessage m;
  m.table = {"public", "log"};
  m.columns = {"a", "b"};
  RepairRow row;
  row.values = {std::string("x"), std::nullopt};
  row.copies = 3;
  RepairRow gone;
  gone.values = {std::string("y"), std::string("")};
  m.rows = {row, gone};
  RepairMessage back = parse_repair_message(encode_repair_message(m));
  EXPECT_FALSE(back.keyed());
  ASSERT_EQ(back.rows.size(), 2u);
  EXPECT_EQ(back.rows[0].copies, 3);
  EXPECT_EQ(back.rows[0].values, row.values);
  EXPECT_EQ(back.rows[1].copies, 0);
  EXPECT_EQ(back.rows[1].values, gone.values);
}

TEST(RepairMessage, ReadsEscapesAWriterMayUse) {
  RepairMessage m = parse_repair_message(
      R"( {"format":1, "table":{"schema":"s","name":"t"}, "columns":["a"], "key":[],
           "rows":[{"copies":1,"values":["\u00e9\/\ud83d\ude00"]}]} )");
  EXPECT_EQ(*m.rows[0].values[0], "\xc3\xa9/\xf0\x9f\x98\x80");
}

void expect_refused(const std::string& text, const std::string& says) {
  try {
    parse_repair_message(text);
    ADD_FAILURE() << "accepted: " << text;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
  }
}

const char* kHead = R"({"format":1,"table":{"schema":"s","name":"t"},"columns":["id","v"],"key":[0],)";

TEST(RepairMessage, RefusesWhatIsNotJson) {
  expect_refused("", "unexpected end");
  expect_refused("{", "expected a field name");
  expect_refused(std::string(kHead) + R"("rows":[]} trailing)", "text after the document");
  expect_refused(std::string(kHead) + R"("rows":["unterminated]})", "unterminated string");
  expect_refused(std::string(kHead) + R"("rows":[{"values":["a\q","b"]}]})", "bad escape");
  expect_refused(std::string(kHead) + R"("rows":[{"values":["\u0000","b"]}]})", "NUL");
  expect_refused(std::string(kHead) + R"("rows":[{"values":["\ud800","b"]}]})", "surrogate");
  expect_refused(std::string(kHead) + R"("rows":[[[[[[[[[]]]]]]]]]})", "nested too deep");
  expect_refused(std::string(1 << 16, '['), "nested too deep");
}

TEST(RepairMessage, RefusesAMessageOfAnotherShape) {
  expect_refused(R"({"format":2,"table":{"schema":"s","name":"t"},"columns":["a"],"key":[],"rows":[]})",
                 "format 2");
  expect_refused(R"({"format":1,"table":{"schema":"","name":"t"},"columns":["a"],"key":[],"rows":[]})",
                 "schema is empty");
  expect_refused(R"({"format":1,"table":{"schema":"s","name":"t"},"columns":[],"key":[],"rows":[]})",
                 "no columns");
  expect_refused(R"({"format":1,"table":{"schema":"s","name":"t"},"columns":["a","a"],"key":[],"rows":[]})",
                 "named twice");
  expect_refused(R"({"format":1,"table":{"schema":"s","name":"t"},"columns":["a"],"key":[1],"rows":[]})",
                 "key column 1");
  expect_refused(R"({"format":1,"table":{"schema":"s","name":"t"},"columns":["a"],"key":[-1],"rows":[]})",
                 "key column -1");
  expect_refused(R"({"format":1,"format":1})", "given twice");
  expect_refused(R"({"format":1,"table":{"schema":"s","name":"t"},"columns":["a"],"key":[]})", "no \"rows\"");
}

TEST(RepairMessage, RefusesRowsThatDoNotFitTheColumns) {
  expect_refused(std::string(kHead) + R"("rows":[{"values":["1"]}]})", "1 values for 2 columns");
  expect_refused(std::string(kHead) + R"("rows":[{"values":[null,"x"]}]})", "NULL key column");
  expect_refused(std::string(kHead) + R"("rows":[{"absent":[null]}]})", "NULL key column");
  expect_refused(std::string(kHead) + R"("rows":[{"values":["1","x"],"absent":["1"]}]})", "exactly one");
  expect_refused(std::string(kHead) + R"("rows":[{"values":["1",5]}]})", "is not a string");
  expect_refused(std::string(kHead) + R"("rows":[{"values":["1","x"],"copies":1}]})", "unknown fields");
  const char* keyless = R"({"format":1,"table":{"schema":"s","name":"t"},"columns":["a"],"key":[],)";
  expect_refused(std::string(keyless) + R"("rows":[{"values":["x"],"copies":-1}]})", "out of range");
  expect_refused(std::string(keyless) + R"("rows":[{"values":["x"],"copies":99999999999999999999}]})", "too large");
  expect_refused(std::string(keyless) + R"("rows":[{"values":["x"],"copies":1.5}]})", "only integers");
  expect_refused(std::string(keyless) + R"("rows":[{"values":["x"]}]})", "\"values\" and \"copies\"");
}

TEST(RepairMessage, TheSignatureIsSplitOffOnlyWhenItIsSixtyFourHexDigitsAndANewline) {
  std::string sig(64, 'a');
  SignedRepair s = split_signature(signed_repair(sig, "{\"x\":1}"));
  EXPECT_EQ(s.signature, sig);
  EXPECT_EQ(s.payload, "{\"x\":1}");
  EXPECT_EQ(split_signature("{\"x\":1}").signature, "");
  EXPECT_EQ(split_signature(std::string(63, 'a') + "\n{}").signature, "");
  EXPECT_EQ(split_signature(std::string(64, 'A') + "\n{}").signature, "");  // lower-case only
  EXPECT_EQ(split_signature(sig + "\n").signature, sig);
  EXPECT_EQ(split_signature(sig).signature, "");
}

}  // namespace
}  // namespace pgdts::model
