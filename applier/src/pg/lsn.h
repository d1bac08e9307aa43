// WAL positions (LSNs) and their "X/Y" text form, as PostgreSQL prints them.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgdts::pg {

using Lsn = std::uint64_t;

inline std::string format_lsn(Lsn lsn) {
  char buf[32];
  char* p = std::to_chars(buf, buf + 16, static_cast<std::uint32_t>(lsn >> 32), 16).ptr;
  *p++ = '/';
  p = std::to_chars(p, buf + sizeof buf, static_cast<std::uint32_t>(lsn), 16).ptr;
  std::string s(buf, p);
  for (char& c : s) c = static_cast<char>(c >= 'a' && c <= 'f' ? c - 32 : c);
  return s;
}

// "16/B374D848" -> LSN; nullopt when the text is not an LSN.
inline std::optional<Lsn> parse_lsn(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 >= text.size()) return std::nullopt;
  std::uint32_t hi = 0, lo = 0;
  auto r1 = std::from_chars(text.data(), text.data() + slash, hi, 16);
  auto r2 = std::from_chars(text.data() + slash + 1, text.data() + text.size(), lo, 16);
  if (r1.ec != std::errc() || r1.ptr != text.data() + slash || r2.ec != std::errc() ||
      r2.ptr != text.data() + text.size())
    return std::nullopt;
  return (static_cast<Lsn>(hi) << 32) | lo;
}

}  // namespace pgdts::pg
