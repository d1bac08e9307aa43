#include <vector>

#include <gtest/gtest.h>

#include "apply/group_ledger.h"

using pgdts::apply::GroupLedger;

namespace {

GroupLedger::Group group(pgdts::pg::Lsn end, std::size_t changes, std::int64_t first_commit_time) {
  GroupLedger::Group g;
  g.end = end;
  g.changes = changes;
  g.transactions = 1;
  g.commit_time = first_commit_time + 1;
  g.first_commit_time = first_commit_time;
  return g;
}

std::vector<pgdts::pg::Lsn> confirm(GroupLedger& ledger, pgdts::pg::Lsn durable) {
  std::vector<pgdts::pg::Lsn> ends;
  ledger.confirm(durable, [&](const GroupLedger::Group& g) { ends.push_back(g.end); });
  return ends;
}

}  // namespace

TEST(GroupLedger, TransactionsCommittedBeforeTheStartingPositionWereApplied) {
  GroupLedger ledger(1000);
  EXPECT_TRUE(ledger.applied_already(999));
  EXPECT_FALSE(ledger.applied_already(1000));  // a commit record at the origin's position ends after it
  EXPECT_FALSE(ledger.applied_already(1001));
}

TEST(GroupLedger, EachGroupCommitsOnlyWhereThePreviousOneLeftTheOrigin) {
  GroupLedger ledger(1000);
  EXPECT_EQ(ledger.sent(group(1100, 3, 1)), 1000u);
  EXPECT_EQ(ledger.sent(group(1200, 2, 2)), 1100u);
  EXPECT_EQ(ledger.sent(group(1300, 1, 3)), 1200u);
}

TEST(GroupLedger, GroupsCountAsAppliedOnlyOnceDurableOldestFirst) {
  GroupLedger ledger(1000);
  ledger.sent(group(1100, 3, 10));
  ledger.sent(group(1200, 2, 20));
  ledger.sent(group(1300, 1, 30));
  EXPECT_EQ(ledger.oldest_pending_commit_time(), 10);
  EXPECT_TRUE(confirm(ledger, 1099).empty());  // durable short of the first group's end
  EXPECT_EQ(confirm(ledger, 1250), (std::vector<pgdts::pg::Lsn>{1100, 1200}));
  EXPECT_EQ(ledger.oldest_pending_commit_time(), 30);
  EXPECT_TRUE(confirm(ledger, 1250).empty());  // each group once
  EXPECT_EQ(confirm(ledger, 1300), (std::vector<pgdts::pg::Lsn>{1300}));
  EXPECT_FALSE(ledger.has_unconfirmed());
  EXPECT_EQ(ledger.oldest_pending_commit_time(), 0);
}
