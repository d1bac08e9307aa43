// verify --repair's messages, replayed (docs/verify.md, "Repair").
//
// pgdts verify --repair locks the table on the source, reads the current
// source rows of the keys (or row values) that differ, and emits them as a
// transactional logical message 'pgdts_repair' in the same transaction. So
// the message holds exactly the source's state at its commit, and arrives
// here at that place in the stream: after every change that committed
// before it, before every change that commits after it. Writing it in its
// group's transaction, like any change, is what orders the repair with the
// stream: it cannot be overwritten by an older change nor overwrite a newer
// one.
//
// The message is source input like any other: its table is mapped with the
// task's own names and must be in the task, and its rows are written with
// the same rights as the stream's rows of that table (send()).
#include <algorithm>

#include "apply/applier.h"
#include "apply/statement_sql.h"
#include "error.h"
#include "logging/log.h"

namespace pgdts::apply {
namespace {

// A repair row's values as a change's values (text or NULL), in column order.
pgdts::Tuple tuple_of(const std::vector<model::RepairValue>& values) {
  pgdts::Tuple t;
  for (const auto& v : values) {
    pgdts::Value* out = t.add_values();
    if (v)
      out->set_text_value(*v);
    else
      out->set_is_null(true);
  }
  return t;
}

// An absent key placed at its columns' positions (the others NULL, not sent).
pgdts::Tuple key_tuple(const model::RepairMessage& m, const std::vector<std::string>& key) {
  std::vector<model::RepairValue> values(m.columns.size());
  for (std::size_t k = 0; k < m.key.size(); ++k) values[m.key[k]] = key[k];
  return tuple_of(values);
}

std::vector<std::size_t> all_columns(std::size_t n) {
  std::vector<std::size_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = i;
  return out;
}

}  // namespace

void Applier::repair(const pgdts::Message& msg, pg::Lsn lsn) {
  require_transaction("repair message", lsn);
  if (skip_txn_) return;
  model::SignedRepair signed_message = model::split_signature(msg.content());
  if (!catalog_.repair_signed(signed_message.payload, signed_message.signature)) {
    // Any source role may emit a message with this prefix; one without the
    // task's signature did not come from verify --repair. Skipped, not
    // stopped on: a source role must not be able to stop the task either.
    log::Event("repair_skipped")
        .field("lsn", pg::format_lsn(lsn))
        .field("reason", "not signed with the task's key (not written by pgdts verify --repair of this task)")
        .warn();
    return;
  }
  model::RepairMessage m;
  try {
    m = model::parse_repair_message(signed_message.payload);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + ", in the message at source LSN " + pg::format_lsn(lsn) +
                " (prefix " + model::kRepairPrefix + ", signed with the task's key: written by a pgdts verify " +
                "--repair of another version?)");
  }
  std::optional<stream::Relation> rel = repair_relation(m, lsn);
  if (!rel) return;
  write_all_held();  // every earlier change of the group first, in order
  RepairCounts c = m.keyed() ? repair_keyed(*rel, m, lsn) : repair_keyless(*rel, m, lsn);
  group_repaired_ += c.upserted + c.deleted;
  log::Event("repair_applied")
      .field("table", rel->display_name)
      .field("lsn", pg::format_lsn(lsn))
      .field("upserted", c.upserted)
      .field("deleted", c.deleted)
      .info();
}

std::optional<stream::Relation> Applier::repair_relation(const model::RepairMessage& m, pg::Lsn lsn) {
  stream::Relation rel;
  rel.source_schema = rel.schema = m.table.schema;
  rel.source_name = rel.name = m.table.name;
  rel.display_name = model::display_name(m.table);
  for (const auto& c : m.columns) rel.columns.push_back(stream::Column{c, 0, -1, "", false});
  for (std::size_t k : m.key) {
    rel.columns[k].is_key = true;
    rel.key_columns.push_back(static_cast<int>(k));
  }
  std::sort(rel.key_columns.begin(), rel.key_columns.end());
  rel.version = next_repair_version_++;
  scope_.adjust(rel);
  auto skip = [&](const std::string& reason) {
    log::Event("repair_skipped")
        .field("table", rel.display_name)
        .field("lsn", pg::format_lsn(lsn))
        .field("reason", reason)
        .warn();
    return std::nullopt;
  };
  if (!rel.in_task) return skip("the table is not in this task");
  // Full sync copied the table after the message: the copy is newer.
  if (final_lsn_ < rel.copied_at) return skip("the table's full-sync copy is newer than the repair");
  const TableTraits& t = traits(rel);
  if (!t.found) return skip("no such table on the destination");
  for (std::size_t c = 0; c < rel.columns.size(); ++c)
    if (c >= t.column_types.size() || t.column_types[c].empty())
      return skip("column " + rel.columns[c].name + " is not on the destination (was verify run with the task's --map?)");
  return rel;
}

void Applier::send_repair_row(const stream::Relation& rel, const Statement& st, const pgdts::Tuple& row,
                              const std::vector<std::size_t>& columns, const std::string* extra, pg::Lsn lsn) {
  params_.clear();
  for (std::size_t c : columns) params_.add(row.values(static_cast<int>(c)), 0, static_cast<int>(c));
  if (extra) params_.add_text(*extra);
  send(rel, st, lsn, 0);
}

// Present rows: INSERT ... ON CONFLICT (key) DO UPDATE SET every other
// column; absent keys: DELETE by key. Text values, which the destination
// reads as its own column types.
Applier::RepairCounts Applier::repair_keyed(const stream::Relation& rel, const model::RepairMessage& m,
                                            pg::Lsn lsn) {
  const TableTraits& t = traits(rel);
  TableNames names = table_names(rel.schema, rel.name, column_names(rel),
                                 t.equal_operators.empty() ? nullptr : &t.equal_operators);
  std::size_t n = rel.columns.size();
  const Statement* upsert = nullptr;
  const Statement* remove = nullptr;
  std::vector<std::size_t> every = all_columns(n), keys;
  for (int k : rel.key_columns) keys.push_back(static_cast<std::size_t>(k));
  RepairCounts counts;
  for (const model::RepairRow& row : m.rows) {
    if (row.absent) {
      if (!remove) {
        set_.clear();
        where_.assign(n, code::kSkip);
        for (std::size_t k : keys) where_[k] = code::kEqual;
        key_.clear();
        append_version(key_, rel.version, 'D');
        remove = &prepare(delete_sql(names, where_, false), "repair (DELETE) of " + rel.display_name, lsn);
      }
      send_repair_row(rel, *remove, key_tuple(m, *row.absent), keys, nullptr, lsn);
      ++counts.deleted;
      continue;
    }
    if (!upsert) {
      set_.assign(n, code::kValue);
      where_.clear();
      key_.clear();
      append_version(key_, rel.version, 'U');
      upsert = &prepare(insert_sql(names, set_, 1, &rel.key_columns), "repair (upsert) of " + rel.display_name, lsn);
    }
    send_repair_row(rel, *upsert, tuple_of(row.values), every, nullptr, lsn);
    ++counts.upserted;
  }
  return counts;
}

// Per row value: every destination row equal to it is deleted, then as many
// copies as the source holds are inserted (a multiset difference).
Applier::RepairCounts Applier::repair_keyless(const stream::Relation& rel, const model::RepairMessage& m,
                                              pg::Lsn lsn) {
  const TableTraits& t = traits(rel);
  TableNames names = table_names(rel.schema, rel.name, column_names(rel));
  std::size_t n = rel.columns.size();
  std::vector<std::string> types(t.column_types.begin(), t.column_types.begin() + static_cast<std::ptrdiff_t>(n));
  std::vector<std::size_t> every = all_columns(n);
  where_.clear();
  set_.assign(n, code::kValue);
  key_.clear();
  append_version(key_, rel.version, 'E');
  const Statement& remove = prepare(delete_equal_rows_sql(names, types), "repair (DELETE) of " + rel.display_name, lsn);
  set_.assign(n + 1, code::kValue);  // the values and the number of copies
  key_.clear();
  append_version(key_, rel.version, 'C');
  const Statement& insert = prepare(insert_copies_sql(names, types), "repair (INSERT) of " + rel.display_name, lsn);
  RepairCounts counts;
  for (const model::RepairRow& row : m.rows) {
    pgdts::Tuple values = tuple_of(row.values);
    send_repair_row(rel, remove, values, every, nullptr, lsn);
    ++counts.deleted;
    if (row.copies == 0) continue;
    std::string copies = std::to_string(row.copies);
    send_repair_row(rel, insert, values, every, &copies, lsn);
    counts.upserted += static_cast<std::uint64_t>(row.copies);
  }
  return counts;
}

}  // namespace pgdts::apply
