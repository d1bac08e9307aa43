// A logical replication stream over a walsender connection
// (replication=database): slot inspection and creation, START_REPLICATION,
// reading XLogData and keepalive messages, sending standby status updates.
// The message formats are those of PostgreSQL's streaming replication
// protocol (see pg_recvlogical.c).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "pg/connection.h"
#include "pg/lsn.h"

namespace pgdts::pg {

struct SystemIdentity {
  std::string system_id;
  std::uint32_t timeline = 0;
  Lsn xlogpos = 0;
  std::string dbname;
};

struct SlotInfo {
  std::string plugin;
  std::string database;
  std::string slot_type;
  std::optional<int> active_pid;
  Lsn confirmed_flush = 0;
};

class ReplicationStream {
 public:
  struct Message {
    enum class Kind { none, data, keepalive };
    Kind kind = Kind::none;
    Lsn data_start = 0;           // data: WAL position of the record
    Lsn wal_end = 0;              // server's position when sent
    bool reply_requested = false; // keepalive: answer at once
    std::string_view payload;     // data: valid until the next read()
  };

  // conn must have been opened with replication = true.
  explicit ReplicationStream(Connection conn);

  SystemIdentity identify_system();
  std::optional<SlotInfo> find_slot(const std::string& name);
  // CREATE_REPLICATION_SLOT ... LOGICAL <plugin> (SNAPSHOT 'nothing');
  // returns the slot's consistent point.
  Lsn create_slot(const std::string& name, const std::string& plugin);
  // CREATE_REPLICATION_SLOT ... [TEMPORARY] LOGICAL <plugin> (SNAPSHOT
  // 'export'): the snapshot sees exactly the transactions that committed
  // before the consistent point, and can be imported (SET TRANSACTION
  // SNAPSHOT) until the next command on this connection or its end; a
  // temporary slot is dropped when the connection ends.
  struct ExportedSnapshot {
    Lsn consistent_point = 0;
    std::string snapshot;
  };
  ExportedSnapshot create_slot_exporting(const std::string& name, const std::string& plugin,
                                         bool temporary);
  // START_REPLICATION SLOT ... LOGICAL <lsn> (options). Throws SqlError
  // (e.g. SQLSTATE 55006 when the slot is active elsewhere).
  void start(const std::string& slot, Lsn start,
             const std::vector<std::pair<std::string, std::string>>& plugin_options);

  // The next message if one has arrived, else Kind::none; never blocks.
  // Throws ConnectionError when the connection is lost or the server ends
  // the stream.
  Message read();
  // Sends a standby status update (write/flush/apply positions).
  void send_status(Lsn write, Lsn flush, Lsn apply, bool reply_requested);

  int socket() const { return conn_.socket(); }
  Connection& connection() { return conn_; }

 private:
  struct CopyBufferDeleter {
    void operator()(char* p) const;
  };

  Connection conn_;
  std::unique_ptr<char, CopyBufferDeleter> buffer_;  // the last message read
};

// Microseconds since 2000-01-01 (PostgreSQL's epoch), for status updates.
std::int64_t postgres_now();

}  // namespace pgdts::pg
