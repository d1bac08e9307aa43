// Conninfo parsing (libpq does it), the checks of values libpq leaves to
// connect time, and password masking (secrets/redact.h does it, since it
// must also work on strings libpq rejects).
#include "pg/conninfo.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <vector>

#include <libpq-fe.h>

#include "error.h"
#include "secrets/redact.h"

namespace pgdts::pg {
namespace {

bool is_uri(std::string_view s) {
  return s.starts_with("postgresql://") || s.starts_with("postgres://");
}

// libpq's parser messages quote fragments of the text ('...' or "..."); when
// the text holds a secret, a fragment may be part of it (a password with a
// space in it is read as two words), so the fragments are elided.
std::string elide_quoted(std::string_view message) {
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

// A URI's user info ends at the first '/' (libpq's reading): a password
// holding an unencoded '/' or '?' would be read as host, port and database
// name, and libpq's messages would then quote parts of it.
void check_uri_user_info(std::string_view text, std::string_view option) {
  std::size_t authority = text.find("://") + 3;
  std::size_t authority_end = text.find_first_of("/?", authority);
  if (authority_end == std::string_view::npos) return;
  if (text.substr(authority, authority_end - authority).find('@') != std::string_view::npos) return;
  if (text.find('@', authority_end) == std::string_view::npos) return;
  throw UsageError("invalid " + std::string(option) +
                   " connection string: the URI has an '@' after its host part; percent-encode "
                   "'/', '?', '#' and '@' in a user name or password (%2F, %3F, %23, %40)");
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> comma_list(std::string_view s) {
  std::vector<std::string_view> items;
  while (true) {
    std::size_t comma = s.find(',');
    items.push_back(s.substr(0, comma));
    if (comma == std::string_view::npos) return items;
    s = s.substr(comma + 1);
  }
}

// What libpq checks only when it connects (connectOptions2, PQconnectPoll):
// a bad value there would otherwise be a connection failure (exit 1).
void check_values(const ConnInfo::Params& params, std::string_view option) {
  auto bad = [&](const std::string& key, const std::string& value, const std::string& what) {
    throw UsageError("invalid " + std::string(option) + " connection string: " + key + " \"" +
                     value + "\" " + what);
  };
  std::size_t hosts = 1, ports = 1;
  for (const auto& [key, value] : params) {
    if (key == "host" || key == "hostaddr") hosts = std::max(hosts, comma_list(value).size());
    if (key == "port") {
      std::vector<std::string_view> list = comma_list(value);
      ports = list.size();
      for (std::string_view p : list) {
        p = trimmed(p);
        if (p.empty()) continue;  // the default port
        if (!all_digits(p) || p.size() > 5 || std::stoi(std::string(p)) < 1 ||
            std::stoi(std::string(p)) > 65535)
          bad(key, value, "is not a port number (1-65535)");
      }
    }
    if (key == "connect_timeout" || key == "keepalives" || key == "keepalives_idle" ||
        key == "keepalives_interval" || key == "keepalives_count" || key == "tcp_user_timeout") {
      std::string_view v = trimmed(value);
      if (v.starts_with('-') || v.starts_with('+')) v.remove_prefix(1);
      if (!all_digits(v) || v.size() > 9) bad(key, value, "is not an integer");
    }
    // (the pair named explicitly: clang 14, of the fuzz build, cannot
    // capture structured bindings)
    auto one_of = [&, &key = key, &value = value](std::initializer_list<std::string_view> allowed) {
      for (std::string_view a : allowed)
        if (value == a) return;
      std::string list;
      for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      bad(key, value, "is not one of " + list);
    };
    if (key == "sslmode") one_of({"disable", "allow", "prefer", "require", "verify-ca", "verify-full"});
    if (key == "gssencmode") one_of({"disable", "prefer", "require"});
    if (key == "channel_binding") one_of({"disable", "prefer", "require"});
    if (key == "target_session_attrs")
      one_of({"any", "read-write", "read-only", "primary", "standby", "prefer-standby"});
  }
  if (ports > 1 && ports != hosts)
    throw UsageError("invalid " + std::string(option) + " connection string: " +
                     std::to_string(ports) + " port numbers for " + std::to_string(hosts) +
                     " hosts; give one port, or one per host");
}

bool is_secret_key(const char* key) {
  return std::string_view(key) == "password" || std::string_view(key) == "sslpassword";
}

}  // namespace

std::string mask_password(std::string_view conninfo) { return secrets::mask_conninfo(conninfo); }

ConnInfo ConnInfo::parse(std::string_view text, std::string_view option) {
  // First: whatever is printed from here on masks these values.
  secrets::remember_conninfo(text);
  if (is_uri(text)) check_uri_user_info(text, option);
  std::string copy(text);
  char* errmsg = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
      PQconninfoParse(copy.c_str(), &errmsg), &PQconninfoFree);
  if (!options) {
    std::string detail = errmsg ? errmsg : "out of memory";
    if (errmsg) PQfreemem(errmsg);
    if (secrets::has_secret(text)) detail = elide_quoted(detail);
    throw UsageError("invalid " + std::string(option) + " connection string: " +
                     secrets::redact(trimmed(detail)));
  }
  ConnInfo info;
  info.text_ = std::move(copy);
  for (PQconninfoOption* o = options.get(); o->keyword; ++o) {
    if (!o->val) continue;
    if (is_secret_key(o->keyword)) secrets::remember(o->val);
    info.params_.emplace_back(o->keyword, o->val);
  }
  check_values(info.params_, option);
  return info;
}

std::optional<std::string> ConnInfo::get(std::string_view key) const {
  for (const auto& [k, v] : params_)
    if (k == key) return v;
  return std::nullopt;
}

}  // namespace pgdts::pg
