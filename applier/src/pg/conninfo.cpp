// Conninfo parsing (libpq does it) and password masking (we do it, since it
// must also work on strings libpq rejects).
#include "pg/conninfo.h"

#include <cctype>
#include <memory>

#include <libpq-fe.h>

#include "error.h"

namespace pgdts::pg {
namespace {

constexpr std::string_view kMask = "****";

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  return true;
}

// sslpassword (the client key's passphrase) is as secret as password.
bool is_secret_key(std::string_view key) {
  return iequals(key, "password") || iequals(key, "sslpassword");
}

// URIs may spell keys with %-escapes (pass%77ord is password).
std::string percent_decoded(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool contains_password_word(std::string_view raw) {
  std::string s = percent_decoded(raw);
  for (size_t i = 0; i + 8 <= s.size(); ++i)
    if (iequals(std::string_view(s).substr(i, 8), "password")) return true;
  return false;
}

bool is_uri(std::string_view s) {
  return s.starts_with("postgresql://") || s.starts_with("postgres://");
}

std::string mask_uri(std::string_view uri) {
  size_t scheme_end = uri.find("://") + 3;
  size_t authority_end = uri.find_first_of("/?", scheme_end);
  if (authority_end == std::string_view::npos) authority_end = uri.size();
  std::string out(uri.substr(0, scheme_end));
  std::string_view authority = uri.substr(scheme_end, authority_end - scheme_end);
  size_t at = authority.rfind('@');
  if (at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    size_t colon = userinfo.find(':');
    if (colon != std::string_view::npos) {
      out.append(userinfo.substr(0, colon + 1));
      out.append(kMask);
    } else {
      out.append(userinfo);
    }
    out.append(authority.substr(at));
  } else {
    out.append(authority);
  }
  std::string_view rest = uri.substr(authority_end);
  size_t q = rest.find('?');
  if (q == std::string_view::npos) {
    out.append(rest);
    return out;
  }
  out.append(rest.substr(0, q + 1));
  std::string_view query = rest.substr(q + 1);
  bool first = true;
  while (true) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    if (!first) out += '&';
    first = false;
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && is_secret_key(percent_decoded(pair.substr(0, eq)))) {
      out.append(pair.substr(0, eq + 1));
      out.append(kMask);
    } else {
      out.append(pair);
    }
    if (amp == std::string_view::npos) break;
    query = query.substr(amp + 1);
  }
  return out;
}

// Key/value form: key = value pairs, values optionally single-quoted with
// backslash escapes (libpq's grammar). Text it cannot follow is masked
// from the first "password" on, to err on the safe side.
std::string mask_keywords(std::string_view s) {
  std::string out;
  size_t i = 0, n = s.size();
  auto space = [&](size_t k) { return k < n && std::isspace(static_cast<unsigned char>(s[k])); };
  while (i < n) {
    size_t start = i;
    while (space(i)) ++i;
    size_t key_begin = i;
    while (i < n && s[i] != '=' && !space(i)) ++i;
    std::string_view key = s.substr(key_begin, i - key_begin);
    while (space(i)) ++i;
    if (i >= n || s[i] != '=') {
      // not key=value: give up on structure
      std::string_view rest = s.substr(start);
      size_t pos = std::string_view::npos;
      for (size_t k = 0; k + 8 <= rest.size(); ++k)
        if (iequals(rest.substr(k, 8), "password")) { pos = k; break; }
      if (pos == std::string_view::npos) {
        out.append(rest);
      } else {
        out.append(rest.substr(0, pos + 8));
        out.append("=");
        out.append(kMask);
      }
      return out;
    }
    ++i;  // '='
    while (space(i)) ++i;
    out.append(s.substr(start, i - start));
    size_t value_begin = i;
    if (i < n && s[i] == '\'') {
      ++i;
      while (i < n && s[i] != '\'') {
        if (s[i] == '\\' && i + 1 < n) ++i;
        ++i;
      }
      if (i < n) ++i;  // closing quote
    } else {
      while (i < n && !space(i)) {
        if (s[i] == '\\' && i + 1 < n) ++i;
        ++i;
      }
    }
    if (is_secret_key(key))
      out.append(kMask);
    else
      out.append(s.substr(value_begin, i - value_begin));
  }
  return out;
}

}  // namespace

std::string redact_quoted(std::string message, std::string_view source_text) {
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  if (!contains_password_word(source_text) && !contains_password_word(message)) return message;
  std::string out;
  char quote = 0;
  for (char c : message) {
    if (quote == 0 && (c == '"' || c == '\'')) {
      quote = c;
      out += c;
      out += "...";
      continue;
    }
    if (c == quote) {
      quote = 0;
      out += c;
      continue;
    }
    if (quote == 0) out += c;
  }
  return out;
}

std::string mask_password(std::string_view conninfo) {
  if (is_uri(conninfo)) return mask_uri(conninfo);
  return mask_keywords(conninfo);
}

ConnInfo ConnInfo::parse(std::string_view text, std::string_view option) {
  std::string copy(text);
  char* errmsg = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
      PQconninfoParse(copy.c_str(), &errmsg), &PQconninfoFree);
  if (!options) {
    std::string detail = errmsg ? errmsg : "out of memory";
    if (errmsg) PQfreemem(errmsg);
    throw UsageError("invalid " + std::string(option) + " connection string: " +
                     redact_quoted(detail, text));
  }
  ConnInfo info;
  info.text_ = std::move(copy);
  for (PQconninfoOption* o = options.get(); o->keyword; ++o)
    if (o->val) info.params_.emplace_back(o->keyword, o->val);
  return info;
}

std::optional<std::string> ConnInfo::get(std::string_view key) const {
  for (const auto& [k, v] : params_)
    if (k == key) return v;
  return std::nullopt;
}

}  // namespace pgdts::pg
