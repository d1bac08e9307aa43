"""Row comparison of the pgdts integration tests: does a destination table
hold the same rows as the source table?

Both servers hash a table's row texts in byte order side by side; only when
the hashes differ are the rows streamed and the first differing ones
reported.  Tables are named 'schema.table', 'table' or a tuple of parts;
`assert_mapped_tables_equal` compares tables whose names differ (`--map`,
`--case`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Iterable

import psycopg
from psycopg import sql as pgsql

from processes import Cluster


def _row_stream(cluster: Cluster, table: str, batch: int = 5000) -> Iterable[str]:
    """Rows of `table` as their text, in byte order (collation "C" compares
    bytes, and for UTF-8 that is code point order, which is Python's)."""
    ident = _table_ident(table)
    with cluster.connect(autocommit=False) as conn:
        with conn.cursor(name="rows") as cur:
            cur.itersize = batch
            cur.execute(pgsql.SQL('SELECT t::text FROM {} t ORDER BY t::text COLLATE "C"')
                        .format(ident))
            for (text,) in cur:
                yield text


def _split_name(table: str) -> list[str]:
    """'s.t' -> ['s', 't']; a name given as a list/tuple is taken as parts."""
    if isinstance(table, (list, tuple)):
        return list(table)
    return table.split(".")


def _table_ident(table):
    return pgsql.SQL(".").join(pgsql.Identifier(p) for p in _split_name(table))


def _fingerprint(cluster: Cluster, table):
    """(row count, md5 of all row texts in byte order), computed by the server."""
    q = pgsql.SQL("SELECT count(*), md5(string_agg(t::text, E'\\n' ORDER BY t::text COLLATE \"C\")) "
                  "FROM {} t").format(_table_ident(table))
    return cluster.one(q)


def table_diff(source: Cluster, dest: Cluster, table, limit: int = 5,
               dest_table=None) -> str | None:
    """None when the table holds the same rows on both sides (as a multiset,
    compared as row text); else a description with counts and the first
    differing rows.  Both servers hash their rows side by side first; only
    when the hashes differ (or hashing fails, e.g. past 1 GB of text) are the
    rows streamed and compared here one by one."""
    with ThreadPoolExecutor(2) as pool:
        fps = [pool.submit(_fingerprint, c, table) for c in (source, dest)]
        try:
            if fps[0].result() == fps[1].result():
                return None
        except psycopg.Error:
            pass
    src_iter, dst_iter = iter(_row_stream(source, table)), iter(_row_stream(dest, dest_table or table))
    only_src: list[str] = []
    only_dst: list[str] = []
    n_src = n_dst = extra_src = extra_dst = 0
    a = next(src_iter, None)
    b = next(dst_iter, None)
    while a is not None or b is not None:
        if a is not None and b is not None and a == b:
            n_src += 1; n_dst += 1
            a = next(src_iter, None); b = next(dst_iter, None)
        elif b is None or (a is not None and a < b):
            n_src += 1; extra_src += 1
            if len(only_src) < limit:
                only_src.append(a)
            a = next(src_iter, None)
        else:
            n_dst += 1; extra_dst += 1
            if len(only_dst) < limit:
                only_dst.append(b)
            b = next(dst_iter, None)
    if not extra_src and not extra_dst:
        return None

    def short(r: str) -> str:
        return r if len(r) <= 300 else f"{r[:150]}...<{len(r)} chars>...{r[-100:]}"

    lines = [f"table {table}: source has {n_src} rows, destination {n_dst}; "
             f"{extra_src} source rows missing on the destination, "
             f"{extra_dst} destination rows not on the source"]
    lines += [f"  only on source:      {short(r)}" for r in only_src]
    lines += [f"  only on destination: {short(r)}" for r in only_dst]
    return "\n".join(lines)


def assert_tables_equal(source: Cluster, dest: Cluster, tables: Iterable) -> None:
    """Row-by-row equality (row text, duplicates counted) of every table,
    reporting the first differing rows of each table that differs."""
    diffs = [d for d in (table_diff(source, dest, t) for t in tables) if d]
    assert not diffs, "destination differs from source:\n" + "\n".join(diffs)


def assert_mapped_tables_equal(source: Cluster, dest: Cluster, pairs: Iterable) -> None:
    """Like assert_tables_equal for (source table, destination table) pairs."""
    diffs = [d for d in (table_diff(source, dest, s, dest_table=t) for s, t in pairs) if d]
    assert not diffs, "destination differs from source:\n" + "\n".join(diffs)
