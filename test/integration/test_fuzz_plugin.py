"""Random and mutated input to the output plugin, on a real source cluster:
every bad input ends in an ERROR of its own statement, never a backend
crash, a hang or an internal error (SQLSTATE XX000, an elog that a check
should have made a clean error).

- `pgdts.record_json(data, stable)` gets random bytes, real records with
  bytes flipped, cut, inserted and spliced, and random protobuf messages
  (valid wire format, random fields and nesting) that reach its deeper code;
- `pg_logical_slot_peek_binary_changes(slot, NULL, NULL, VARIADIC options)`
  gets random and malformed plugin options (names, missing and odd values,
  mutated row filters and column expressions, which are analyzed against a
  table whose changes are in the slot);
- the encoder gets random rows (values of 14 types, lengths at the varint
  edges), and the records it writes, read here with a protobuf reader of
  their own, must carry exactly the values the table holds.

Each input runs as its own statement on one session; afterwards the server
must not have restarted (`pg_postmaster_start_time()` unchanged, no
"terminated by signal" in its log). The inputs come from a seeded random
generator: a failure names the seed, and PGDTS_FUZZ_SEED=<seed> replays it;
PGDTS_FUZZ_ROUNDS scales the number of inputs (default 400 per test);
PGDTS_FUZZ_LIBRARY=/path/to/pgdts.so fuzzes the record_json of a library
just built (`make`) instead of the installed one."""

from __future__ import annotations

import math
import os
import random
import struct
import uuid

import psycopg
import pytest

ROUNDS = int(os.environ.get("PGDTS_FUZZ_ROUNDS", "400"))
LIBRARY = os.environ.get("PGDTS_FUZZ_LIBRARY")
SLOT = "dts_sync_fuzz"
# An internal error is an elog() the input reached: a missing check.
INTERNAL = {"XX000", "XX001", "XX002"}


@pytest.fixture
def seed():
    return int(os.environ.get("PGDTS_FUZZ_SEED", random.randrange(2**32)))


@pytest.fixture
def slot_source(make_cluster):
    """A source with a table whose INSERT, UPDATE, DELETE, TRUNCATE, DDL and a
    logical message wait in a pgdts slot."""
    src = make_cluster("src", "app", logical=True, extension=True)
    src.sql(f"SELECT pg_create_logical_replication_slot('{SLOT}', 'pgdts')")
    if LIBRARY:
        src.sql(f"CREATE FUNCTION pgdts_fuzz_record_json(bytea, boolean DEFAULT false) "
                f"RETURNS text LANGUAGE c STRICT AS '{os.path.abspath(LIBRARY)}', "
                "'pgdts_record_json'")
    for statement in [
        "CREATE TABLE t (id int PRIMARY KEY, v text, n numeric, b bytea, f float8)",
        "INSERT INTO t SELECT g, 'v' || g, g / 3.0, '\\x00ff', g * 0.5 FROM generate_series(1, 5) g",
        "UPDATE t SET v = v || '!' WHERE id < 3",
        "DELETE FROM t WHERE id = 5",
        "ALTER TABLE t ADD COLUMN c int DEFAULT 7",
        "SELECT pg_logical_emit_message(true, 'pgdts_fuzz', 'm')",
        "TRUNCATE t",
    ]:
        src.sql(statement)
    return src


class Session:
    """One session that runs inputs one statement each and tells a clean
    ERROR from a lost backend."""

    def __init__(self, cluster, seed: int) -> None:
        self.cluster = cluster
        self.seed = seed
        self.conn = cluster.connect(comparable=False)
        self.conn.execute("SET statement_timeout = '20s'")
        self.started = self.conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0]
        self.errors = 0

    def run(self, query: str, params, what: str):
        try:
            return self.conn.execute(query, params).fetchall()
        except psycopg.OperationalError as e:
            if self.conn.closed or self.conn.broken:
                pytest.fail(f"the backend was lost on {what} (seed {self.seed}): {e}")
            self._check(e, what)
        except psycopg.Error as e:
            self._check(e, what)
        return None

    def _check(self, e: psycopg.Error, what: str) -> None:
        state = e.sqlstate or ""
        assert state != "57014", f"{what} ran past statement_timeout (seed {self.seed})"
        assert state not in INTERNAL, f"internal error on {what} (seed {self.seed}): {e}"
        self.errors += 1

    def assert_server_never_restarted(self) -> None:
        now = self.conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0]
        assert now == self.started, f"the server restarted (seed {self.seed})"
        assert "terminated by signal" not in self.cluster.log(), \
            f"a backend died (seed {self.seed}):\n{self.cluster.log()[-3000:]}"


RECORD_JSON = "pgdts_fuzz_record_json" if LIBRARY else "pgdts.record_json"


# -- records -----------------------------------------------------------------

def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field: a string, bytes or a message."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def random_message(rnd: random.Random, depth: int = 0) -> bytes:
    """A protobuf message of random fields: varints, fixed64, and
    length-delimited payloads that are themselves messages (the Record's
    nesting: Record > Insert > Tuple > Value), text or raw bytes."""
    out = bytearray()
    for _ in range(rnd.randint(0, 6)):
        number = rnd.choice([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, rnd.randint(1, 2**29 - 1)])
        kind = rnd.choice(["varint", "varint", "fixed64", "bytes", "message", "message"])
        if kind == "varint":
            out += varint(number << 3) + varint(rnd.choice([0, 1, 2, 7, 2**31, 2**63, 2**64 - 1,
                                                          rnd.getrandbits(64)]))
        elif kind == "fixed64":
            out += varint(number << 3 | 1) + rnd.getrandbits(64).to_bytes(8, "little")
        else:
            if kind == "message" and depth < 5:
                payload = random_message(rnd, depth + 1)
            else:
                payload = rnd.choice([b"", "héllo".encode(), b"\xff\xfe\x00bad", b"\x00",
                                      rnd.randbytes(rnd.randint(0, 40)), b"x" * 3000])
            out += field(number, payload)
    return bytes(out)


def mutate(rnd: random.Random, data: bytes, others: list[bytes]) -> bytes:
    b = bytearray(data)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.choice(["flip", "set", "cut", "insert", "delete", "splice", "length"])
        if not b:
            b += rnd.randbytes(rnd.randint(1, 8))
            continue
        i = rnd.randrange(len(b))
        if op == "flip":
            b[i] ^= 1 << rnd.randrange(8)
        elif op == "set":
            b[i] = rnd.choice([0, 0x7F, 0x80, 0xFF, rnd.randrange(256)])
        elif op == "cut":
            del b[i:]
        elif op == "insert":
            b[i:i] = rnd.randbytes(rnd.randint(1, 16))
        elif op == "delete":
            del b[i:i + rnd.randint(1, 8)]
        elif op == "splice":
            other = rnd.choice(others)
            b = b[:i] + other[rnd.randrange(len(other) + 1):]
        else:  # a huge or odd length where a varint stands
            b[i:i + 1] = varint(rnd.choice([2**31 - 1, 2**32, 2**62, 0x7FFFFFFF + 9]))
    return bytes(b)


def assert_database_text(text: bytes, what: str) -> None:
    """The database is UTF8: a text result must be UTF-8 (and so JSON of it)."""
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as e:
        pytest.fail(f"{what} returned text that is not of the database encoding: {e}")


def test_record_json_gives_an_error_or_json_for_any_bytes(slot_source, seed):
    rnd = random.Random(seed)
    s = Session(slot_source, seed)
    real = [bytes(r[0]) for r in s.run(
        f"SELECT data FROM pg_logical_slot_peek_binary_changes('{SLOT}', NULL, NULL)", None,
        "reading the slot")]
    assert len(real) >= 10, "the slot holds too few records to mutate"
    answered = 0
    for n in range(ROUNDS):
        source = n % 3
        if source == 0:
            data = rnd.randbytes(rnd.randint(0, 64))
        elif source == 1:
            data = mutate(rnd, rnd.choice(real), real)
        else:
            data = random_message(rnd)
        what = f"record_json('\\x{data.hex()[:400]}')"
        # its text as sent (textsend): the driver would choke on bad bytes
        rows = s.run(f"SELECT textsend({RECORD_JSON}(%s, %s))", (data, rnd.random() < 0.5),
                     what)
        if rows is not None:
            answered += 1
            assert_database_text(bytes(rows[0][0]), f"{what} (seed {seed})")
    s.assert_server_never_restarted()
    # Honest inputs: some must decode (JSON), and some must be refused.
    assert answered > 0 and s.errors > 0, f"answered {answered}, errors {s.errors}"


def test_record_json_refuses_a_setting_name_that_is_not_utf8(slot_source):
    """Found by the test above: a DDL record's setting name became a JSON key
    unchecked, and the text result held bytes of no encoding."""
    setting = field(1, b"Date\xc6Style") + field(2, b"ISO")
    record = field(9, field(13, setting) + varint(9 << 3) + varint(1))  # Record.ddl
    with pytest.raises(psycopg.errors.CharacterNotInRepertoire):
        slot_source.sql(f"SELECT textsend({RECORD_JSON}(%s))", (record,))
    good = field(9, field(13, field(1, b"DateStyle") + field(2, b"ISO")) + varint(9 << 3) + varint(1))
    assert '"settings": {"DateStyle": "ISO"}' in slot_source.one(
        f"SELECT {RECORD_JSON}(%s)", (good,))


# -- options -------------------------------------------------------------------

# (rule, where its SQL starts): most mutations go to the condition or the
# expression, so that they reach the analysis against the table
FILTERS = [("public.t WHERE id > 1", 15), ("public.t WHERE v IS NOT NULL", 15),
           ("public.t WHERE n < 2.5 AND f > 0", 15), ("public.t WHERE c = 7", 15),
           ("t WHERE id > 1", 8)]
TRANSFORMS = [("(md5(v)) AS v FROM public.t", 1), ("(n * 2) AS n FROM public.t", 1),
              ("(NULL) AS f FROM public.t", 1), ("(upper(v)) AS v FROM public.t", 1),
              ("(b || '\\x00'::bytea) AS b FROM public.t", 1)]
FRAGMENTS = ["(", ")", "'", "\"", ";", "--", "/*", "$$", " WHERE ", " AS ", " FROM ", ".",
             "random()", "(SELECT 1)", "now()", "pg_sleep(30)", "nextval('s')", "id",
             "public.t", "public.nosuch", "t.id", "$1", "::regclass", "ROW(1,2)", "*",
             "\x00", "é", "\\", "NULL", "1/0", "CASE WHEN id > 0 THEN 1 END",
             "(SELECT v FROM t)", "id IN (SELECT 1)", "generate_series(1,2)", "sum(id)",
             "ctid", "xmin", "tableoid", " OR ", " = ", " AND ", "x" * 200]


def mutate_text(rnd: random.Random, rule: tuple[str, int]) -> str:
    text, sql_at = rule
    lo = sql_at if rnd.random() < 0.8 else 0
    for _ in range(rnd.randint(1, 3)):
        i = rnd.randint(lo, len(text))
        op = rnd.choice(["insert", "delete", "replace"])
        if op == "insert":
            text = text[:i] + rnd.choice(FRAGMENTS) + text[i:]
        elif op == "delete":
            text = text[:i] + text[i + rnd.randint(1, 6):]
        else:
            text = text[:i] + rnd.choice(FRAGMENTS) + text[i + rnd.randint(1, 6):]
    return text.replace("\x00", "")  # text cannot hold NUL: that is the driver's error


def random_option(rnd: random.Random) -> list[str | None]:
    name = rnd.choice(["format_version", "include_origin", "row_filter", "row_filter",
                       "row_filter", "transform", "transform", "transform", "nosuch",
                       "FORMAT_VERSION", ""])
    if name == "format_version":
        value = rnd.choice(["1", "0", "-1", "2", "2147483648", "99999999999999999999", "",
                            " 1", "1x", "0x1", str(rnd.getrandbits(40))])
    elif name == "include_origin":
        value = rnd.choice(["on", "off", "true", "false", "1", "0", "yes", "maybe", ""])
    elif name == "row_filter":
        value = mutate_text(rnd, rnd.choice(FILTERS)) if rnd.random() < 0.8 \
            else rnd.choice(FILTERS)[0]
    elif name == "transform":
        value = mutate_text(rnd, rnd.choice(TRANSFORMS)) if rnd.random() < 0.8 \
            else rnd.choice(TRANSFORMS)[0]
    else:
        value = rnd.choice(["1", ""])
    # A NULL value: the SQL function refuses the array before the plugin
    # sees it (START_REPLICATION's options without a value are not NULL).
    if rnd.random() < 0.02:
        value = None
    return [name, value]


def test_plugin_options_give_an_error_or_changes(slot_source, seed):
    rnd = random.Random(seed)
    s = Session(slot_source, seed)
    decoded = 0
    for _ in range(ROUNDS):
        options: list[str | None] = []
        for _ in range(rnd.choice([0, 1, 1, 1, 2, 2, 3])):
            options += random_option(rnd)
        if rnd.random() < 0.05:
            options.append("odd")  # an odd count: the SQL function's own error
        rows = s.run(f"SELECT count(*) FROM pg_logical_slot_peek_binary_changes("
                     f"'{SLOT}', NULL, NULL, VARIADIC %s::text[])", (options,),
                     f"options {options!r}")
        decoded += rows is not None
    s.assert_server_never_restarted()
    assert decoded > 0 and s.errors > 0, f"decoded {decoded}, errors {s.errors}"


# -- values ------------------------------------------------------------------

# Lengths on both sides of the one- and two-byte varint edges of a value, of
# a Tuple (a row of ~55 and ~8,180 bytes) and of a Record.
EDGE_LENGTHS = [0, 1, 2, 50, 55, 60, 126, 127, 128, 129, 8170, 8181, 8190,
                16382, 16383, 16384, 16385, 30000]
EDGE_INTS = [0, 1, -1, 63, 64, -64, -65, 8191, 8192, -8192, -8193, 2**31 - 1, -2**31]
VALUE_COLUMNS = ("id", "i2", "i4", "f4", "f8", "ok", "by", "t", "vc", "n", "ts", "d", "u", "j")
# how the test reads each column back: as the plugin sends it
VALUE_SELECT = ("id, i2, i4, f4::float8, f8, ok, by, t, vc, n::text, ts::text, d::text, "
                "u::text, j::text")


def read_message(data: bytes) -> list[tuple[int, int, object]]:
    """A protobuf message's fields: (number, wire type, value: int or bytes)."""
    fields, i = [], 0
    while i < len(data):
        key, i = read_varint(data, i)
        number, wiretype = key >> 3, key & 7
        if wiretype == 0:
            value, i = read_varint(data, i)
        elif wiretype == 1:
            value, i = data[i:i + 8], i + 8
        elif wiretype == 2:
            length, i = read_varint(data, i)
            value, i = data[i:i + length], i + length
        else:
            pytest.fail(f"wire type {wiretype} in a record")
        fields.append((number, wiretype, value))
    assert i == len(data), "a field runs past its message"
    return fields


def read_varint(data: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def read_value(data: bytes):
    """A Value message as the Python value the test compares: None (null),
    "unchanged" (unchanged TOASTed value), int, float, bool or bytes."""
    (number, _, raw), = read_message(data)
    if number == 1:
        return None
    if number == 2:
        return "unchanged"
    if number == 3:
        return (raw >> 1) ^ -(raw & 1)
    if number == 4:
        return struct.unpack("<d", raw)[0]
    if number == 5:
        return bool(raw)
    return bytes(raw)


def read_tuple(data: bytes) -> list:
    return [read_value(v) for number, _, v in read_message(data) if number == 1]


def expected_values(row) -> list:
    """A row read with VALUE_SELECT as the plugin sends it: typed integers,
    floats and booleans, bytea's bytes, every other value's text."""
    return [v if v is None or isinstance(v, (int, float, bool)) else
            bytes(v) if isinstance(v, (bytes, memoryview)) else v.encode()
            for v in row]


def same_value(got, want) -> bool:
    if isinstance(want, float) and isinstance(got, float):
        return struct.pack("<d", got) == struct.pack("<d", want) or \
            (math.isnan(got) and math.isnan(want))
    return type(got) is type(want) and got == want


def random_text(rnd: random.Random, length: int) -> str:
    alphabet = "abc xyz'\"\\\t\né߀日本😀"
    return "".join(rnd.choice(alphabet) for _ in range(length))


def random_row(rnd: random.Random, key: int) -> list:
    def maybe(value):
        return None if rnd.random() < 0.15 else value
    return [
        key,
        maybe(rnd.choice([0, 1, -1, 63, 64, -65, 32767, -32768])),
        maybe(rnd.choice(EDGE_INTS + [rnd.randint(-2**31, 2**31 - 1)])),
        maybe(rnd.choice([0.0, -0.0, 1.5, 0.1, float("nan"), float("inf"), float("-inf"),
                          3.4028234663852886e38, 1.401298464324817e-45])),
        maybe(rnd.choice([0.0, -0.0, 0.1, float("nan"), float("-inf"), 5e-324,
                          1.7976931348623157e308, rnd.uniform(-1e9, 1e9)])),
        maybe(rnd.random() < 0.5),
        maybe(rnd.randbytes(rnd.choice(EDGE_LENGTHS))),
        maybe(random_text(rnd, rnd.choice(EDGE_LENGTHS))),
        maybe(random_text(rnd, rnd.choice([0, 1, 20, 127, 128]))),
        maybe(rnd.choice(["0", "-0.000001", "NaN", "Infinity", "-Infinity",
                          "123456789012345678901234567890.0123456789",
                          str(rnd.randint(-10**12, 10**12))])),
        maybe(rnd.choice(["-infinity", "infinity", "2000-01-01 00:00:00+00",
                          "1999-12-31 23:59:59.999999+00", "0044-03-15 12:00:00+00 BC",
                          f"20{rnd.randint(10, 40)}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)} "
                          f"0{rnd.randint(0, 9)}:{rnd.randint(10, 59)}:00.{rnd.randint(0, 999999)}+00"])),
        maybe(rnd.choice(["-infinity", "infinity", "2000-01-01", "4713-01-01 BC",
                          f"19{rnd.randint(10, 99)}-0{rnd.randint(1, 9)}-2{rnd.randint(0, 8)}"])),
        maybe(str(uuid.UUID(bytes=rnd.randbytes(16)))),
        maybe(rnd.choice(["{}", "[]", "null", '{"a": [1, 2.5, null, "é"]}',
                          '"' + random_text(rnd, 20).replace("\\", "").replace('"', "")
                          .replace("\n", "").replace("\t", "") + '"'])),
    ]


def test_random_rows_are_sent_with_their_exact_values(make_cluster, seed):
    """The change records carry every value exactly, whatever its kind and
    length: random rows of 14 types (lengths at the varint edges of values,
    tuples and records, NULLs, NaN, infinities, -0, unicode) inserted, then
    some updated (some of them to a new key) and some deleted, under REPLICA
    IDENTITY FULL; each record's values equal the rows read back from the
    table."""
    rnd = random.Random(seed)
    src = make_cluster("src", "app", logical=True, extension=True)
    src.sql(f"SELECT pg_create_logical_replication_slot('{SLOT}', 'pgdts')")
    src.sql("CREATE TABLE v (id int8 PRIMARY KEY, i2 int2, i4 int4, f4 real, "
            "f8 float8, ok bool, by bytea, t text, vc varchar, n numeric, "
            "ts timestamptz, d date, u uuid, j jsonb)")
    src.sql("ALTER TABLE v REPLICA IDENTITY FULL")
    nrows = max(ROUNDS // 4, 20)
    placeholders = ", ".join(["%s"] * len(VALUE_COLUMNS))
    with src.connect() as conn:
        for key in range(1, nrows + 1):
            conn.execute(f"INSERT INTO v VALUES ({placeholders})", random_row(rnd, key))
        inserted = {r[0]: expected_values(r) for r in
                    conn.execute(f"SELECT {VALUE_SELECT} FROM v").fetchall()}
        changed = rnd.sample(sorted(inserted), nrows // 2)
        for key in changed:
            row = random_row(rnd, key + 1_000_000 if rnd.random() < 0.3 else key)
            keep = rnd.sample(range(1, len(VALUE_COLUMNS)), rnd.randint(0, 6))
            sets = [f"{c} = %s" for i, c in enumerate(VALUE_COLUMNS) if i not in keep]
            conn.execute(f"UPDATE v SET {', '.join(sets)} WHERE id = %s",
                         [v for i, v in enumerate(row) if i not in keep] + [key])
        updated = {r[0]: expected_values(r) for r in
                   conn.execute(f"SELECT {VALUE_SELECT} FROM v").fetchall()}
        deleted = rnd.sample(sorted(updated), nrows // 5)
        conn.execute("DELETE FROM v WHERE id = ANY(%s)", (deleted,))
        records = [bytes(r[0]) for r in conn.execute(
            f"SELECT data FROM pg_logical_slot_peek_binary_changes('{SLOT}', NULL, NULL)")]

    def check(got: list, want: list, what: str) -> None:
        assert len(got) == len(want), f"{what}: {len(got)} values, {len(want)} columns"
        for col, g, w in zip(VALUE_COLUMNS, got, want):
            assert same_value(g, w), f"{what}, column {col}: sent {g!r:.200}, " \
                f"the table has {w!r:.200} (seed {seed})"

    counts = {4: 0, 5: 0, 6: 0}
    for data in records:
        (kind, _, body), = read_message(data)
        fields = {number: value for number, _, value in read_message(body)}
        if kind == 4:                               # insert
            new = read_tuple(fields[2])
            check(new, inserted[new[0]], f"INSERT of id {new[0]}")
        elif kind == 5:                             # update
            old, new = read_tuple(fields[3]), read_tuple(fields[4])
            check(old, inserted[old[0]], f"old row of the UPDATE of id {old[0]}")
            want = updated[new[0]]
            # a TOASTed value the UPDATE kept is not sent
            new = [w if g == "unchanged" and o == w else g
                   for g, o, w in zip(new, inserted[old[0]], want)]
            check(new, want, f"UPDATE of id {old[0]} to {new[0]}")
        elif kind == 6:                             # delete
            old = read_tuple(fields[3])
            check(old, updated[old[0]], f"DELETE of id {old[0]}")
        counts[kind] = counts.get(kind, 0) + 1
    assert (counts[4], counts[5], counts[6]) == (nrows, len(changed), len(deleted)), counts
