#include <gtest/gtest.h>

#include "logging/log.h"

using namespace pgdts::log;

TEST(LogEvent, FieldsAndQuoting) {
  Event e("change_skipped");
  e.field("table", "public.t").field("op", "UPDATE")
      .field("reason", "table has no primary key or replica identity")
      .field("skipped", 3)
      .field("empty", "")
      .field("q", "a\"b\\c\nd");
  EXPECT_EQ(e.text(),
            "event=change_skipped table=public.t op=UPDATE "
            "reason=\"table has no primary key or replica identity\" skipped=3 empty=\"\" "
            "q=\"a\\\"b\\\\c\\nd\"");
}

TEST(LogLevel, Parse) {
  EXPECT_EQ(parse_level("warn"), Level::warn);
  EXPECT_EQ(parse_level("debug"), Level::debug);
  EXPECT_FALSE(parse_level("trace"));
}
