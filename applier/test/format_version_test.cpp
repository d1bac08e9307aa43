// The one line pgdts stops with when the plugin and pgdts speak different
// record formats: it names the side to upgrade.
#include <gtest/gtest.h>

#include "pgdts.pb.h"
#include "stream/format_version.h"

namespace {

using pgdts::stream::FormatMismatchError;
using pgdts::stream::refused_format;
using pgdts::stream::which_side_to_upgrade;

const std::uint32_t kOurs = pgdts::FORMAT_VERSION;

TEST(FormatVersion, OlderPluginNamesTheSourceExtension) {
  std::string line = which_side_to_upgrade(1, 2);
  EXPECT_NE(line.find("writes record format version 1, this pgdts reads 2"), std::string::npos);
  EXPECT_NE(line.find("upgrade the pgdts extension on the source"), std::string::npos) << line;
}

TEST(FormatVersion, NewerPluginNamesPgdts) {
  std::string line = which_side_to_upgrade(3, 2);
  EXPECT_NE(line.find("upgrade pgdts, the applier"), std::string::npos) << line;
}

TEST(FormatVersion, RefusalOfThisPluginIsRecognisedByItsDetail) {
  auto line = refused_format(
      "0A000",
      "ERROR:  pgdts output plugin does not support format version 9\n"
      "DETAIL:  This version of the pgdts output plugin writes record format version " +
          std::to_string(kOurs + 1) + " only.\n");
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line, which_side_to_upgrade(kOurs + 1, kOurs));
}

TEST(FormatVersion, RefusalOfAReleasedPluginIsRecognisedByItsOlderDetail) {
  // 0.1 and 0.2.0 said "supports format version N only"
  auto line = refused_format("0A000",
                             "ERROR:  pgdts output plugin does not support format version 2\n"
                             "DETAIL:  This version of the pgdts output plugin supports format "
                             "version 1 only.");
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line, which_side_to_upgrade(1, kOurs));
}

TEST(FormatVersion, OtherErrorsAreNotARefusal) {
  EXPECT_FALSE(refused_format("0A000", "ERROR:  logical decoding requires wal_level >= logical"));
  EXPECT_FALSE(refused_format("55006", "does not support format version 2"));
}

TEST(FormatVersion, BeginOfAnotherFormatThrowsWithTheLsn) {
  try {
    pgdts::stream::check_begin_format(kOurs + 1, "0/16B3748");
    FAIL() << "no exception";
  } catch (const FormatMismatchError& e) {
    EXPECT_NE(std::string(e.what()).find("upgrade pgdts, the applier"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("0/16B3748"), std::string::npos);
  }
  EXPECT_NO_THROW(pgdts::stream::check_begin_format(kOurs, "0/1"));
}

}  // namespace

namespace {

TEST(FormatVersion, PluginWithoutBatchesNamesTheSourceExtension) {
  auto line = pgdts::stream::refused_format(
      "22023", "ERROR:  unrecognized pgdts output plugin option \"batch\"\nHINT:  The options are "
               "\"format_version\", \"include_origin\", \"row_filter\" and \"transform\".");
  ASSERT_TRUE(line.has_value());
  EXPECT_NE(line->find("cannot send record batches"), std::string::npos) << *line;
  EXPECT_NE(line->find("upgrade the pgdts extension on the source"), std::string::npos) << *line;
  EXPECT_FALSE(pgdts::stream::refused_format(
                   "22023", "ERROR:  unrecognized pgdts output plugin option \"row_fitler\"")
                   .has_value());
}

}  // namespace
