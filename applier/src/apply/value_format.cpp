#include "apply/value_format.h"

#include <charconv>
#include <cmath>
#include <cstring>

#include "error.h"

namespace pgdts::apply {
namespace {

std::string_view put(const char* text, char* buf, std::size_t size) {
  std::size_t n = std::strlen(text);
  std::memcpy(buf, text, n + 1);
  (void)size;
  return {buf, n};
}

// One element of an array literal: quoted, bytea (binary) as \x hex.
void append_array_element(std::string& out, const char* v, int length, bool binary) {
  static const char kHex[] = "0123456789abcdef";
  out += '"';
  if (binary) {
    out += "\\\\x";
    for (int b = 0; b < length; ++b) {
      unsigned char u = static_cast<unsigned char>(v[b]);
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  } else {
    for (const char* p = v; *p; ++p) {
      if (*p == '"' || *p == '\\') out += '\\';
      out += *p;
    }
  }
  out += '"';
}

}  // namespace

std::string_view format_float(double v, bool as_float4, char* buf, std::size_t size) {
  if (std::isnan(v)) return put("NaN", buf, size);
  if (std::isinf(v)) return put(v > 0 ? "Infinity" : "-Infinity", buf, size);
  // std::to_chars without a precision gives the shortest text that reads
  // back as the same value (and "-0" for negative zero).
  auto r = as_float4 ? std::to_chars(buf, buf + size - 1, static_cast<float>(v))
                     : std::to_chars(buf, buf + size - 1, v);
  *r.ptr = '\0';
  return {buf, static_cast<std::size_t>(r.ptr - buf)};
}

std::string_view format_int(std::int64_t v, char* buf, std::size_t size) {
  auto r = std::to_chars(buf, buf + size - 1, v);
  *r.ptr = '\0';
  return {buf, static_cast<std::size_t>(r.ptr - buf)};
}

std::size_t ParamBuffer::next_slot() {
  if (count_ == values_.size()) {
    std::size_t n = values_.empty() ? 16 : values_.size() * 2;
    values_.resize(n);
    lengths_.resize(n);
    formats_.resize(n);
    columns_.resize(n);
    scratch_.resize(n);
  }
  return count_++;
}

void ParamBuffer::add_null() {
  std::size_t i = next_slot();
  values_[i] = nullptr;
  lengths_[i] = 0;
  formats_[i] = 0;
  columns_[i] = -1;
}

void ParamBuffer::add(const pgdts::Value& value, std::uint32_t type_oid, int column) {
  std::size_t i = next_slot();
  columns_[i] = column;
  lengths_[i] = 0;
  formats_[i] = 0;
  char* buf = scratch_[i].data();
  constexpr std::size_t size = std::tuple_size_v<std::array<char, 48>>;
  switch (value.kind_case()) {
    case pgdts::Value::kIsNull:
      values_[i] = nullptr;
      break;
    case pgdts::Value::kIntValue:
      values_[i] = format_int(value.int_value(), buf, size).data();
      break;
    case pgdts::Value::kFloatValue:
      values_[i] = format_float(value.float_value(), type_oid == kFloat4Oid, buf, size).data();
      break;
    case pgdts::Value::kBoolValue:
      values_[i] = value.bool_value() ? "t" : "f";
      break;
    case pgdts::Value::kBinaryValue:
      // Binary format: bytea's wire format is its bytes. (An empty value
      // still needs a non-null pointer: null means SQL NULL.)
      values_[i] = value.binary_value().data();
      lengths_[i] = static_cast<int>(value.binary_value().size());
      formats_[i] = 1;
      break;
    case pgdts::Value::kTextValue:
      // protobuf strings are NUL-terminated, as text parameters must be.
      values_[i] = value.text_value().c_str();
      break;
    case pgdts::Value::kUnchangedToast:
      throw Error("internal error: an unchanged TOAST value cannot be a parameter");
    default:
      throw Error("change record holds a value of no known kind");
  }
}

std::string with_array_parameters(std::string_view sql, const std::vector<std::string>& types) {
  std::string out;
  out.reserve(sql.size() + types.size() * 24);
  bool quoted = false;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    char c = sql[i];
    if (c == '"') quoted = !quoted;
    if (quoted || c != '$' || i + 1 >= sql.size() || sql[i + 1] < '0' || sql[i + 1] > '9') {
      out += c;
      continue;
    }
    std::size_t k = 0, j = i + 1;
    for (; j < sql.size() && sql[j] >= '0' && sql[j] <= '9'; ++j) k = k * 10 + (sql[j] - '0');
    out += "($1)[" + std::to_string(k) + "]";
    if (k >= 1 && k <= types.size() && !types[k - 1].empty()) out += "::" + types[k - 1];
    i = j - 1;
  }
  return out;
}

std::string parameters_as_text_array(const ParamBuffer& params) {
  std::string out = "{";
  for (int i = 0; i < params.size(); ++i) {
    if (i) out += ',';
    const char* v = params.values()[i];
    if (v)
      append_array_element(out, v, params.lengths()[i], params.formats()[i] == 1);
    else
      out += "NULL";
  }
  return out + "}";
}

void ParamBuffer::add_text(const std::string& text) {
  std::size_t i = next_slot();
  values_[i] = text.c_str();
  lengths_[i] = 0;
  formats_[i] = 0;
  columns_[i] = -1;
}

void ColumnArrays::reset(std::size_t columns) {
  if (arrays_.size() < columns) arrays_.resize(columns);
  for (std::string& a : arrays_) a.assign(1, '{');
}

void ColumnArrays::add(std::size_t column, const pgdts::Value& value, std::uint32_t type_oid) {
  std::string& out = arrays_[column];
  if (out.size() > 1) out += ',';
  constexpr std::size_t size = sizeof scratch_;
  switch (value.kind_case()) {
    case pgdts::Value::kIsNull:
      out += "NULL";
      break;
    case pgdts::Value::kIntValue:
      out += format_int(value.int_value(), scratch_, size);
      break;
    case pgdts::Value::kFloatValue:
      out += format_float(value.float_value(), type_oid == kFloat4Oid, scratch_, size);
      break;
    case pgdts::Value::kBoolValue:
      out += value.bool_value() ? 't' : 'f';
      break;
    case pgdts::Value::kBinaryValue:
      append_array_element(out, value.binary_value().data(),
                           static_cast<int>(value.binary_value().size()), true);
      break;
    case pgdts::Value::kTextValue:
      append_array_element(out, value.text_value().c_str(), 0, false);
      break;
    case pgdts::Value::kUnchangedToast:
      throw Error("internal error: an unchanged TOAST value cannot be an array element");
    default:
      throw Error("change record holds a value of no known kind");
  }
}

const std::string& ColumnArrays::literal(std::size_t column) {
  arrays_[column] += '}';
  return arrays_[column];
}

}  // namespace pgdts::apply
