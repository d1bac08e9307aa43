"""Every built-in type family survives INSERT, UPDATE and DELETE exactly.

Each family is one table (created identically on both sides; schema sync is a
later phase) holding edge values: extremes, NaN and infinities, -0, empty and
special strings, every byte value, NULL elements, a row of NULLs.  The rows are
inserted, compared, then updated (each updated row takes the values of
another row, and NULL rows swap with full rows) and some deleted, and compared
again.  Comparison is by row text and counts (compare_rows.assert_tables_equal).
"""

import pytest

from compare_rows import assert_tables_equal
from processes import run_on_both, wait_caught_up

# User-defined types the families use, created on both sides.
USER_TYPES = r"""
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy', 'very "happy"', 'ça va', ' ');
CREATE DOMAIN posint AS int CHECK (VALUE > 0);
CREATE DOMAIN short_text AS text CHECK (length(VALUE) < 50);
CREATE DOMAIN int_list AS int[];
CREATE TYPE complex AS (r float8, i float8);
CREATE TYPE address AS (street text, city text, zip varchar(10));
CREATE TYPE tagged AS (c complex, tag text, moods mood[]);
"""

ALL_BYTES = ("(SELECT decode(string_agg(lpad(to_hex(i), 2, '0'), '' ORDER BY i), 'hex') "
             "FROM generate_series(0, 255) i)")
ALL_BYTES_DESC = ("(SELECT decode(string_agg(lpad(to_hex(i), 2, '0'), '' ORDER BY i DESC), 'hex') "
                  "FROM generate_series(0, 255) i)")
RANDOM_MEGABYTE = ("(SELECT decode(string_agg(md5(i::text), ''), 'hex') "
                   "FROM generate_series(1, 65536) i)")

# family name -> (column definitions, rows of SQL expressions, one per column)
FAMILIES = {
    "integers_bool_oid": (
        ["a int2", "b int4", "c int8", "d bool", "e oid"],
        [
            ["'-32768'", "'-2147483648'", "'-9223372036854775808'", "true", "'0'"],
            ["'32767'", "'2147483647'", "'9223372036854775807'", "false", "'4294967295'"],
            ["0", "0", "0", "NULL", "1"],
            ["-1", "-1", "-1", "true", "NULL"],
            ["NULL", "NULL", "NULL", "NULL", "NULL"],
        ]),
    "numeric": (
        ["a numeric", "b numeric(12,4)", "c numeric(1000,500)"],
        [
            ["'NaN'", "'NaN'", "'NaN'"],
            ["'Infinity'", "'-99999999.9999'", "('-' || repeat('7', 500) || '.' || repeat('3', 500))::numeric"],
            ["'-Infinity'", "'0'", "('0.' || repeat('0', 499) || '1')::numeric"],
            ["repeat('9', 1000)::numeric", "'12.5'", "'1.100'"],
            ["('-' || repeat('1234567890', 100))::numeric", "'0.0001'", "'0'"],
            ["('0.' || repeat('0', 999) || '1')::numeric", "NULL", "NULL"],
            ["('1' || repeat('0', 999) || '.' || repeat('5', 1000))::numeric", "'-0.0000'", "'5'"],
            ["'1.10'", "'1'", "'-0.000'"],
            ["NULL", "NULL", "NULL"],
        ]),
    "floats": (
        ["a float4", "b float8"],
        [
            ["'NaN'", "'NaN'"],
            ["'Infinity'", "'Infinity'"],
            ["'-Infinity'", "'-Infinity'"],
            ["'-0'", "'-0'"],
            ["'0'", "'0'"],
            ["'1.4e-45'", "'4.9e-324'"],
            ["'3.4028235e38'", "'1.7976931348623157e308'"],
            ["'1.17549435e-38'", "'2.2250738585072014e-308'"],
            ["'0.1'", "'0.1'"],
            ["'16777217'", "'9007199254740993'"],
            ["'-3.1415927'", "'3.141592653589793'"],
            ["NULL", "NULL"],
        ]),
    "text": (
        ["a text", "b varchar(30)", "c char(5)", "d name", 'e "char"'],
        [
            ["''", "''", "''", "''", "''"],
            ["'it''s \"quoted\"'", "'back\\slash \\\\ \\.'", "'a''b'", "'Mixed Case'", "'q'"],
            ["E'tab\\there\\nnewline\\r\\ncrlf'", "E'\\t'", "E'\\n'", "E'x\\ty'", "E'\\t'"],
            ["'non-ASCII: é ß Ω 日本語 🎉 e\u0301 \u2028 \u200d'", "'ünïcödé'", "'ñ'", "'naïve'", "'é'"],
            ["'NULL'", "'\\N'", "'null'", "'\\.'", "'\\'"],
            ["'  leading and trailing  '", "' '", "'ab   '", "' x '", "' '"],
            ["repeat('long text ', 20000)", "repeat('x', 30)", "'abcde'", "repeat('n', 63)", "'z'"],
            ["'{\"not\": \"json\"}, (1,2), [a]'", "'$1 %s ?'", "'<>&'", "'a\"b'", "'\"'"],
            ["NULL", "NULL", "NULL", "NULL", "NULL"],
        ]),
    "bytea": (
        ["a bytea", "b bytea"],
        [
            [ALL_BYTES, ALL_BYTES_DESC],
            ["'\\x'", "'\\x00'"],
            ["'\\x5c'", "'\\x0a0d09'"],
            [RANDOM_MEGABYTE, "'\\xdeadbeef'"],
            ["NULL", "'\\x'"],
            ["NULL", "NULL"],
        ]),
    "datetime": (
        ["a date", "b timestamp", "c timestamptz", "d time", "e timetz", "f interval"],
        [
            ["'infinity'", "'infinity'", "'infinity'", "'24:00:00'", "'24:00:00+15:59'", "'178000000 years'"],
            ["'-infinity'", "'-infinity'", "'-infinity'", "'00:00:00'", "'00:00:00-15:59'", "'-178000000 years'"],
            ["'4713-01-01 BC'", "'4713-01-01 00:00:00 BC'", "'4713-01-01 00:00:00+00 BC'",
             "'23:59:59.999999'", "'12:34:56.789012+05:30'", "'1 mon 2 days 03:04:05.678901'"],
            ["'5874897-12-31'", "'294276-12-31 23:59:59.999999'", "'294276-12-31 23:59:59.999999+00'",
             "'12:00'", "'12:00:00-03'", "'-1 days +02:00:00'"],
            ["'2000-02-29'", "'2000-02-29 12:34:56.123456'", "'2000-02-29 12:34:56.123456+13:45'",
             "'00:00:00.000001'", "'00:00:00+00'", "'0'"],
            ["'1999-12-31'", "'1999-12-31 23:59:59'", "'1999-12-31 23:59:59-08'",
             "'23:59'", "'23:59:59.5+14'", "'1 year 2 mons -3 days 04:05:06.7'"],
            ["'2020-01-02'", "'2020-01-02 03:04:05'", "'2020-01-02 03:04:05.5+00'",
             "'01:02:03'", "'01:02:03+01'", "'-1 days -02:03:04'"],
            ["NULL", "NULL", "NULL", "NULL", "NULL", "NULL"],
        ]),
    "uuid_json_xml": (
        ["a uuid", "b json", "c jsonb", "d xml"],
        [
            ["'00000000-0000-0000-0000-000000000000'", "'{\"a\": 1,  \"a\": 2 }'",
             "'{\"b\": [1, 2.50, null, true], \"a\": \"x\\\"y\"}'",
             "'<doc a=\"1\">text &amp; more<![CDATA[x<y]]></doc>'"],
            ["'ffffffff-ffff-ffff-ffff-ffffffffffff'", "'[]'", "'[]'", "'just content <b>bold</b> tail'"],
            ["'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'", "'\"\\u00e9 \\\\ \\n\"'",
             "'{\"emoji\": \"🎉\", \"nested\": {\"k\": [{\"x\": 1e400}]}, \"big\": 12345678901234567890.123456789}'",
             "'<?xml version=\"1.0\"?><r/>'"],
            ["'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A12'", "'null'", "'null'", "''"],
            ["NULL", "'  {\"ws\" :\t[ 1 ,2 ] }  '", "'\"\"'", "'<a>é 日本</a>'"],
            ["NULL", "NULL", "NULL", "NULL"],
        ]),
    "network": (
        ["a inet", "b cidr", "c macaddr", "d macaddr8"],
        [
            ["'192.168.0.1/24'", "'192.168.0.0/24'", "'08:00:2b:01:02:03'", "'08:00:2b:01:02:03:04:05'"],
            ["'::1'", "'::/0'", "'ff:ff:ff:ff:ff:ff'", "'ff:ff:ff:ff:ff:ff:ff:ff'"],
            ["'2001:db8::ff00:42:8329/64'", "'2001:db8::/32'", "'00:00:00:00:00:00'", "'00:00:00:ff:fe:00:00:00'"],
            ["'0.0.0.0'", "'10.0.0.0/8'", "'01:23:45:67:89:ab'", "'01:23:45:67:89:ab:cd:ef'"],
            ["NULL", "NULL", "NULL", "NULL"],
        ]),
    "money_bits": (
        ["a money", "b bit(8)", "c varbit", "d bit varying(3)"],
        [
            ["'-92233720368547758.08'", "B'00000000'", "B''", "B'1'"],
            ["'92233720368547758.07'", "B'11111111'", "B'1010101010101010101010101010101010101'", "B'101'"],
            ["'0.01'", "B'10000001'", "B'1'", "B''"],
            ["'0'", "B'01010101'", "B'0'", "NULL"],
            ["NULL", "NULL", "NULL", "NULL"],
        ]),
    "text_search": (
        ["a tsvector", "b tsquery"],
        [
            ["'a fat cat sat on a mat and ate a fat rat'", "'fat & rat'"],
            ["$$'quoted word' with\\:colon 'a''b'$$", "'!(a | b) <-> c:*'"],
            ["'a:1A,2B b:3C,4D c:5'", "'x <2> y & ''quo ted'''"],
            ["''", "'z'"],
            ["NULL", "NULL"],
        ]),
    "geometric": (
        ["a point", "b line", "c lseg", "d box", "e path", "f polygon", "g circle"],
        [
            ["'(0,0)'", "'{1,-1,0}'", "'[(0,0),(1,1)]'", "'(1,1),(0,0)'", "'[(0,0),(1,1),(2,0)]'",
             "'((0,0),(1,1),(1,0))'", "'<(0,0),1>'"],
            ["'(0.1,-1e-300)'", "'{0.5,2,-3}'", "'[(1.5,2.25),(-3,4)]'", "'(2.5,3.5),(-1,-1)'",
             "'((0,0),(1,1))'", "'((0,0),(0,1),(1,1),(1,0))'", "'<(1.1,-2.2),0.5>'"],
            ["'(1.7976931348623157e308,-0)'", "'{0.1,0.2,0.3}'", "'[(-0,0),(0.3333333333333333,1e308)]'",
             "'(1e-300,1e-300),(-1e-300,-1e-300)'", "'[(0.1,0.2)]'", "'((3.14159,2.71828))'",
             "'<(0.1,0.2),1e-10>'"],
            ["'(NaN,Infinity)'", "'{-1,0,5}'", "'[(1,1),(1,1)]'", "'(0,0),(0,0)'", "'((1,2),(3,4),(5,6))'",
             "'((0,0),(10,0),(10,10),(0,10))'", "'<(5,5),0>'"],
            ["NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"],
        ]),
    "ranges": (
        ["a int4range", "b int8range", "c numrange", "d tsrange", "e tstzrange", "f daterange",
         "g int4multirange", "h nummultirange", "i datemultirange"],
        [
            ["'[1,10)'", "'(,)'", "'[1.5,2.5]'", "'[2020-01-01 00:00,2020-01-02 00:00)'",
             "'(-infinity,infinity)'", "'empty'", "'{[1,3),[5,7)}'", "'{}'",
             "'{[2020-01-01,2020-02-01),[2021-01-01,)}'"],
            ["'empty'", "'[-9223372036854775808,9223372036854775807)'", "'(,0]'", "'empty'",
             "'[\"2020-01-01 00:00+00\",)'", "'[2020-01-01,2020-01-01]'", "'{(,5)}'",
             "'{[1.1,2.2], (3,4)}'", "'{}'"],
            ["'(0,1)'", "'[0,1]'", "'(NaN,)'", "'[infinity,infinity]'", "'empty'", "'(,)'",
             "'{empty}'", "'{[0,NaN)}'", "'{[-infinity,infinity]}'"],
            ["NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"],
        ]),
    "arrays": (
        ["a int[]", "b text[]", "c float8[]", "d numeric[]", "e int[]", "f bool[]"],
        [
            ["'{{1,NULL},{3,4}}'",
             "ARRAY['a\"b', 'c,d', NULL, 'NULL', '', ' lead ', 'back\\slash', '{brace}', E'new\\nline']",
             "'{NaN,-Infinity,Infinity,-0,1e-300}'", "'{1.10,NaN,NULL,-Infinity}'",
             "'{{{1,2},{3,4}},{{5,6},{7,NULL}}}'", "'{t,f,NULL}'"],
            ["'{}'", "'{}'", "'{}'", "'{}'", "'[0:1]={7,8}'", "'[-2:-1]={t,f}'"],
            ["'{NULL}'", "'{NULL,NULL}'", "'{NULL}'", "'{NULL}'", "'[1:2][3:4]={{1,2},{3,4}}'", "'{NULL}'"],
            ["'{-2147483648,2147483647}'", "ARRAY['日本', 'é', '\\']", "'{0.1}'", "ARRAY[repeat('9', 200)::numeric]",
             "NULL", "'{}'"],
            ["NULL", "NULL", "NULL", "NULL", "NULL", "NULL"],
        ]),
    "enum_domain_composite": (
        ["a mood", "b posint", "c short_text", "d complex", "e address", "f tagged", "g mood[]",
         "h complex[]", "i int_list"],
        [
            ["'happy'", "1", "'short'", "'(1.5,-2.5)'", "ROW('Main St, \"5\"', 'Zürich', NULL)::address",
             "ROW(ROW(1, 2)::complex, 'tag', '{sad,happy}')::tagged", "'{sad,happy}'",
             "ARRAY['(1,2)', '(3,4)']::complex[]", "'{1,2,3}'"],
            ["'very \"happy\"'", "2147483647", "''", "'(,)'", "ROW(NULL, NULL, NULL)::address",
             "ROW(NULL, NULL, NULL)::tagged", "ARRAY['very \"happy\"', 'ça va', ' ']::mood[]",
             "'{}'", "'{}'"],
            ["'ça va'", "42", "E'quote\\' and \\\\ back'", "'(-0,NaN)'",
             "ROW('', ' ', '(x)')::address", "ROW(ROW('-0', 'Infinity')::complex, E'a\\\\b\"c', NULL)::tagged",
             "'{NULL}'", "ARRAY[NULL, '(5,6)']::complex[]", "'{NULL,1}'"],
            ["' '", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"],
            ["NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"],
        ]),
    "lsn_snapshot": (
        ["a pg_lsn", "b pg_snapshot", "c txid_snapshot"],
        [
            ["'0/0'", "'10:20:10,14,15'", "'10:20:10,14,15'"],
            ["'FFFFFFFF/FFFFFFFF'", "'1:1:'", "'1:1:'"],
            ["'16/B374D848'", "'100:100:'", "'5:9:6,7'"],
            ["NULL", "NULL", "NULL"],
        ]),
}


def _create_table(source, dest, name, columns):
    run_on_both(source, dest, USER_TYPES)
    run_on_both(source, dest,
                f"CREATE TABLE {name} (id int PRIMARY KEY, {', '.join(columns)})")


def _colnames(columns):
    return [c.split()[0] for c in columns]


def _insert(conn, table, cols, rid, exprs):
    conn.execute(f"INSERT INTO {table} (id, {', '.join(cols)}) VALUES ({rid}, {', '.join(exprs)})")


def _set_row(conn, table, cols, rid, exprs):
    conn.execute(f"UPDATE {table} SET ({', '.join(cols)}) = ROW({', '.join(exprs)}) WHERE id = {rid}")


@pytest.mark.parametrize("family", list(FAMILIES))
def test_type_family_values_survive_insert_update_delete(source, dest, pgdts, family):
    columns, rows = FAMILIES[family]
    cols = _colnames(columns)
    table = f"t_{family}"
    _create_table(source, dest, table, columns)
    app = pgdts.sync(source, dest)

    with source.connect() as conn:
        # The first rows in one multi-statement transaction, the others one
        # transaction each.
        with conn.transaction():
            for i, exprs in enumerate(rows[:2], start=1):
                _insert(conn, table, cols, i, exprs)
        for i, exprs in enumerate(rows[2:], start=3):
            _insert(conn, table, cols, i, exprs)
    wait_caught_up(source, dest, app)
    assert_tables_equal(source, dest, [table])

    n = len(rows)
    with source.connect() as conn:
        # Every row but the last takes the values of its mirror row (so each
        # edge value also travels through UPDATE; in one transaction, so that
        # they are written as one set of rows), the all-NULL last row takes
        # row 1's values and row 1 becomes all NULL (one row at a time);
        # then two rows go.
        with conn.transaction():
            for i in range(1, n):
                _set_row(conn, table, cols, i, rows[n - i - 1])
        with conn.transaction():
            _set_row(conn, table, cols, n, rows[0])
            _set_row(conn, table, cols, 1, ["NULL"] * len(cols))
        conn.execute(f"DELETE FROM {table} WHERE id = 2")
        conn.execute(f"DELETE FROM {table} WHERE id = {n - 1}")
    wait_caught_up(source, dest, app)
    app.stop()
    assert_tables_equal(source, dest, [table])
    assert dest.one(f"SELECT count(*) FROM {table}") == n - 2


def test_float_negative_zero_survives(source, dest, pgdts):
    """-0 equals 0 for '=', so compare the binary send form, not just text."""
    run_on_both(source, dest, "CREATE TABLE f (id int PRIMARY KEY, a float4, b float8, c float8[])")
    app = pgdts.sync(source, dest)
    source.sql("INSERT INTO f VALUES (1, '-0', '-0', '{-0,0}'), (2, '0', '0', '{0,-0}')")
    source.sql("INSERT INTO f VALUES (3, '0', '0', NULL)")
    source.sql("UPDATE f SET a = '-0', b = '-0' WHERE id = 3")
    wait_caught_up(source, dest, app)
    app.stop()
    q = "SELECT id, float4send(a), float8send(b), c::text FROM f ORDER BY id"
    want = source.sql(q)
    got = dest.sql(q)
    assert got == want
    assert bytes(dest.one("SELECT float8send(b) FROM f WHERE id = 1")) == b"\x80" + b"\x00" * 7
    assert bytes(dest.one("SELECT float4send(a) FROM f WHERE id = 3")) == b"\x80" + b"\x00" * 3


def test_row_of_all_nulls_in_every_column_type_survives(source, dest, pgdts):
    """One wide table with a column of every family's types: a row of NULLs
    is inserted, filled with values, and emptied again."""
    columns, first_values = [], []
    for family, (fcols, frows) in FAMILIES.items():
        for col, value in zip(fcols, frows[0]):
            name, typ = col.split(" ", 1)
            columns.append(f"{family}_{name} {typ}")
            first_values.append(value)
    cols = _colnames(columns)
    _create_table(source, dest, "wide", columns)
    app = pgdts.sync(source, dest)
    with source.connect() as conn:
        conn.execute("INSERT INTO wide (id) VALUES (1), (2)")
        _set_row(conn, "wide", cols, 2, first_values)
    wait_caught_up(source, dest, app)
    assert_tables_equal(source, dest, ["wide"])
    assert dest.one(f"SELECT count(*) FROM wide WHERE id = 1 AND num_nulls({', '.join(cols)}) = "
                    f"{len(cols)}") == 1
    with source.connect() as conn:
        _set_row(conn, "wide", cols, 1, first_values)
        _set_row(conn, "wide", cols, 2, ["NULL"] * len(cols))
    wait_caught_up(source, dest, app)
    app.stop()
    assert_tables_equal(source, dest, ["wide"])


def test_values_survive_when_databases_use_other_output_settings(source, dest, pgdts):
    """Text values are rendered on the source and parsed on the destination:
    a database whose DateStyle, IntervalStyle, TimeZone or extra_float_digits
    differ must not change them (PostgreSQL's own subscriber pins these on
    its replication connection).  Under DMY '01/02/2020' is 1 February; under
    MDY it is 2 January; sql_standard's '-1 2:03:04' is -1 day -2:03:04, and
    postgres style reads it as -1 day +2:03:04.  Both sides differ from each
    other and from the defaults."""
    run_on_both(source, dest, "CREATE TABLE s (id int PRIMARY KEY, d date, ts timestamp, "
                              "tz timestamptz, t timetz, iv interval, p point, r tsrange, "
                              "dates date[])")
    source.sql("ALTER DATABASE app SET datestyle = 'SQL, DMY'")
    source.sql("ALTER DATABASE app SET intervalstyle = 'sql_standard'")
    source.sql("ALTER DATABASE app SET timezone = 'Pacific/Chatham'")
    source.sql("ALTER DATABASE app SET extra_float_digits = -15")
    dest.sql("ALTER DATABASE app_copy SET datestyle = 'SQL, MDY'")
    dest.sql("ALTER DATABASE app_copy SET intervalstyle = 'sql_standard'")
    dest.sql("ALTER DATABASE app_copy SET timezone = 'America/St_Johns'")
    app = pgdts.sync(source, dest)
    with source.connect() as conn:  # pinned ISO/UTC session: the literals mean what they say
        conn.execute("INSERT INTO s VALUES (1, '2020-02-01', '2020-02-01 13:14:15.5', "
                     "'2020-02-01 13:14:15.5+00', '13:14:15+03', '-1 days -02:03:04', "
                     "'(0.1,0.3333333333333333)', '[2020-02-01 00:00,2020-03-04 05:06)', "
                     "'{2020-02-01,2021-12-11}')")
        conn.execute("INSERT INTO s VALUES (2, 'infinity', '-infinity', 'infinity', '00:00+00', "
                     "'1 year -2 mons 3 days -04:05:06.789', '(1e-300,-0)', 'empty', '{}')")
        conn.execute("UPDATE s SET d = '2021-03-04', iv = '-3 days -00:00:01' WHERE id = 2")
    wait_caught_up(source, dest, app)
    app.stop()
    assert_tables_equal(source, dest, ["s"])


def _latin1_source(source):
    source.create_database("app_latin1", "ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' "
                                         "TEMPLATE template0")
    latin1 = source.with_db("app_latin1")
    latin1.sql("CREATE EXTENSION pgdts")
    return latin1


def test_latin1_source_text_values_arrive_intact_in_utf8_destination(source, dest, pgdts):
    """Text values travel in the source database's encoding: a LATIN1 source
    must still give the same characters in a UTF-8 destination."""
    latin1 = _latin1_source(source)
    ddl = "CREATE TABLE lat (id int PRIMARY KEY, t text, v varchar(20), c char(3), a text[], j jsonb, x xml)"
    latin1.sql(ddl)
    dest.sql(ddl)
    app = pgdts.sync(latin1, dest)
    latin1.sql("INSERT INTO lat VALUES (1, 'é à ß ÿ ¿ © ½ Ø', 'Straße', 'ñó', "
               "ARRAY['façade', 'über', NULL], '{\"clé\": \"valeur été\"}', '<a b=\"ç\">é</a>'), "
               "(2, repeat('àé', 5000), '', 'ü', '{}', '[]', NULL)")
    latin1.sql("UPDATE lat SET t = 'ÀÉÎÕÜ', v = 'Ærø' WHERE id = 1")
    wait_caught_up(latin1, dest, app)
    app.stop()
    assert_tables_equal(latin1, dest, ["lat"])
    assert dest.one("SELECT t FROM lat WHERE id = 1") == "ÀÉÎÕÜ"


def test_latin1_source_non_ascii_table_and_column_names_found_on_destination(source, dest, pgdts):
    """Names travel as UTF-8 whatever the source encoding: a table "café"
    with a column "naïve" in a LATIN1 source is the same table in a UTF-8
    destination."""
    latin1 = _latin1_source(source)
    ddl = 'CREATE TABLE "café" (id int PRIMARY KEY, "naïve" text)'
    latin1.sql(ddl)
    dest.sql(ddl)
    app = pgdts.sync(latin1, dest)
    latin1.sql("INSERT INTO \"café\" VALUES (1, 'a'), (2, 'b')")
    latin1.sql("UPDATE \"café\" SET \"naïve\" = 'é' WHERE id = 1")
    latin1.sql("DELETE FROM \"café\" WHERE id = 2")
    wait_caught_up(latin1, dest, app)
    app.stop()
    assert_tables_equal(latin1, dest, ["café"])
