"""DDL replay: each captured DDL is replayed on the destination at its place
among the data changes, with writers running between the DDL; afterwards the
destination's catalog definition of every table equals the source's
(compared through the catalogs) and so do its rows. DDL outside the task is
skipped without blocking the stream, mapped names are used, a failing DDL
stops the apply at its transaction, and a kill -9 never replays a DDL twice."""

import random
import threading
import time

import psycopg

from compare_rows import assert_tables_equal
from processes import run_on_both, wait_caught_up


# ---------------------------------------------------------------------------
# catalog comparison (what \d shows, through the catalogs)

def table_definition(cluster, schema: str, table: str) -> dict:
    """The definition of one table, in names only (no OIDs, no attnums)."""
    rel = f'"{schema}"."{table}"'
    q = cluster.sql
    kind = q("SELECT c.relkind, c.relreplident, pg_get_partkeydef(c.oid),"
             " pg_get_expr(c.relpartbound, c.oid)"
             " FROM pg_class c WHERE c.oid = %s::regclass", [rel])
    columns = q("SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
                " pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated"
                " FROM pg_attribute a LEFT JOIN pg_attrdef d"
                "   ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
                " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped"
                " ORDER BY a.attnum", [rel])
    constraints = q("SELECT conname, contype, pg_get_constraintdef(oid) FROM pg_constraint"
                    " WHERE conrelid = %s::regclass ORDER BY conname", [rel])
    indexes = q("SELECT c.relname, pg_get_indexdef(i.indexrelid), i.indisvalid, i.indisreplident"
                " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE i.indrelid = %s::regclass ORDER BY c.relname", [rel])
    sequences = q("SELECT s.relname, a.attname, q.seqincrement, q.seqstart, q.seqmin, q.seqmax,"
                  " q.seqcycle"
                  " FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'"
                  " JOIN pg_sequence q ON q.seqrelid = s.oid"
                  " JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
                  " WHERE d.refobjid = %s::regclass AND d.deptype IN ('a', 'i')"
                  " ORDER BY s.relname", [rel])
    return {"kind": kind, "columns": columns, "constraints": constraints,
            "indexes": indexes, "sequences": sequences}


def user_tables(cluster, schema: str = "public") -> list[str]:
    return [r[0] for r in cluster.sql(
        "SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = %s AND c.relkind IN ('r', 'p') ORDER BY relname", [schema])]


def assert_definitions_equal(source, dest, schema: str = "public") -> list[str]:
    tables = user_tables(source, schema)
    assert user_tables(dest, schema) == tables, "the destination has other tables"
    for t in tables:
        s, d = table_definition(source, schema, t), table_definition(dest, schema, t)
        for part in s:
            assert s[part] == d[part], f"{schema}.{t}: {part} differ\nsource: {s[part]}\ndest:   {d[part]}"
    return tables


# ---------------------------------------------------------------------------
# writers running between the DDL

class Writer:
    """Inserts and updates rows of a table in a loop, with a column list
    that every DDL of the test keeps valid, until stopped."""

    def __init__(self, cluster, table: str, columns: str = "v", value=lambda i: (f"w{i}",)):
        self.cluster, self.table, self.columns, self.value = cluster, table, columns, value
        self.stop_flag = threading.Event()
        self.count = 0
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            with self.cluster.connect() as conn:
                i = 0
                while not self.stop_flag.is_set():
                    i += 1
                    marks = ", ".join(["%s"] * len(self.value(i)))
                    conn.execute(f"INSERT INTO {self.table} ({self.columns}) VALUES ({marks})",
                                 self.value(i))
                    if i % 3 == 0:
                        conn.execute(f"UPDATE {self.table} SET v = v || '+' WHERE v = %s",
                                     (f"w{i - 1}",))
                    self.count = i
                    time.sleep(0.005)
        except Exception as e:  # reported by stop()
            self.error = e

    def stop(self):
        self.stop_flag.set()
        self.thread.join(30)
        assert self.error is None, f"writer failed: {self.error}"
        assert self.count > 0


def _wait_for_log(app, needle: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while needle not in app.logs():
        assert app.alive(), f"pgdts exited:\n{app.log_tail()}"
        assert time.monotonic() < deadline, f"no {needle!r} in the log:\n{app.log_tail()}"
        time.sleep(0.2)


# ---------------------------------------------------------------------------

COVERED_DDL = [
    # CREATE TABLE: primary key, unique, foreign key, check, default, identity
    "CREATE TABLE item (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " code text UNIQUE, parent_id int REFERENCES parent (id) ON DELETE CASCADE,"
    " qty int NOT NULL DEFAULT 0 CHECK (qty >= 0), note text DEFAULT 'none')",
    "INSERT INTO item (code, parent_id, qty) SELECT 'c' || i, 1 + i % 3, i FROM generate_series(1, 20) i",
    # partitioned table and partitions; rows routed to them
    "CREATE TABLE ev (id int, at date NOT NULL, v text) PARTITION BY RANGE (at)",
    "CREATE TABLE ev_2024 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
    "CREATE TABLE ev_2025 PARTITION OF ev FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
    "INSERT INTO ev SELECT i, date '2024-06-01' + i * 3, 'e' || i FROM generate_series(1, 100) i",
    # ALTER TABLE on the table the writer writes
    "ALTER TABLE t ADD COLUMN extra int",
    "ALTER TABLE t ADD COLUMN d text DEFAULT 'dflt'",
    "ALTER TABLE t RENAME COLUMN extra TO extra2",
    "UPDATE t SET extra2 = id WHERE id % 2 = 0",
    "ALTER TABLE t ALTER COLUMN extra2 TYPE text USING extra2::text || '!'",
    "ALTER TABLE t ALTER COLUMN d SET DEFAULT 'd2'",
    "ALTER TABLE t ALTER COLUMN n SET DEFAULT 7",
    "ALTER TABLE t ALTER COLUMN n DROP DEFAULT",
    "ALTER TABLE t ALTER COLUMN v SET NOT NULL",
    "ALTER TABLE t ALTER COLUMN v DROP NOT NULL",
    "ALTER TABLE t ADD CONSTRAINT t_id_check CHECK (id > 0)",
    "ALTER TABLE t ADD COLUMN pid int",
    "ALTER TABLE t ADD CONSTRAINT t_pid_fkey FOREIGN KEY (pid) REFERENCES parent (id)",
    "ALTER TABLE t ADD CONSTRAINT t_id_v_key UNIQUE (id, v)",
    "ALTER TABLE t DROP CONSTRAINT t_id_check",
    "ALTER TABLE t DROP COLUMN extra2",
    "CREATE TABLE nokey (a int NOT NULL, b text)",
    "INSERT INTO nokey SELECT i, 'b' || i FROM generate_series(1, 10) i",
    "ALTER TABLE nokey ADD PRIMARY KEY (a)",
    "UPDATE nokey SET b = 'changed' WHERE a < 4",
    # indexes
    "CREATE INDEX t_n_idx ON t (n) WHERE n > 0",
    "CREATE INDEX CONCURRENTLY ON t (d)",
    "CREATE UNIQUE INDEX CONCURRENTLY t_v_uidx ON t (v)",
    "DROP INDEX t_n_idx",
    "DROP INDEX CONCURRENTLY t_v_uidx",
    # sequences owned by a task table
    "CREATE SEQUENCE t_counter START 100 OWNED BY t.n",
    "ALTER SEQUENCE t_counter INCREMENT BY 5",
    "CREATE SEQUENCE t_gone OWNED BY t.n",
    "DROP SEQUENCE t_gone",
    "ALTER TABLE nokey REPLICA IDENTITY FULL",
    "UPDATE nokey SET b = 'again' WHERE a = 5",
    "ALTER TABLE item RENAME TO item2",
    "INSERT INTO item2 (code, parent_id, qty) VALUES ('after-rename', 2, 5)",
    "TRUNCATE ev_2025",
    "CREATE TABLE to_drop (id int PRIMARY KEY)",
    "INSERT INTO to_drop VALUES (1)",
    "DROP TABLE to_drop",
    # several statements in one string
    "CREATE TABLE multi (id int PRIMARY KEY); INSERT INTO multi VALUES (1);"
    " ALTER TABLE multi ADD COLUMN v text; INSERT INTO multi VALUES (2, 'two')",
    # DDL inside a DO block and a plpgsql function
    "DO $$ BEGIN ALTER TABLE multi ADD COLUMN w int DEFAULT 3;"
    " EXECUTE 'CREATE INDEX multi_w ON multi (w)'; END $$",
    "CREATE FUNCTION make_tbl(n int) RETURNS void LANGUAGE plpgsql AS $$ BEGIN"
    " CREATE TABLE from_fn (id int PRIMARY KEY, v text);"
    " INSERT INTO from_fn VALUES (n, 'fn'); END $$",
    "SELECT make_tbl(42)",
]


def test_every_covered_ddl_form_keeps_definitions_and_rows_equal(source, dest, pgdts):
    schema = ("CREATE TABLE parent (id int PRIMARY KEY, code text);"
              "INSERT INTO parent SELECT i, 'p' || i FROM generate_series(1, 3) i;"
              "CREATE TABLE t (id serial PRIMARY KEY, v text, n int)")
    run_on_both(source, dest, schema)
    app = pgdts.sync(source, dest)
    writer = Writer(source, "t", "v, n", lambda i: (f"w{i}", i))
    try:
        for stmt in COVERED_DDL:
            source.sql(stmt)
            time.sleep(0.05)
        # DDL and DML mixed in one transaction, in order
        with source.connect() as conn, conn.transaction():
            conn.execute("INSERT INTO multi VALUES (3, 'three')")
            conn.execute("ALTER TABLE multi ADD COLUMN x text DEFAULT 'x'")
            conn.execute("INSERT INTO multi VALUES (4, 'four', 4, 'y')")
            conn.execute("CREATE INDEX multi_x ON multi (x)")
            conn.execute("UPDATE multi SET x = 'z' WHERE id = 1")
    finally:
        writer.stop()
    wait_caught_up(source, dest, app, timeout=120)
    app.stop()
    logs = app.logs()
    assert "ddl_replayed" in logs
    tables = assert_definitions_equal(source, dest)
    assert "item2" in tables and "to_drop" not in tables and "from_fn" in tables
    assert_tables_equal(source, dest, tables)
    # the sequence owned by t, with its options
    assert dest.one("SELECT seqincrement FROM pg_sequence WHERE seqrelid = 't_counter'::regclass") == 5


def test_ddl_outside_the_task_is_skipped_and_does_not_block(source, dest, pgdts):
    run_on_both(source, dest, "CREATE TABLE a (id int PRIMARY KEY, v text);"
                              "CREATE TABLE b (id int PRIMARY KEY, v text)")
    app = pgdts.sync(source, dest, extra_args=["--tables", "public.a"])
    source.sql("INSERT INTO a VALUES (1, 'one')")
    source.sql("ALTER TABLE b ADD COLUMN only_on_source int")   # b: not in the task
    source.sql("CREATE TABLE other (id int)")                     # nor a new table
    with source.connect() as conn, conn.transaction():           # the rest of it applies
        conn.execute("DROP TABLE b")
        conn.execute("ALTER TABLE a ADD COLUMN w int")
        conn.execute("INSERT INTO a VALUES (2, 'two', 2)")
    wait_caught_up(source, dest, app)
    app.stop()
    assert "ddl_skipped" in app.logs()
    assert dest.one("SELECT count(*) FROM pg_attribute WHERE attrelid = 'b'::regclass"
                    " AND attname = 'only_on_source'") == 0
    assert dest.one("SELECT to_regclass('other') IS NULL")
    assert table_definition(source, "public", "a") == table_definition(dest, "public", "a")
    assert_tables_equal(source, dest, ["a"])


def test_new_table_in_a_selected_schema_joins_the_task(source, dest, pgdts):
    run_on_both(source, dest, "CREATE SCHEMA app; CREATE TABLE app.a (id int PRIMARY KEY)")
    app = pgdts.sync(source, dest, extra_args=["--schemas", "app"])
    source.sql("CREATE TABLE app.fresh (id int PRIMARY KEY, v text)")
    source.sql("INSERT INTO app.fresh SELECT i, 'v' || i FROM generate_series(1, 50) i")
    source.sql("CREATE TABLE public.not_selected (id int)")
    wait_caught_up(source, dest, app)
    app.stop()
    assert_definitions_equal(source, dest, "app")
    assert_tables_equal(source, dest, ["app.fresh"])
    assert dest.one("SELECT to_regclass('public.not_selected') IS NULL")


def test_replayed_ddl_targets_the_mapped_names(source, dest, pgdts):
    source.sql("CREATE SCHEMA app; CREATE TABLE app.users (id int PRIMARY KEY, pw text)")
    dest.sql("CREATE SCHEMA app2; CREATE TABLE app2.customers (id int PRIMARY KEY, password_hash text)")
    app = pgdts.sync(source, dest, extra_args=[
        "--schemas", "app", "--map", "app=app2", "--map", "app.users=customers",
        "--map", "app.users.pw=password_hash"])
    source.sql("INSERT INTO app.users VALUES (1, 'secret')")
    source.sql("SET search_path = app; ALTER TABLE users ADD COLUMN nick text DEFAULT 'n'")
    source.sql("ALTER TABLE app.users ADD CONSTRAINT pw_len CHECK (length(pw) > 3)")
    source.sql("CREATE TABLE app.orders (id int PRIMARY KEY, user_id int REFERENCES app.users (id))")
    source.sql("CREATE INDEX ON app.users (pw)")
    source.sql("INSERT INTO app.users VALUES (2, 'other', 'nick2')")
    source.sql("INSERT INTO app.orders VALUES (1, 2)")
    source.sql("ALTER TABLE app.users RENAME COLUMN nick TO nickname")
    source.sql("INSERT INTO app.users VALUES (3, 'third', 'nick3')")
    wait_caught_up(source, dest, app)
    app.stop()
    assert dest.sql("SELECT id, password_hash, nickname FROM app2.customers ORDER BY id") == [
        (1, "secret", "n"), (2, "other", "nick2"), (3, "third", "nick3")]
    assert dest.one("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'pw_len'") \
        == "CHECK ((length(password_hash) > 3))"
    assert dest.one("SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                    " WHERE conrelid = 'app2.orders'::regclass AND contype = 'f'") \
        == "FOREIGN KEY (user_id) REFERENCES app2.customers(id)"
    assert dest.one("SELECT indexrelid::regclass::text FROM pg_index"
                    " WHERE indrelid = 'app2.customers'::regclass AND NOT indisprimary") \
        == "app2.users_pw_idx"
    assert dest.sql("SELECT * FROM app2.orders") == [(1, 2)]
    assert dest.one("SELECT to_regclass('app.users') IS NULL")


def _wait_for_retried_failure(app, needle: str, timeout: float = 60) -> None:
    """Until the apply has failed on needle twice: the first attempt may
    have grouped the transactions before the failing one with it; the retry
    commits them on their own."""
    deadline = time.monotonic() + timeout
    while sum("event=apply_failed" in line and needle in line
              for line in app.logs().splitlines()) < 2:
        assert app.alive() and time.monotonic() < deadline, app.log_tail()
        time.sleep(0.2)


def test_failing_ddl_stops_at_its_transaction_and_is_retried(source, dest, pgdts):
    run_on_both(source, dest, "CREATE TABLE t (id int PRIMARY KEY, v text)")
    dest.sql("ALTER TABLE t ADD COLUMN clash int")     # the DDL will fail on the destination
    app = pgdts.sync(source, dest)
    source.sql("INSERT INTO t VALUES (1, 'before')")
    with source.connect() as conn, conn.transaction():
        conn.execute("INSERT INTO t VALUES (2, 'same transaction')")
        conn.execute("ALTER TABLE t ADD COLUMN clash int")
    source.sql("INSERT INTO t VALUES (3, 'after', 3)")
    _wait_for_retried_failure(app, "already exists")
    logs = app.logs()
    assert "ALTER TABLE public.t ADD COLUMN clash int" in logs and "already exists" in logs, app.log_tail()
    assert dest.sql("SELECT id FROM t ORDER BY id") == [(1,)], "a change after the failed DDL was applied"
    dest.sql("ALTER TABLE t DROP COLUMN clash")        # the cause goes away: the retry applies it
    wait_caught_up(source, dest, app, timeout=120)
    app.stop()
    assert table_definition(source, "public", "t") == table_definition(dest, "public", "t")
    assert_tables_equal(source, dest, ["t"])


def test_kill9_never_replays_a_ddl_twice(source, dest, pgdts):
    """Each source transaction adds a column (which fails if replayed twice)
    and writes rows; concurrent index builds run between them. The applier
    is killed with SIGKILL at random moments and restarted."""
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")
    rnd = random.Random(seed)
    run_on_both(source, dest, "CREATE TABLE t (id serial PRIMARY KEY, v text)")
    app = pgdts.sync(source, dest, task="crash")
    stop = threading.Event()
    errors = []

    def ddl_writer():
        try:
            with source.connect() as conn:
                for i in range(40):
                    if stop.is_set():
                        break
                    with conn.transaction():
                        conn.execute("INSERT INTO t (v) VALUES (%s)", (f"before {i}",))
                        conn.execute(f"ALTER TABLE t ADD COLUMN c{i} int DEFAULT {i}")
                        conn.execute("INSERT INTO t (v) VALUES (%s)", (f"after {i}",))
                    if i % 8 == 0:
                        conn.execute(f"CREATE INDEX CONCURRENTLY t_c{i} ON t (c{i})")
                    time.sleep(rnd.uniform(0.01, 0.1))
        except Exception as e:
            errors.append(e)

    thread = threading.Thread(target=ddl_writer, daemon=True)
    thread.start()
    for _ in range(6):
        time.sleep(rnd.uniform(0.2, 0.8))
        app.kill9()
        app = pgdts.sync(source, dest, task="crash")
    thread.join(120)
    assert not errors, errors
    wait_caught_up(source, dest, app, timeout=120)
    app.stop()
    logs = "".join(a.logs() for a in pgdts.appliers)
    assert "already exists" not in logs, "a DDL was replayed twice"
    assert table_definition(source, "public", "t") == table_definition(dest, "public", "t")
    assert_tables_equal(source, dest, ["t"])


def test_volatile_default_ends_with_the_source_values(source, dest, pgdts):
    """ADD COLUMN ... DEFAULT clock_timestamp() (or random(), a SERIAL)
    computes each row's value in a table rewrite the stream does not carry;
    the capture sends the rows again with their values, so the destination
    ends with the source's values, not its own."""
    run_on_both(source, dest, "CREATE TABLE t (id serial PRIMARY KEY, v text, n int);"
                              "INSERT INTO t (v, n) SELECT 'old' || i, i FROM generate_series(1, 500) i;"
                              "CREATE TABLE g (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, v text);"
                              "INSERT INTO g (v) SELECT 'g' || i FROM generate_series(1, 100) i")
    app = pgdts.sync(source, dest)
    source.sql("ALTER TABLE g ADD COLUMN at timestamptz DEFAULT clock_timestamp()")
    writer = Writer(source, "t", "v, n", lambda i: (f"w{i}", i))
    try:
        time.sleep(0.2)
        source.sql("ALTER TABLE t ADD COLUMN at timestamptz DEFAULT clock_timestamp()")
        time.sleep(0.2)
        source.sql("ALTER TABLE t ADD COLUMN r float8 DEFAULT random(), ADD COLUMN s serial,"
                   " ADD COLUMN k int DEFAULT 5")
        time.sleep(0.2)
    finally:
        writer.stop()
    wait_caught_up(source, dest, app, timeout=120)
    app.stop()
    assert table_definition(source, "public", "t") == table_definition(dest, "public", "t")
    assert_tables_equal(source, dest, ["t", "g"])
    assert dest.one("SELECT count(DISTINCT at) FROM t WHERE id <= 500") > 1


def test_concurrent_index_build_replayed_again_does_not_fail(source, dest, pgdts):
    """A crash between CREATE INDEX CONCURRENTLY on the destination and the
    origin's advance replays the build: here the destination already has
    one index of that name (as after such a crash) and another left invalid
    by an interrupted build; both replays succeed and end valid."""
    run_on_both(source, dest, "CREATE TABLE t (id int PRIMARY KEY, v text, w int)")
    dest.sql("CREATE INDEX t_v ON t (v)")
    dest.sql("INSERT INTO t VALUES (-1, 'dup', 1), (-2, 'dup', 1)")
    try:
        dest.sql("CREATE UNIQUE INDEX CONCURRENTLY t_w ON t (w)")
    except psycopg.Error:
        pass
    dest.sql("DELETE FROM t WHERE id < 0")
    assert dest.one("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = 't_w'::regclass")
    app = pgdts.sync(source, dest)
    source.sql("INSERT INTO t SELECT i, 'v' || i, i FROM generate_series(1, 100) i")
    source.sql("CREATE INDEX CONCURRENTLY t_v ON t (v)")
    source.sql("CREATE UNIQUE INDEX CONCURRENTLY t_w ON t (w)")
    source.sql("INSERT INTO t VALUES (101, 'after', 101)")
    wait_caught_up(source, dest, app)
    app.stop()
    assert "invalid_index_dropped" in app.logs()
    assert table_definition(source, "public", "t") == table_definition(dest, "public", "t")
    assert_tables_equal(source, dest, ["t"])


def test_ddl_captured_without_its_text_stops_the_apply(source, dest, pgdts):
    """A record whose statement could not be captured exactly is never
    replayed nor skipped: the apply stops there, naming the command, and
    nothing after it is applied."""
    run_on_both(source, dest, "CREATE TABLE t (id int PRIMARY KEY)")
    app = pgdts.sync(source, dest, extra_args=["--retry-other", "1"])
    source.sql("INSERT INTO t VALUES (1)")
    with source.connect() as conn, conn.transaction():
        conn.execute("INSERT INTO t VALUES (2)")
        # what the capture writes for a DDL whose text it could not know
        conn.execute("INSERT INTO pgdts.dts_ddl_command (command_tag, statement_exact, object_type,"
                     " schema_name, object_identities) VALUES"
                     " ('ALTER TABLE', false, 'table', 'public', '{public.t}')")
    source.sql("INSERT INTO t VALUES (3)")
    _wait_for_retried_failure(app, "captured without its text")
    assert dest.sql("SELECT id FROM t ORDER BY id") == [(1,)]
    assert "ALTER TABLE public.t" in app.logs()


def test_table_renamed_out_of_the_selection_is_renamed_then_left_alone(source, dest, pgdts):
    run_on_both(source, dest, "CREATE TABLE a (id int PRIMARY KEY); CREATE TABLE keep (id int PRIMARY KEY)")
    app = pgdts.sync(source, dest, extra_args=["--tables", "public.a,public.keep"])
    source.sql("INSERT INTO a VALUES (1)")
    source.sql("ALTER TABLE a RENAME TO gone")          # out of the selection
    source.sql("INSERT INTO gone VALUES (2)")           # no longer applied
    source.sql("INSERT INTO keep VALUES (1)")
    wait_caught_up(source, dest, app)
    app.stop()
    assert dest.one("SELECT to_regclass('a') IS NULL")
    assert dest.sql("SELECT id FROM gone") == [(1,)]
    assert_tables_equal(source, dest, ["keep"])


def test_ddl_after_schema_and_full_sync_is_replayed(source, dest, pgdts):
    """With every phase: the tables are created and copied by pgdts, then
    DDL on the source (with rows around it) is replayed on them."""
    source.sql("CREATE TABLE t (id serial PRIMARY KEY, v text);"
               "INSERT INTO t (v) SELECT 'v' || i FROM generate_series(1, 200) i")
    app = pgdts.sync(source, dest, phases="schema,full,incremental", wait_ready=False)
    app.wait_phase("incremental", timeout=300)
    source.sql("ALTER TABLE t ADD COLUMN w int DEFAULT 1, ADD COLUMN at timestamptz DEFAULT clock_timestamp()")
    source.sql("INSERT INTO t (v) VALUES ('after')")
    source.sql("CREATE TABLE u (id int PRIMARY KEY, t_id int REFERENCES t (id))")
    source.sql("INSERT INTO u VALUES (1, 1)")
    source.sql("CREATE INDEX CONCURRENTLY t_v ON t (v)")
    source.sql("ALTER TABLE t RENAME COLUMN v TO label")
    source.sql("UPDATE t SET label = 'renamed' WHERE id = 2")
    wait_caught_up(source, dest, app, timeout=120)
    app.stop()
    for table in ("t", "u"):
        src, dst = table_definition(source, "public", table), table_definition(dest, "public", table)
        assert src["columns"] == dst["columns"], (src["columns"], dst["columns"])
        assert src["constraints"] == dst["constraints"]
    assert_tables_equal(source, dest, ["t", "u"])


def test_long_ddl_on_the_destination_keeps_the_stream_alive(source, dest, pgdts):
    """While a DDL waits on the destination (here for a lock; a table
    rewrite alike), the applier keeps answering the walsender, which would
    otherwise drop the connection after wal_sender_timeout."""
    source.sql("ALTER SYSTEM SET wal_sender_timeout = '8s'")
    source.sql("SELECT pg_reload_conf()")
    run_on_both(source, dest, "CREATE TABLE t (id int PRIMARY KEY, v text)")
    app = pgdts.sync(source, dest)
    holder = dest.connect(autocommit=False)
    try:
        holder.execute("LOCK TABLE t IN ACCESS EXCLUSIVE MODE")
        source.sql("INSERT INTO t VALUES (1, 'before')")
        source.sql("ALTER TABLE t ADD COLUMN w int")
        source.sql("INSERT INTO t VALUES (2, 'after', 2)")
        time.sleep(20)
    finally:
        holder.rollback()
        holder.close()
    wait_caught_up(source, dest, app)
    app.stop()
    assert "apply_failed" not in app.logs(), app.log_tail()
    assert_tables_equal(source, dest, ["t"])
