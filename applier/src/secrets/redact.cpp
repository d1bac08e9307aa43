// The redactor (see redact.h): one scan finds the spans to mask (conninfo
// key=value pairs, URI user info and query parameters, SQL constants after
// a word naming a secret); remembered secrets are masked before it.
#include "secrets/redact.h"

#include <algorithm>
#include <cctype>
#include <mutex>
#include <vector>

namespace pgdts::secrets {
namespace {

struct Span {
  std::size_t begin, end;
};

constexpr std::size_t kMinRemembered = 6;

std::mutex remembered_mutex;
std::vector<std::string> remembered;  // longest first

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }
bool space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool scheme_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '.' || c == '-';
}

bool starts_with_at(std::string_view s, std::size_t at, std::string_view prefix) {
  return at <= s.size() && s.substr(at).starts_with(prefix);
}

std::string percent_decoded(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    c = lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
  };
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// A key, option or keyword whose value is a secret: password, sslpassword,
// PGPASSWORD, passwd, passphrase, client_secret, pwd (ODBC).
bool names_secret(std::string_view word) {
  std::string w;
  for (char c : word) w += lower(c);
  if (w == "pwd") return true;
  for (std::string_view part : {"password", "passwd", "passphrase", "secret"})
    if (w.find(part) != std::string::npos) return true;
  return false;
}

std::size_t skip_spaces(std::string_view s, std::size_t p) {
  while (p < s.size() && space(s[p])) ++p;
  return p;
}

// Spaces and SQL comments.
std::size_t skip_blank(std::string_view s, std::size_t p) {
  while (true) {
    p = skip_spaces(s, p);
    if (starts_with_at(s, p, "--")) {
      std::size_t nl = s.find('\n', p);
      p = nl == std::string_view::npos ? s.size() : nl + 1;
    } else if (starts_with_at(s, p, "/*")) {
      std::size_t close = s.find("*/", p + 2);
      p = close == std::string_view::npos ? s.size() : close + 2;
    } else {
      return p;
    }
  }
}

// The value of a conninfo pair at p (after "key =" and its spaces), quoted
// ('...', or ''...'' / \'...\' as SQL spells a conninfo's quotes inside a
// literal) or up to the next white space (in free text also an unescaped
// double quote: the end of a JSON string or a quoted log value). The span
// covers its quotes.
std::size_t kv_value(std::string_view s, std::size_t p, bool free_text, std::vector<Span>& spans) {
  std::size_t n = s.size();
  std::string_view quote;
  if (starts_with_at(s, p, "''") && p + 2 < n && !space(s[p + 2]) && s[p + 2] != ')' &&
      s[p + 2] != ',' && s[p + 2] != '\'')
    quote = "''";
  else if (starts_with_at(s, p, "\\'"))
    quote = "\\'";
  else if (s[p] == '\'')
    quote = "'";
  if (quote.empty()) {
    std::size_t e = p;
    while (e < n && !space(s[e]) && !(free_text && s[e] == '"')) e += s[e] == '\\' ? 2 : 1;
    e = std::min(e, n);
    // What closes an enclosing literal or list ('host=x password=y') stays:
    // a trailing run of quotes (escaped too), parentheses and separators.
    std::size_t value_end = e;
    while (value_end > p && std::string_view("'\"\\)],;").find(s[value_end - 1]) != std::string_view::npos)
      --value_end;
    if (value_end == p) value_end = e;
    spans.push_back({p, value_end});
    return e;
  }
  std::size_t e = p + quote.size();
  while (e < n) {
    if (quote == "'" && s[e] == '\'') {
      if (e + 1 < n && s[e + 1] == '\'') {  // SQL's doubled quote: content
        e += 2;
        continue;
      }
      break;
    }
    if (quote != "'" && starts_with_at(s, e, quote)) break;
    if (s[e] == '\\') {
      e += quote == "''" && starts_with_at(s, e + 1, "''") ? 3 : 2;
      continue;
    }
    ++e;
  }
  if (e >= n) {
    spans.push_back({p, n});
    return n;
  }
  e += quote.size();
  spans.push_back({p, e});
  return e;
}

// A SQL string constant at p ('...', E'...', U&'...', N'...', $tag$...$tag$):
// its content is masked; npos when there is none.
std::size_t sql_constant(std::string_view s, std::size_t p, std::vector<Span>& spans) {
  std::size_t n = s.size();
  if (p >= n) return std::string_view::npos;
  std::size_t q = p;
  char c = lower(s[p]);
  if ((c == 'e' || c == 'n') && p + 1 < n && s[p + 1] == '\'') q = p + 1;
  else if (c == 'u' && starts_with_at(s, p + 1, "&'")) q = p + 2;
  // Inside another literal the constant's quotes are doubled (EXECUTE
  // '... PASSWORD ''x''') or escaped (E'... PASSWORD \'x\''): the value
  // runs to the matching pair.
  for (std::string_view pair : {std::string_view("''"), std::string_view("\\'")}) {
    if (!starts_with_at(s, q, pair) || q + pair.size() >= n) continue;
    char next = s[q + pair.size()];
    if (space(next) || next == ')' || next == ',' || next == ';' || next == '\'') continue;
    std::size_t close = s.find(pair, q + pair.size());
    if (close == std::string_view::npos) {
      spans.push_back({q + pair.size(), n});
      return n;
    }
    spans.push_back({q + pair.size(), close});
    return close + pair.size();
  }
  if (s[q] == '\'') {
    std::size_t e = q + 1;
    while (e < n) {
      if (s[e] == '\\') {
        e += 2;  // E'' escapes; in a standard string this masks a little more
        continue;
      }
      if (s[e] == '\'') {
        if (e + 1 < n && s[e + 1] == '\'') {
          e += 2;
          continue;
        }
        break;
      }
      ++e;
    }
    if (e >= n) {
      spans.push_back({q + 1, n});
      return n;
    }
    spans.push_back({q + 1, e});
    return e + 1;
  }
  if (s[p] == '$') {
    std::size_t t = p + 1;
    if (t < n && std::isdigit(static_cast<unsigned char>(s[t]))) return std::string_view::npos;
    while (t < n && ident_char(s[t])) ++t;
    if (t >= n || s[t] != '$') return std::string_view::npos;
    std::string_view delim = s.substr(p, t - p + 1);
    std::size_t close = s.find(delim, t + 1);
    if (close == std::string_view::npos) {
      spans.push_back({t + 1, n});
      return n;
    }
    spans.push_back({t + 1, close});
    return close + delim.size();
  }
  return std::string_view::npos;
}

// After a word naming a secret, at p: "= value" (conninfo) or a SQL
// constant. Returns where scanning goes on. In a whole connection string,
// anything else after the word is masked to the end (libpq cannot parse it
// either, and whatever follows may be the password).
std::size_t secret_value(std::string_view s, std::size_t p, bool whole,
                         std::vector<Span>& spans) {
  std::size_t j = skip_blank(s, p);
  if (j < s.size() && s[j] == '=') {
    std::size_t k = skip_spaces(s, j + 1);
    if (k >= s.size()) return k;
    return kv_value(s, k, !whole, spans);
  }
  std::size_t e = sql_constant(s, j, spans);
  if (e != std::string_view::npos) return e;
  if (whole && j < s.size()) {
    spans.push_back({j, s.size()});
    return s.size();
  }
  return p;
}

// host[:port](,host[:port])*, hosts possibly [IPv6]: an authority without
// user info. Anything else there (u:pass, cut off before its '@') is masked.
bool is_host_list(std::string_view a) {
  std::size_t i = 0;
  while (true) {
    if (i < a.size() && a[i] == '[') {
      std::size_t close = a.find(']', i);
      if (close == std::string_view::npos) return false;
      i = close + 1;
    } else {
      while (i < a.size() && a[i] != ':' && a[i] != ',' && a[i] != '[' && a[i] != ']') ++i;
    }
    if (i < a.size() && a[i] == ':') {
      ++i;
      while (i < a.size() && std::isdigit(static_cast<unsigned char>(a[i]))) ++i;
    }
    if (i >= a.size()) return true;
    if (a[i] != ',') return false;
    ++i;
  }
}

// The end of a URI query parameter's value that starts at p: the next '&'
// that starts another key=value (a '&' inside a password stays masked).
std::size_t param_end(std::string_view u, std::size_t p) {
  while (true) {
    std::size_t amp = u.find('&', p);
    if (amp == std::string_view::npos) return u.size();
    std::size_t k = amp + 1;
    while (k < u.size() && (ident_char(u[k]) || u[k] == '%')) ++k;
    if (k > amp + 1 && k < u.size() && u[k] == '=') return amp;
    p = amp + 1;
  }
}

// A URI from its scheme at start; rest begins after "://", end is where
// the URI ends (white space, or the end of a whole connection string).
void uri_spans(std::string_view s, std::size_t rest, std::size_t end, std::vector<Span>& spans) {
  std::string_view u = s.substr(rest, end - rest);
  std::size_t at = u.rfind('@');
  std::size_t host = 0;
  if (at != std::string_view::npos) {
    std::size_t colon = u.find(':');
    if (colon != std::string_view::npos && colon < at) spans.push_back({rest + colon + 1, rest + at});
    host = at + 1;
  } else {
    std::size_t authority_end = std::min(u.find_first_of("/?"), u.size());
    if (!is_host_list(u.substr(0, authority_end))) {
      std::size_t colon = u.find(':');
      spans.push_back({rest + colon + 1, end});
      return;
    }
  }
  std::size_t q = u.find('?', host);
  if (q == std::string_view::npos) return;
  std::size_t p = q + 1;
  while (p < u.size()) {
    std::size_t e = param_end(u, p);
    std::string_view pair = u.substr(p, e - p);
    std::size_t eq = pair.find('=');
    if (eq != std::string_view::npos && names_secret(percent_decoded(pair.substr(0, eq))))
      spans.push_back({rest + p + eq + 1, rest + e});
    p = e + 1;
  }
}

std::vector<Span> scan(std::string_view s, bool whole, std::size_t from = 0);

// A whole key/value connection string, parsed as libpq does, so that a
// value that merely mentions a password (dbname='my password') is kept.
// Where it stops following the grammar, the rest is scanned as text.
std::vector<Span> scan_keywords(std::string_view s) {
  std::vector<Span> spans;
  std::size_t n = s.size(), i = 0;
  while (true) {
    i = skip_spaces(s, i);
    if (i >= n) return spans;
    std::size_t key = i;
    while (i < n && s[i] != '=' && !space(s[i])) ++i;
    std::string_view name = s.substr(key, i - key);
    std::size_t eq = skip_spaces(s, i);
    if (eq >= n || s[eq] != '=' || name.empty()) {
      std::vector<Span> rest = scan(s, true, key);
      spans.insert(spans.end(), rest.begin(), rest.end());
      return spans;
    }
    std::size_t v = skip_spaces(s, eq + 1);
    if (v >= n) return spans;
    std::vector<Span> value;
    i = kv_value(s, v, false, value);
    if (names_secret(name)) spans.insert(spans.end(), value.begin(), value.end());
  }
}

// Finds what to mask in s from `from` on. whole: s is one connection
// string (a URI then extends to its end).
std::vector<Span> scan(std::string_view s, bool whole, std::size_t from) {
  std::vector<Span> spans;
  std::size_t n = s.size(), i = from;
  while (i < n) {
    char c = s[i];
    bool word_start = i == 0 || !(ident_char(s[i - 1]) || s[i - 1] == '%');
    if (ident_start(c) && word_start) {
      std::size_t e = i;
      while (e < n && scheme_char(s[e])) ++e;
      if (starts_with_at(s, e, "://")) {
        std::size_t rest = e + 3;
        std::size_t end = rest;
        if (whole) {
          end = n;
        } else {
          while (end < n && !space(s[end]) && s[end] != '"') ++end;
        }
        uri_spans(s, rest, end, spans);
        i = end;
        continue;
      }
      e = i;
      while (e < n && ident_char(s[e])) ++e;
      if (names_secret(s.substr(i, e - i))) {
        i = std::max(e, secret_value(s, e, whole, spans));
        continue;
      }
      i = e;
      continue;
    }
    if (c == '"') {
      // A quoted identifier naming a secret: OPTIONS ("password" '...').
      std::size_t close = s.find('"', i + 1);
      if (close != std::string_view::npos && close - i <= 130) {
        std::string_view name = s.substr(i + 1, close - i - 1);
        if (name.find('\n') == std::string_view::npos && names_secret(name)) {
          std::size_t next = secret_value(s, close + 1, false, spans);
          if (next > close + 1) {
            i = next;
            continue;
          }
        }
      }
    }
    ++i;
  }
  return spans;
}

std::string masked(std::string_view s, std::vector<Span> spans) {
  if (spans.empty()) return std::string(s);
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.begin < b.begin; });
  std::string out;
  std::size_t at = 0;  // copied up to here
  for (std::size_t k = 0; k < spans.size();) {
    std::size_t b = spans[k].begin, e = spans[k].end;
    for (++k; k < spans.size() && spans[k].begin <= e; ++k) e = std::max(e, spans[k].end);
    b = std::max(b, at);
    e = std::min(e, s.size());
    if (b > e) continue;
    out.append(s.substr(at, b - at));
    out.append(kMask);
    at = e;
  }
  out.append(s.substr(at));
  return out;
}

// Where remembered secrets occur in text.
void remembered_spans(std::string_view text, std::vector<Span>& spans) {
  std::lock_guard lock(remembered_mutex);
  for (const std::string& secret : remembered)
    for (std::size_t p = text.find(secret); p != std::string_view::npos; p = text.find(secret, p + 1))
      spans.push_back({p, p + secret.size()});
}

// A value as libpq reads it: without its quotes and backslash escapes.
std::string unquoted(std::string_view v) {
  if (v.size() >= 2 && v.front() == '\'' && v.back() == '\'') v = v.substr(1, v.size() - 2);
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] == '\\' && i + 1 < v.size()) ++i;
    out += v[i];
  }
  return out;
}

}  // namespace

std::string redact(std::string_view text) {
  // Both on the text as given: a remembered secret masked first could hide
  // the key word ("pass...") that the scan needs to find another value.
  std::vector<Span> spans = scan(text, false);
  remembered_spans(text, spans);
  return masked(text, std::move(spans));
}

namespace {

std::vector<Span> scan_conninfo(std::string_view conninfo) {
  std::size_t start = skip_spaces(conninfo, 0);
  std::size_t e = start;
  while (e < conninfo.size() && scheme_char(conninfo[e])) ++e;
  if (e > start && starts_with_at(conninfo, e, "://")) return scan(conninfo, true);
  return scan_keywords(conninfo);
}

}  // namespace

std::string mask_conninfo(std::string_view conninfo) {
  return masked(conninfo, scan_conninfo(conninfo));
}

bool has_secret(std::string_view conninfo) { return !scan_conninfo(conninfo).empty(); }

void remember(std::string_view secret) {
  if (secret.size() < kMinRemembered || secret == kMask) return;
  std::lock_guard lock(remembered_mutex);
  if (std::find(remembered.begin(), remembered.end(), secret) != remembered.end()) return;
  remembered.emplace_back(secret);
  std::stable_sort(remembered.begin(), remembered.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

void remember_conninfo(std::string_view conninfo) {
  for (const Span& sp : scan_conninfo(conninfo)) {
    std::string_view raw = conninfo.substr(sp.begin, sp.end - sp.begin);
    remember(raw);
    remember(unquoted(raw));
    remember(percent_decoded(raw));
  }
}

}  // namespace pgdts::secrets
