#include <gtest/gtest.h>

#include "stream/json_printer.h"

using namespace pgdts;

TEST(JsonPrinter, InsertWithEveryValueKind) {
  stream::RelationCache cache;
  pgdts::Relation rel;
  rel.set_oid(16384);
  rel.set_schema("public");
  rel.set_name("t");
  for (const char* name : {"i", "f", "nan", "b", "bin", "txt", "raw", "n", "toast"}) {
    auto* c = rel.add_columns();
    c->set_name(name);
  }
  cache.update(rel);

  pgdts::Record rec;
  auto* ins = rec.mutable_insert();
  ins->set_relation_oid(16384);
  auto* tup = ins->mutable_new_tuple();
  tup->add_values()->set_int_value(-5);
  tup->add_values()->set_float_value(-0.0);
  tup->add_values()->set_float_value(std::numeric_limits<double>::quiet_NaN());
  tup->add_values()->set_bool_value(true);
  tup->add_values()->set_binary_value(std::string("\x00\xff", 2));
  tup->add_values()->set_text_value("a\"b\n");
  tup->add_values()->set_text_value("\xff\xfe");
  tup->add_values()->set_is_null(true);
  tup->add_values()->set_unchanged_toast(true);

  std::string out;
  stream::append_json_line(rec, 0x16B3748, cache, out);
  EXPECT_EQ(out,
            "{\"lsn\":\"0/16B3748\",\"insert\":{\"relation_oid\":16384,\"schema\":\"public\","
            "\"table\":\"t\",\"new\":{\"i\":-5,\"f\":-0,\"nan\":\"NaN\",\"b\":true,"
            "\"bin\":\"\\\\x00ff\",\"txt\":\"a\\\"b\\n\",\"raw\":{\"base64\":\"//4=\"},"
            "\"n\":null,\"toast\":{\"unchanged_toast\":true}}}}\n");
}

TEST(JsonPrinter, UnknownRelationPrintsArray) {
  stream::RelationCache cache;
  pgdts::Record rec;
  auto* del = rec.mutable_delete_();
  del->set_relation_oid(7);
  del->set_old_image(pgdts::OLD_IMAGE_KEY);
  del->mutable_old_tuple()->add_values()->set_int_value(1);
  std::string out;
  stream::append_json_line(rec, 1, cache, out);
  EXPECT_EQ(out, "{\"lsn\":\"0/1\",\"delete\":{\"relation_oid\":7,\"old_image\":\"key\",\"old\":[1]}}\n");
}

TEST(JsonPrinter, DdlWithSettingsAndResolvedNames) {
  stream::RelationCache cache;
  pgdts::Record rec;
  auto* d = rec.mutable_ddl();
  d->set_command_tag("CREATE INDEX");
  d->set_statement("CREATE INDEX ON base (v)");
  d->set_role("alice");
  d->set_role_superuser(false);
  auto* s = d->add_settings();
  s->set_name("DateStyle");
  s->set_value("ISO, MDY");
  auto* r = d->add_resolved();
  r->set_name("base");
  r->set_schema("a");
  std::string out;
  stream::append_json_line(rec, 1, cache, out);
  EXPECT_NE(out.find("\"role_superuser\":false,\"settings\":{\"DateStyle\":\"ISO, MDY\"},"
                     "\"resolved\":[{\"name\":\"base\",\"schema\":\"a\"}]}"),
            std::string::npos)
      << out;
}

TEST(JsonPrinter, Utf8Validation) {
  EXPECT_TRUE(stream::is_valid_utf8("ça va ü €"));
  EXPECT_FALSE(stream::is_valid_utf8("\xc3"));
  EXPECT_FALSE(stream::is_valid_utf8("\xed\xa0\x80"));  // surrogate
  EXPECT_FALSE(stream::is_valid_utf8("\xc0\x80"));      // overlong
}

TEST(JsonPrinter, Timestamp) {
  EXPECT_EQ(stream::format_iso_timestamp(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(stream::format_iso_timestamp(1764106801123456), "2025-11-25T21:40:01.123456Z");
}
