// Who owns what pgdts creates on the destination, and whose rights
// replayed DDL runs with (docs/security.md): one policy for schema sync,
// full sync and the change apply, from --no-owner and --owner-role.
#pragma once

#include <optional>
#include <string>

namespace pgdts::rights {

struct Ownership {
  // Objects keep their source owners and grants, and each DDL runs as the
  // role that ran it on the source (the same role names on both sides).
  bool keep_owners = true;
  // --no-owner: the role that owns every object and runs every DDL; empty:
  // the destination connection's user.
  std::string owner_role;

  // The destination role that must own what the source's `source_owner`
  // owns; nullopt: whoever created it.
  std::optional<std::string> role_for(const std::string& source_owner) const {
    if (keep_owners) return source_owner;
    if (owner_role.empty()) return std::nullopt;
    return owner_role;
  }
};

}  // namespace pgdts::rights
