#include "apply/group_ledger.h"

namespace pgdts::apply {

pg::Lsn GroupLedger::sent(Group group) {
  pg::Lsn previous = committed_through_;
  committed_through_ = group.end;
  unconfirmed_.push_back(std::move(group));
  return previous;
}

void GroupLedger::confirm(pg::Lsn durable, const std::function<void(const Group&)>& applied) {
  while (!unconfirmed_.empty() && unconfirmed_.front().end <= durable) {
    applied(unconfirmed_.front());
    unconfirmed_.pop_front();
  }
}

}  // namespace pgdts::apply
