// Secrets never leave the process: redact() is the one function every
// output passes text through (log lines, error lines, pgdts status, alert
// payloads, metric labels, the destination's pgdts.task.last_error, stream's
// DDL records). It masks, wherever they appear in the text:
//
//   * conninfo key=value pairs whose key names a secret (password,
//     sslpassword, PGPASSWORD, pwd, ...): the value, quoted or not, also
//     inside a SQL literal ('host=x password=secret') and SQL-doubled quotes;
//   * URIs (postgresql://, or any scheme://): the password of the user info
//     (up to the last '@', so that an unencoded '/', '?', '#' or '@' in it is
//     masked too) and query parameters whose percent-decoded key names a
//     secret (?password=, ?pass%77ord=, ?sslpassword=);
//   * SQL: a string constant ('...', E'...', U&'...', $tag$...$tag$) that
//     follows a word naming a secret: ALTER ROLE r PASSWORD '...',
//     OPTIONS (password '...'), OPTIONS (SET "password" '...');
//   * every secret pgdts was given (remember(), remember_conninfo(): the
//     passwords of --source and --target, PGPASSWORD), wherever it appears,
//     e.g. echoed inside a libpq message.
//
// A masked value reads ****. What cannot be parsed is masked to the end of
// the text: masking too much is always preferred to masking too little.
// Sinks that escape text (JSON, quoted log fields) redact before escaping.
#pragma once

#include <string>
#include <string_view>

namespace pgdts::secrets {

inline constexpr std::string_view kMask = "****";

// text with every secret masked (see above). Thread-safe.
std::string redact(std::string_view text);

// The connection string given as a whole (key/value or URI), every secret
// value masked: unlike redact(), a URI's extent is the whole text, so a
// password holding spaces is masked too.
std::string mask_conninfo(std::string_view conninfo);

// Masks this value wherever redact() meets it from now on. Values shorter
// than 6 characters are not remembered (masking every "ab" would make logs
// unreadable, and libpq echoes passwords only through malformed URIs).
void remember(std::string_view secret);

// Remembers every secret value of a connection string given to pgdts: as
// written, unquoted and percent-decoded.
void remember_conninfo(std::string_view conninfo);

// True when the connection string holds a secret that mask_conninfo masks.
bool has_secret(std::string_view conninfo);

}  // namespace pgdts::secrets
