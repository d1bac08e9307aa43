// Encoding and defensive parsing of repair messages (see repair_message.h).
#include "model/repair_message.h"

#include <map>
#include <set>

#include "error.h"

namespace pgdts::model {
namespace {

constexpr int kFormat = 1;
// The message is nested four deep (document, rows, row, values); anything
// deeper is not a repair message, and a bound keeps recursion finite.
constexpr int kMaxDepth = 6;
// More copies than any table holds (a hostile count must not make the
// applier loop for ever).
constexpr std::int64_t kMaxCopies = 1'000'000'000;

[[noreturn]] void malformed(const std::string& what) { throw Error("repair message: " + what); }

// ---- writing ----

void append_string(std::string& out, std::string_view s) {
  out += '"';
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      static const char* hex = "0123456789abcdef";
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;  // other bytes as they are: the text stays in its encoding
    }
  }
  out += '"';
}

void append_value(std::string& out, const RepairValue& v) {
  if (v)
    append_string(out, *v);
  else
    out += "null";
}

template <typename T, typename F>
void append_array(std::string& out, const std::vector<T>& items, F each) {
  out += '[';
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    each(items[i]);
  }
  out += ']';
}

// ---- reading: a small JSON tree, then a check of its shape ----

struct Json {
  enum class Kind { null, boolean, number, string, array, object } kind = Kind::null;
  std::int64_t number = 0;  // integers only: the format has no other numbers
  std::string text;
  std::vector<Json> items;
  std::map<std::string, Json> fields;
};

class Reader {
 public:
  explicit Reader(std::string_view text) : s_(text) {}

  Json document() {
    Json v = value(0);
    space();
    if (at_ < s_.size()) fail("text after the document");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    malformed(what + " at byte " + std::to_string(at_));
  }

  void space() {
    while (at_ < s_.size() && (s_[at_] == ' ' || s_[at_] == '\n' || s_[at_] == '\r' || s_[at_] == '\t')) ++at_;
  }

  bool take(std::string_view word) {
    if (s_.substr(at_, word.size()) != word) return false;
    at_ += word.size();
    return true;
  }

  Json value(int depth) {
    if (depth > kMaxDepth) fail("nested too deep");
    space();
    if (at_ >= s_.size()) fail("unexpected end");
    Json v;
    char c = s_[at_];
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"') {
      v.kind = Json::Kind::string;
      v.text = string();
    } else if (take("null")) {
      v.kind = Json::Kind::null;
    } else if (take("true") || take("false")) {
      v.kind = Json::Kind::boolean;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.kind = Json::Kind::number;
      v.number = integer();
    } else {
      fail(std::string("unexpected character '") + c + "'");
    }
    return v;
  }

  Json object(int depth) {
    Json v;
    v.kind = Json::Kind::object;
    ++at_;
    space();
    if (take("}")) return v;
    while (true) {
      space();
      if (at_ >= s_.size() || s_[at_] != '"') fail("expected a field name");
      std::string name = string();
      space();
      if (!take(":")) fail("expected ':'");
      if (v.fields.count(name)) fail("field \"" + name + "\" given twice");
      v.fields.emplace(std::move(name), value(depth + 1));
      space();
      if (take("}")) return v;
      if (!take(",")) fail("expected ',' or '}'");
    }
  }

  Json array(int depth) {
    Json v;
    v.kind = Json::Kind::array;
    ++at_;
    space();
    if (take("]")) return v;
    while (true) {
      v.items.push_back(value(depth + 1));
      space();
      if (take("]")) return v;
      if (!take(",")) fail("expected ',' or ']'");
    }
  }

  std::int64_t integer() {
    bool negative = take("-");
    if (at_ >= s_.size() || s_[at_] < '0' || s_[at_] > '9') fail("expected a digit");
    std::int64_t n = 0;
    while (at_ < s_.size() && s_[at_] >= '0' && s_[at_] <= '9') {
      if (n > (kMaxCopies * 10)) fail("number too large");
      n = n * 10 + (s_[at_++] - '0');
    }
    if (at_ < s_.size() && (s_[at_] == '.' || s_[at_] == 'e' || s_[at_] == 'E')) fail("only integers are expected");
    return negative ? -n : n;
  }

  unsigned hex4() {
    if (at_ + 4 > s_.size()) fail("short \\u escape");
    unsigned u = 0;
    for (int i = 0; i < 4; ++i) {
      char c = s_[at_++];
      u <<= 4;
      if (c >= '0' && c <= '9') u |= static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') u |= static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') u |= static_cast<unsigned>(c - 'A' + 10);
      else fail("bad \\u escape");
    }
    return u;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string string() {
    ++at_;  // the opening quote
    std::string out;
    while (true) {
      if (at_ >= s_.size()) fail("unterminated string");
      char c = s_[at_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_ >= s_.size()) fail("unterminated escape");
      switch (char e = s_[at_++]) {
        case '"': case '\\': case '/': out += e; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {
            if (!take("\\u")) fail("lone surrogate");
            unsigned low = hex4();
            if (low < 0xDC00 || low >= 0xE000) fail("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            fail("lone surrogate");
          }
          // PostgreSQL text cannot hold NUL
          if (cp == 0) fail("NUL in a string");
          append_utf8(out, cp);
          break;
        }
        default: fail(std::string("bad escape '\\") + e + "'");
      }
    }
  }

  std::string_view s_;
  std::size_t at_ = 0;
};

const Json& field(const Json& object, const char* name) {
  auto it = object.fields.find(name);
  if (it == object.fields.end()) malformed(std::string("no \"") + name + "\"");
  return it->second;
}

const Json* optional_field(const Json& object, const char* name) {
  auto it = object.fields.find(name);
  return it == object.fields.end() ? nullptr : &it->second;
}

void expect(const Json& v, Json::Kind kind, const std::string& what) {
  static const char* names[] = {"null", "a boolean", "a number", "a string", "an array", "an object"};
  if (v.kind != kind) malformed(what + " is not " + names[static_cast<int>(kind)]);
}

std::string name_text(const Json& v, const std::string& what) {
  expect(v, Json::Kind::string, what);
  if (v.text.empty()) malformed(what + " is empty");
  return v.text;
}

std::vector<RepairValue> values_of(const Json& v, std::size_t count, const std::string& what) {
  expect(v, Json::Kind::array, what);
  if (v.items.size() != count)
    malformed(what + " has " + std::to_string(v.items.size()) + " values for " + std::to_string(count) + " columns");
  std::vector<RepairValue> out;
  for (const Json& item : v.items) {
    if (item.kind == Json::Kind::null) {
      out.emplace_back(std::nullopt);
      continue;
    }
    expect(item, Json::Kind::string, what + "'s value");
    out.emplace_back(item.text);
  }
  return out;
}

RepairRow keyed_row(const Json& row, const RepairMessage& m, const std::string& what) {
  const Json* values = optional_field(row, "values");
  const Json* absent = optional_field(row, "absent");
  if ((values != nullptr) == (absent != nullptr)) malformed(what + " needs exactly one of \"values\" and \"absent\"");
  if (row.fields.size() != 1) malformed(what + " has unknown fields");
  RepairRow r;
  if (values) {
    r.values = values_of(*values, m.columns.size(), what);
    for (std::size_t k : m.key)
      if (!r.values[k]) malformed(what + " has a NULL key column");
  } else {
    std::vector<std::string> key;
    for (auto& v : values_of(*absent, m.key.size(), what + "'s absent key")) {
      if (!v) malformed(what + " has a NULL key column");
      key.push_back(std::move(*v));
    }
    r.absent = std::move(key);
  }
  return r;
}

RepairRow keyless_row(const Json& row, const RepairMessage& m, const std::string& what) {
  if (row.fields.size() != 2) malformed(what + " needs \"values\" and \"copies\" and nothing else");
  RepairRow r;
  r.values = values_of(field(row, "values"), m.columns.size(), what);
  const Json& copies = field(row, "copies");
  expect(copies, Json::Kind::number, what + "'s copies");
  if (copies.number < 0 || copies.number > kMaxCopies) malformed(what + "'s copies out of range");
  r.copies = copies.number;
  return r;
}

}  // namespace

std::string encode_repair_message(const RepairMessage& m) {
  std::string out = "{\"format\":" + std::to_string(kFormat) + ",\"table\":{\"schema\":";
  append_string(out, m.table.schema);
  out += ",\"name\":";
  append_string(out, m.table.name);
  out += "},\"columns\":";
  append_array(out, m.columns, [&](const std::string& c) { append_string(out, c); });
  out += ",\"key\":";
  append_array(out, m.key, [&](std::size_t k) { out += std::to_string(k); });
  out += ",\"rows\":";
  append_array(out, m.rows, [&](const RepairRow& r) {
    if (r.absent) {
      out += "{\"absent\":";
      append_array(out, *r.absent, [&](const std::string& v) { append_string(out, v); });
      out += '}';
      return;
    }
    out += "{\"values\":";
    append_array(out, r.values, [&](const RepairValue& v) { append_value(out, v); });
    if (!m.keyed()) out += ",\"copies\":" + std::to_string(r.copies);
    out += '}';
  });
  out += '}';
  return out;
}

SignedRepair split_signature(std::string_view bytes) {
  constexpr std::size_t n = 64;
  if (bytes.size() <= n || bytes[n] != '\n' || bytes.substr(0, n).find_first_not_of("0123456789abcdef") != std::string_view::npos)
    return {"", bytes};
  return {std::string(bytes.substr(0, n)), bytes.substr(n + 1)};
}

std::string signed_repair(const std::string& signature, const std::string& payload) {
  return signature + "\n" + payload;
}

RepairMessage parse_repair_message(std::string_view text) {
  Json doc = Reader(text).document();
  expect(doc, Json::Kind::object, "the document");
  const Json& format = field(doc, "format");
  expect(format, Json::Kind::number, "\"format\"");
  if (format.number != kFormat)
    malformed("format " + std::to_string(format.number) + " is not " + std::to_string(kFormat) +
              " (written by another pgdts version)");
  RepairMessage m;
  const Json& table = field(doc, "table");
  expect(table, Json::Kind::object, "\"table\"");
  m.table.schema = name_text(field(table, "schema"), "the table's schema");
  m.table.name = name_text(field(table, "name"), "the table's name");
  const Json& columns = field(doc, "columns");
  expect(columns, Json::Kind::array, "\"columns\"");
  if (columns.items.empty()) malformed("no columns");
  std::set<std::string> seen;
  for (const Json& c : columns.items) {
    m.columns.push_back(name_text(c, "a column name"));
    if (!seen.insert(m.columns.back()).second) malformed("column \"" + m.columns.back() + "\" named twice");
  }
  const Json& key = field(doc, "key");
  expect(key, Json::Kind::array, "\"key\"");
  std::set<std::int64_t> key_seen;
  for (const Json& k : key.items) {
    expect(k, Json::Kind::number, "a key column");
    if (k.number < 0 || k.number >= static_cast<std::int64_t>(m.columns.size()) || !key_seen.insert(k.number).second)
      malformed("key column " + std::to_string(k.number) + " is no column or named twice");
    m.key.push_back(static_cast<std::size_t>(k.number));
  }
  const Json& rows = field(doc, "rows");
  expect(rows, Json::Kind::array, "\"rows\"");
  for (std::size_t i = 0; i < rows.items.size(); ++i) {
    std::string what = "row " + std::to_string(i + 1);
    expect(rows.items[i], Json::Kind::object, what);
    m.rows.push_back(m.keyed() ? keyed_row(rows.items[i], m, what) : keyless_row(rows.items[i], m, what));
  }
  return m;
}

}  // namespace pgdts::model
