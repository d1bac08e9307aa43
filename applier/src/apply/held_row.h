// A change's row held back in the open destination transaction (batched
// INSERTs, merged UPDATEs), with the source LSN of the change it came from.
#pragma once

#include "pg/lsn.h"
#include "pgdts.pb.h"

namespace pgdts::apply {

struct HeldRow {
  pgdts::Tuple row;
  pg::Lsn lsn = 0;
};

}  // namespace pgdts::apply
