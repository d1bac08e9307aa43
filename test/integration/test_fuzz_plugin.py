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
  table whose changes are in the slot).

Each input runs as its own statement on one session; afterwards the server
must not have restarted (`pg_postmaster_start_time()` unchanged, no
"terminated by signal" in its log). The inputs come from a seeded random
generator: a failure names the seed, and PGDTS_FUZZ_SEED=<seed> replays it;
PGDTS_FUZZ_ROUNDS scales the number of inputs (default 400 per test);
PGDTS_FUZZ_LIBRARY=/path/to/pgdts.so fuzzes the record_json of a library
just built (`make`) instead of the installed one."""

from __future__ import annotations

import os
import random

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
