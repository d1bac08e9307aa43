// `pgdts --version`: the release (from debian/changelog, the one place it is
// written) and the record format version this pgdts reads and writes.
#pragma once

#include <string>

namespace pgdts::cli {

// "pgdts X.Y.Z\nrecord format version N\n"
std::string version_text();

}  // namespace pgdts::cli
