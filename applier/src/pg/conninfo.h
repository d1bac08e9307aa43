// Connection strings (libpq key/value form or URI): validation, masking of
// passwords for anything that is printed, and the parameters pgdts adds.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgdts::pg {

// The conninfo with every password value replaced by ****: in key/value form
// (password=..., sslpassword=...), in a URI's user info (user:secret@host)
// and in a URI's query (?password=...). See secrets/redact.h.
std::string mask_password(std::string_view conninfo);

class ConnInfo {
 public:
  using Params = std::vector<std::pair<std::string, std::string>>;

  // Parses text with PQconninfoParse and checks the values libpq would only
  // check when connecting (port, timeouts, sslmode, ...). Throws UsageError
  // naming `option` (e.g. "--source"), never quoting a password, when
  // either fails. Its secrets are remembered (secrets::remember_conninfo),
  // so that whatever libpq echoes of them later is masked.
  static ConnInfo parse(std::string_view text, std::string_view option);

  ConnInfo() = default;
  bool empty() const { return text_.empty(); }
  // As given: may hold a password, never print it; use masked().
  const std::string& text() const { return text_; }
  std::string masked() const { return mask_password(text_); }
  // The parameters the string sets explicitly (libpq's defaults and PG*
  // variables are applied at connect time, not here).
  const Params& params() const { return params_; }
  std::optional<std::string> get(std::string_view key) const;

 private:
  std::string text_;
  Params params_;
};

}  // namespace pgdts::pg
