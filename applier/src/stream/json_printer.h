// One JSON line per change record, for `pgdts stream`:
//
//   {"lsn":"0/16B3748","begin":{"xid":734,"final_lsn":"0/16B3800",...}}
//   {"lsn":"0/16B3790","insert":{"relation_oid":16384,"schema":"public",
//     "table":"t","new":{"id":1,"v":"text","b":"\\x00ff","n":null}}}
//
// LSNs are "X/Y" strings; commit times ISO 8601 UTC. Values: null for NULL,
// {"unchanged_toast":true} for a TOASTed value the row kept, numbers for
// integers and floats ("NaN", "Infinity", "-Infinity" as strings), true /
// false, bytea as "\\x<hex>", other values as their text: a JSON string
// when it is valid UTF-8, else {"base64":"..."}. Tuples are objects keyed
// by column name when the relation is known, else arrays.
#pragma once

#include <string>
#include <string_view>

#include "pg/lsn.h"
#include "secrets/json.h"
#include "pgdts.pb.h"
#include "stream/relation_cache.h"

namespace pgdts::stream {

// Appends the JSON line (with its '\n') for record to out.
void append_json_line(const pgdts::Record& record, pg::Lsn lsn, const RelationCache& relations,
                      std::string& out);

// Helpers, exposed for the unit tests.
bool is_valid_utf8(std::string_view bytes);
using secrets::append_json_string;
std::string format_iso_timestamp(std::int64_t unix_micros);

}  // namespace pgdts::stream
