#include "stream/json_printer.h"
#include "stream/timestamp.h"

#include <charconv>
#include <cmath>
#include <ctime>

namespace pgdts::stream {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void append_base64(std::string& out, std::string_view bytes) {
  static constexpr char kTable[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                 (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    out += kTable[(v >> 18) & 63];
    out += kTable[(v >> 12) & 63];
    out += kTable[(v >> 6) & 63];
    out += kTable[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    if (rest == 2) v |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    out += kTable[(v >> 18) & 63];
    out += kTable[(v >> 12) & 63];
    out += rest == 2 ? kTable[(v >> 6) & 63] : '=';
    out += '=';
  }
}

void append_lsn(std::string& out, pg::Lsn lsn) {
  out += '"';
  out += pg::format_lsn(lsn);
  out += '"';
}

template <class T>
void append_number(std::string& out, T v) {
  char buf[40];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_key(std::string& out, std::string_view key) {
  append_json_string(out, key);
  out += ':';
}

void append_text_value(std::string& out, std::string_view bytes) {
  if (is_valid_utf8(bytes)) {
    append_json_string(out, bytes);
  } else {
    out += "{\"base64\":\"";
    append_base64(out, bytes);
    out += "\"}";
  }
}

void append_value(std::string& out, const pgdts::Value& v) {
  switch (v.kind_case()) {
    case pgdts::Value::kIsNull:
      out += "null";
      break;
    case pgdts::Value::kUnchangedToast:
      out += "{\"unchanged_toast\":true}";
      break;
    case pgdts::Value::kIntValue:
      append_number(out, v.int_value());
      break;
    case pgdts::Value::kFloatValue: {
      double d = v.float_value();
      if (std::isnan(d)) out += "\"NaN\"";
      else if (std::isinf(d)) out += d > 0 ? "\"Infinity\"" : "\"-Infinity\"";
      else append_number(out, d);
      break;
    }
    case pgdts::Value::kBoolValue:
      out += v.bool_value() ? "true" : "false";
      break;
    case pgdts::Value::kBinaryValue: {
      const std::string& b = v.binary_value();
      out += "\"\\\\x";
      for (unsigned char c : b) {
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
      out += '"';
      break;
    }
    case pgdts::Value::kTextValue:
      append_text_value(out, v.text_value());
      break;
    default:
      out += "{\"missing\":true}";
  }
}

// Values of a tuple; keyed by column name. With key_only, the tuple holds
// one value per key column (a KEY old image).
void append_tuple(std::string& out, const pgdts::Tuple& tuple, const Relation* rel,
                  bool key_only) {
  const auto& values = tuple.values();
  const std::vector<int>* key = key_only && rel ? &rel->key_columns : nullptr;
  bool named = rel && (key ? key->size() == static_cast<size_t>(values.size())
                           : rel->columns.size() == static_cast<size_t>(values.size()));
  out += named ? '{' : '[';
  for (int i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    if (named) append_key(out, rel->columns[key ? (*key)[i] : i].name);
    append_value(out, values[i]);
  }
  out += named ? '}' : ']';
}

void append_relation_ref(std::string& out, std::uint32_t oid, const Relation* rel) {
  out += "\"relation_oid\":";
  append_number(out, oid);
  if (rel) {
    out += ",\"schema\":";
    append_json_string(out, rel->schema);
    out += ",\"table\":";
    append_json_string(out, rel->name);
  }
}

const char* old_image_name(pgdts::OldImage image) {
  switch (image) {
    case pgdts::OLD_IMAGE_KEY: return "key";
    case pgdts::OLD_IMAGE_FULL: return "full";
    default: return "none";
  }
}

const char* identity_name(pgdts::ReplicaIdentity identity) {
  switch (identity) {
    case pgdts::REPLICA_IDENTITY_NOTHING: return "nothing";
    case pgdts::REPLICA_IDENTITY_FULL: return "full";
    case pgdts::REPLICA_IDENTITY_INDEX: return "index";
    default: return "default";
  }
}

void append_old(std::string& out, pgdts::OldImage image, bool has_old, const pgdts::Tuple& old,
                const Relation* rel) {
  out += ",\"old_image\":\"";
  out += old_image_name(image);
  out += '"';
  if (has_old) {
    out += ",\"old\":";
    append_tuple(out, old, rel, image == pgdts::OLD_IMAGE_KEY);
  }
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    std::uint32_t cp;
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (i + len > n) return false;
    for (int k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

std::string format_iso_timestamp(std::int64_t unix_micros) {
  return format_utc(unix_micros, 'T', "Z");
}

void append_json_line(const pgdts::Record& record, pg::Lsn lsn, const RelationCache& relations,
                      std::string& out) {
  out += "{\"lsn\":";
  append_lsn(out, lsn);
  switch (record.kind_case()) {
    case pgdts::Record::kBegin: {
      const auto& b = record.begin();
      out += ",\"begin\":{\"xid\":";
      append_number(out, b.xid());
      out += ",\"final_lsn\":";
      append_lsn(out, b.final_lsn());
      out += ",\"commit_time\":";
      append_json_string(out, format_iso_timestamp(b.commit_time()));
      out += ",\"origin_id\":";
      append_number(out, b.origin_id());
      out += ",\"format_version\":";
      append_number(out, b.format_version());
      out += '}';
      break;
    }
    case pgdts::Record::kCommit: {
      const auto& c = record.commit();
      out += ",\"commit\":{\"xid\":";
      append_number(out, c.xid());
      out += ",\"commit_lsn\":";
      append_lsn(out, c.commit_lsn());
      out += ",\"end_lsn\":";
      append_lsn(out, c.end_lsn());
      out += ",\"commit_time\":";
      append_json_string(out, format_iso_timestamp(c.commit_time()));
      out += '}';
      break;
    }
    case pgdts::Record::kRelation: {
      const auto& r = record.relation();
      out += ",\"relation\":{\"oid\":";
      append_number(out, r.oid());
      out += ",\"schema\":";
      append_json_string(out, r.schema());
      out += ",\"name\":";
      append_json_string(out, r.name());
      out += ",\"replica_identity\":\"";
      out += identity_name(r.replica_identity());
      out += "\",\"columns\":[";
      for (int i = 0; i < r.columns_size(); ++i) {
        const auto& c = r.columns(i);
        if (i) out += ',';
        out += "{\"name\":";
        append_json_string(out, c.name());
        out += ",\"type\":";
        append_json_string(out, c.type_name());
        out += ",\"type_oid\":";
        append_number(out, c.type_oid());
        out += ",\"type_modifier\":";
        append_number(out, c.type_modifier());
        out += ",\"key\":";
        out += c.is_key() ? "true" : "false";
        out += '}';
      }
      out += "]}";
      break;
    }
    case pgdts::Record::kInsert: {
      const auto& i = record.insert();
      const Relation* rel = relations.find(i.relation_oid());
      out += ",\"insert\":{";
      append_relation_ref(out, i.relation_oid(), rel);
      out += ",\"new\":";
      append_tuple(out, i.new_tuple(), rel, false);
      out += '}';
      break;
    }
    case pgdts::Record::kUpdate: {
      const auto& u = record.update();
      const Relation* rel = relations.find(u.relation_oid());
      out += ",\"update\":{";
      append_relation_ref(out, u.relation_oid(), rel);
      append_old(out, u.old_image(), u.has_old_tuple(), u.old_tuple(), rel);
      out += ",\"new\":";
      append_tuple(out, u.new_tuple(), rel, false);
      out += '}';
      break;
    }
    case pgdts::Record::kDelete: {
      const auto& d = record.delete_();
      const Relation* rel = relations.find(d.relation_oid());
      out += ",\"delete\":{";
      append_relation_ref(out, d.relation_oid(), rel);
      append_old(out, d.old_image(), d.has_old_tuple(), d.old_tuple(), rel);
      out += '}';
      break;
    }
    case pgdts::Record::kTruncate: {
      const auto& t = record.truncate();
      out += ",\"truncate\":{\"relations\":[";
      for (int i = 0; i < t.relation_oids_size(); ++i) {
        if (i) out += ',';
        const Relation* rel = relations.find(t.relation_oids(i));
        out += '{';
        append_relation_ref(out, t.relation_oids(i), rel);
        out += '}';
      }
      out += "],\"restart_identity\":";
      out += t.restart_identity() ? "true" : "false";
      out += ",\"cascade\":";
      out += t.cascade() ? "true" : "false";
      out += '}';
      break;
    }
    case pgdts::Record::kMessage: {
      const auto& m = record.message();
      out += ",\"message\":{\"transactional\":";
      out += m.transactional() ? "true" : "false";
      out += ",\"prefix\":";
      append_json_string(out, m.prefix());
      out += ",\"content\":";
      append_text_value(out, m.content());
      out += ",\"lsn\":";
      append_lsn(out, m.lsn());
      out += '}';
      break;
    }
    case pgdts::Record::kDdl: {
      const auto& d = record.ddl();
      out += ",\"ddl\":{\"command_tag\":";
      append_json_string(out, d.command_tag());
      out += ",\"statement\":";
      // A DDL's text may hold a password (ALTER SERVER ... OPTIONS (password
      // '...')): redacted like every string (append_json_string).
      append_text_value(out, d.statement());
      out += ",\"search_path\":";
      append_json_string(out, d.search_path());
      out += ",\"role\":";
      append_json_string(out, d.role());
      out += ",\"object_type\":";
      append_json_string(out, d.object_type());
      out += ",\"schema\":";
      append_json_string(out, d.schema());
      out += ",\"object_identities\":[";
      for (int i = 0; i < d.object_identities_size(); ++i) {
        if (i) out += ',';
        append_json_string(out, d.object_identities(i));
      }
      out += "],\"role_superuser\":";
      out += d.role_superuser() ? "true" : "false";
      out += ",\"settings\":{";
      for (int i = 0; i < d.settings_size(); ++i) {
        if (i) out += ',';
        append_json_string(out, d.settings(i).name());
        out += ':';
        append_json_string(out, d.settings(i).value());
      }
      out += "},\"resolved\":[";
      for (int i = 0; i < d.resolved_size(); ++i) {
        if (i) out += ',';
        out += "{\"name\":";
        append_json_string(out, d.resolved(i).name());
        out += ",\"schema\":";
        append_json_string(out, d.resolved(i).schema());
        out += '}';
      }
      out += "]}";
      break;
    }
    default:
      out += ",\"unknown\":{}";
  }
  out += "}\n";
}

}  // namespace pgdts::stream
