#include <cmath>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "apply/value_format.h"

using namespace pgdts::apply;

namespace {

std::string f8(double v) {
  char buf[48];
  return std::string(format_float(v, false, buf, sizeof buf));
}
std::string f4(float v) {
  char buf[48];
  return std::string(format_float(static_cast<double>(v), true, buf, sizeof buf));
}
std::string i8(std::int64_t v) {
  char buf[48];
  return std::string(format_int(v, buf, sizeof buf));
}

}  // namespace

TEST(FormatInt, Extremes) {
  EXPECT_EQ(i8(0), "0");
  EXPECT_EQ(i8(-1), "-1");
  EXPECT_EQ(i8(std::numeric_limits<std::int64_t>::min()), "-9223372036854775808");
  EXPECT_EQ(i8(std::numeric_limits<std::int64_t>::max()), "9223372036854775807");
  EXPECT_EQ(i8(-32768), "-32768");
}

TEST(FormatFloat, SpecialValuesInPostgresSpelling) {
  EXPECT_EQ(f8(std::numeric_limits<double>::quiet_NaN()), "NaN");
  EXPECT_EQ(f8(std::numeric_limits<double>::infinity()), "Infinity");
  EXPECT_EQ(f8(-std::numeric_limits<double>::infinity()), "-Infinity");
  EXPECT_EQ(f4(std::numeric_limits<float>::infinity()), "Infinity");
  EXPECT_EQ(f4(-std::numeric_limits<float>::infinity()), "-Infinity");
  EXPECT_EQ(f4(std::numeric_limits<float>::quiet_NaN()), "NaN");
}

TEST(FormatFloat, NegativeZeroKeepsItsSign) {
  EXPECT_EQ(f8(-0.0), "-0");
  EXPECT_EQ(f8(0.0), "0");
  EXPECT_EQ(f4(-0.0f), "-0");
}

TEST(FormatFloat, ShortestText) {
  EXPECT_EQ(f8(0.1), "0.1");
  EXPECT_EQ(f8(1.5), "1.5");
  EXPECT_EQ(f4(0.1f), "0.1");  // not 0.10000000149011612: formatted as float4
  EXPECT_EQ(f8(static_cast<double>(0.1f)), "0.10000000149011612");
}

TEST(FormatFloat, EveryDoubleRoundTrips) {
  std::mt19937_64 rng(42);
  const double specials[] = {std::numeric_limits<double>::min(),
                             std::numeric_limits<double>::max(),
                             std::numeric_limits<double>::denorm_min(),
                             std::numeric_limits<double>::epsilon(),
                             -std::numeric_limits<double>::max(),
                             1e-310,
                             123456789012345680.0,
                             1e15,
                             1e16};
  for (double v : specials) EXPECT_EQ(std::strtod(f8(v).c_str(), nullptr), v) << f8(v);
  for (int i = 0; i < 100000; ++i) {
    std::uint64_t bits = rng();
    double v;
    std::memcpy(&v, &bits, sizeof v);
    if (std::isnan(v) || std::isinf(v)) continue;
    ASSERT_EQ(std::strtod(f8(v).c_str(), nullptr), v) << f8(v);
  }
}

TEST(FormatFloat, EveryFloat4RoundTrips) {
  std::mt19937 rng(7);
  const float specials[] = {std::numeric_limits<float>::min(), std::numeric_limits<float>::max(),
                            std::numeric_limits<float>::denorm_min(), 3.4028235e38f, 1e-45f};
  for (float v : specials) EXPECT_EQ(std::strtof(f4(v).c_str(), nullptr), v) << f4(v);
  for (int i = 0; i < 100000; ++i) {
    std::uint32_t bits = rng();
    float v;
    std::memcpy(&v, &bits, sizeof v);
    if (std::isnan(v) || std::isinf(v)) continue;
    ASSERT_EQ(std::strtof(f4(v).c_str(), nullptr), v) << f4(v);
  }
}

TEST(ParamBuffer, TypedValuesAsTextAndByteaAsBinary) {
  pgdts::Value i, f, b, t, bin, null, empty_bin;
  i.set_int_value(-42);
  f.set_float_value(2.5);
  b.set_bool_value(true);
  t.set_text_value("héllo");
  bin.set_binary_value(std::string("\0\x01\xff", 3));
  null.set_is_null(true);
  empty_bin.set_binary_value("");

  ParamBuffer p;
  p.add(i, 23);
  p.add(f, 701);
  p.add(b, 16);
  p.add(t, 25);
  p.add(bin, 17);
  p.add(null, 25);
  p.add(empty_bin, 17);
  ASSERT_EQ(p.size(), 7);
  EXPECT_STREQ(p.values()[0], "-42");
  EXPECT_STREQ(p.values()[1], "2.5");
  EXPECT_STREQ(p.values()[2], "t");
  EXPECT_STREQ(p.values()[3], "héllo");
  EXPECT_EQ(p.formats()[3], 0);
  EXPECT_EQ(p.formats()[4], 1);
  EXPECT_EQ(p.lengths()[4], 3);
  EXPECT_EQ(std::string(p.values()[4], 3), std::string("\0\x01\xff", 3));
  EXPECT_EQ(p.values()[5], nullptr);
  EXPECT_NE(p.values()[6], nullptr);  // empty bytea is not NULL
  EXPECT_EQ(p.lengths()[6], 0);

  pgdts::Value no;
  no.set_bool_value(false);
  p.clear();
  p.add(no, 16);
  EXPECT_EQ(p.size(), 1);
  EXPECT_STREQ(p.values()[0], "f");
}

TEST(ParamBuffer, GrowsPastItsFirstSizeAndKeepsScratchValues) {
  ParamBuffer p;
  std::vector<pgdts::Value> values(100);
  for (int k = 0; k < 100; ++k) values[k].set_int_value(k);
  for (int k = 0; k < 100; ++k) p.add(values[k], 20);
  ASSERT_EQ(p.size(), 100);
  for (int k = 0; k < 100; ++k) EXPECT_EQ(std::string(p.values()[k]), std::to_string(k));
}

TEST(ColumnArrays, QuotesTextEscapesQuotesAndBackslashesAndKeepsNullsApart) {
  ColumnArrays a;
  a.reset(2);
  pgdts::Value text, quoted, null, word_null, i, f, b, bytes;
  text.set_text_value("plain");
  quoted.set_text_value("a \"b\" \\c {d,e}");
  null.set_is_null(true);
  word_null.set_text_value("NULL");
  i.set_int_value(-9223372036854775807LL - 1);
  f.set_float_value(-0.0);
  b.set_bool_value(false);
  bytes.set_binary_value(std::string("\x00\xff\"", 3));
  for (const auto* v : {&text, &quoted, &null, &word_null}) a.add(0, *v, 25);
  for (const auto* v : {&i, &f, &b, &bytes}) a.add(1, *v, 0);
  EXPECT_EQ(a.literal(0), R"({"plain","a \"b\" \\c {d,e}",NULL,"NULL"})");
  EXPECT_EQ(a.literal(1), R"({-9223372036854775808,-0,f,"\\x00ff22"})");
}

TEST(ColumnArrays, ResetEmptiesEveryColumnForTheNextSet) {
  ColumnArrays a;
  pgdts::Value v;
  v.set_int_value(7);
  a.reset(2);
  a.add(0, v, 23);
  a.add(1, v, 23);
  EXPECT_EQ(a.literal(0), "{7}");
  a.reset(1);
  a.add(0, v, 23);
  a.add(0, v, 23);
  EXPECT_EQ(a.literal(0), "{7,7}");
  EXPECT_EQ(a.literal(1), "{}");  // reset, nothing added
}
