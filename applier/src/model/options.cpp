#include "model/options.h"

#include <cstdint>
#include <sstream>

namespace pgdts::model {

std::string describe_throttles(const Options& o) {
  std::string out;
  auto add = [&](const char* name, const std::optional<double>& v) {
    if (!v) return;
    std::ostringstream n;
    if (*v == static_cast<double>(static_cast<std::int64_t>(*v))) n << static_cast<std::int64_t>(*v);
    else n << *v;
    out += (out.empty() ? "" : ", ") + std::string(name) + " " + n.str();
  };
  add("full-qps", o.full_qps);
  add("full-rps", o.full_rps);
  add("full-mbps", o.full_mbps);
  add("incr-rps", o.incr_rps);
  add("incr-mbps", o.incr_mbps);
  return out.empty() ? "none" : out;
}

}  // namespace pgdts::model
