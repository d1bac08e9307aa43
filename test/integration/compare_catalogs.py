"""Catalog comparison of the pgdts integration tests: does the destination
database hold the source's schemas (tables, columns, constraints, indexes,
partitions, user types, sequences), names mapped as `--map`/`--case` map
them?

`assert_catalogs_equal` reads both sides through pg_catalog and reports every
difference; `NameMapping` says what a source name is called on the
destination.  It takes Clusters or psycopg connections and imports none of
the other test modules.
"""

from __future__ import annotations

import re

import psycopg
from psycopg import sql as pgsql


class NameMapping:
    """The destination names of source objects, as `--map` one-by-one rules
    and `--case` give them: `schemas` {old: new}, `tables` {(schema, table):
    new}, `columns` {(schema, table, column): new}; `case` ('keep', 'lower',
    'upper') spells every name no rule names. Types, sequences, constraints
    and indexes keep their names in their schema's mapped schema."""

    def __init__(self, schemas: dict | None = None, tables: dict | None = None,
                 columns: dict | None = None, case: str = "keep") -> None:
        self.schemas = schemas or {}
        self.tables = tables or {}
        self.columns = columns or {}
        self.case = case

    def _spell(self, name: str) -> str:
        return name.lower() if self.case == "lower" else name.upper() if self.case == "upper" else name

    def schema(self, s: str) -> str:
        return self.schemas[s] if s in self.schemas else self._spell(s)

    def table(self, s: str, t: str) -> tuple[str, str]:
        return self.schema(s), self.tables[(s, t)] if (s, t) in self.tables else self._spell(t)

    def column(self, s: str, t: str, c: str) -> str:
        return self.columns[(s, t, c)] if (s, t, c) in self.columns else self._spell(c)


_EXPR_TOKEN = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|[A-Za-z_][A-Za-z0-9_$]*|::|\s+|.", re.S)


def _rename_columns_in(text: str | None, renames: dict, quote_ident) -> str | None:
    """Expression text with the column names in renames (source -> destination)
    written as the destination prints them; names after '.' or '::' and
    function names are left alone."""
    if text is None or not renames:
        return text
    out: list[str] = []
    prev = ""
    tokens = list(_EXPR_TOKEN.finditer(text))
    for i, m in enumerate(tokens):
        tok = m.group(0)
        name = None
        if tok.startswith('"'):
            name = tok[1:-1].replace('""', '"')
        elif re.match(r"[A-Za-z_]", tok):
            name = tok
        following = text[m.end():].lstrip()[:1]
        if name is not None and name in renames and prev not in (".", "::") and following not in ("(", "."):
            tok = quote_ident(renames[name])
        out.append(tok)
        if not tok.isspace():
            prev = tok
    return "".join(out)


_USER_SCHEMA_SQL = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pgdts') "
    "AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp%%' "
    "AND NOT EXISTS (SELECT 1 FROM pg_extension e WHERE e.extname = 'pgdts' AND e.extnamespace = n.oid)")


def _describe_catalogs(conn, schemas: list[str] | None = None, path: list[str] | None = None) -> dict:
    """{'tables': {(schema, table): {...}}, 'types': {...}, 'sequences': {...}}
    of the user schemas (or the given ones), with every name as the server
    spells it; expressions printed with search_path = pg_catalog, the
    object's schema, the other schemas of path (so that references into
    those schemas print unqualified, whatever they are called)."""
    path = path or []

    def search_path(own: str) -> str:
        return ", ".join(["pg_catalog"] + [pgsql.Identifier(x).as_string(conn)
                                           for x in [own] + [p for p in path if p != own]])

    cur = conn.cursor()
    cur.execute("SET search_path = pg_catalog")
    where = _USER_SCHEMA_SQL if schemas is None else "n.nspname = ANY(%(schemas)s)"
    cur.execute(
        "SELECT c.oid, n.nspname, c.relname, c.relkind, rn.nspname, r.relname, "
        "  pn.nspname, p.relname, pg_get_expr(c.relpartbound, c.oid) "
        "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "JOIN pg_class r ON r.oid = COALESCE(pg_partition_root(c.oid), c.oid) JOIN pg_namespace rn ON rn.oid = r.relnamespace "
        "LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND c.relispartition "
        "LEFT JOIN pg_class p ON p.oid = i.inhparent LEFT JOIN pg_namespace pn ON pn.oid = p.relnamespace "
        f"WHERE c.relkind IN ('r', 'p') AND {where} "
        "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "
        "                AND d.objid = c.oid AND d.deptype = 'e')",
        {"schemas": schemas})
    rels = cur.fetchall()
    tables: dict = {}
    for oid, s, t, kind, rs, rt, ps, pt, bound in rels:
        cur.execute("SELECT set_config('search_path', %s, false)", [search_path(s)])
        cur.execute(
            "SELECT a.attname, tn.nspname, ty.typname, a.atttypmod, a.attnotnull, "
            "  pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated, "
            "  CASE WHEN a.attcollation <> ty.typcollation THEN co.collname END "
            "FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid "
            "JOIN pg_namespace tn ON tn.oid = ty.typnamespace "
            "LEFT JOIN pg_collation co ON co.oid = a.attcollation "
            "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
            "WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", [oid])
        columns = cur.fetchall()
        cur.execute(
            "SELECT k.conname, k.contype, k.conparentid <> 0, pg_get_constraintdef(k.oid), "
            "  ARRAY(SELECT a.attname FROM unnest(k.conkey) WITH ORDINALITY u(n, o) "
            "        JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY o), "
            "  fn.nspname, fc.relname, frn.nspname, fr.relname, "
            "  ARRAY(SELECT a.attname FROM unnest(k.confkey) WITH ORDINALITY u(n, o) "
            "        JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY o), "
            "  k.confupdtype, k.confdeltype, k.confmatchtype, k.condeferrable, k.condeferred, "
            "  k.convalidated "
            "FROM pg_constraint k LEFT JOIN pg_class fc ON fc.oid = k.confrelid "
            "LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace "
            "LEFT JOIN pg_class fr ON fr.oid = COALESCE(pg_partition_root(k.confrelid), k.confrelid) "
            "LEFT JOIN pg_namespace frn ON frn.oid = fr.relnamespace "
            "WHERE k.conrelid = %s", [oid])
        constraints = cur.fetchall()
        cur.execute(
            "SELECT ic.relname, ic.relispartition, x.indisunique, x.indisprimary, am.amname, "
            "  x.indnkeyatts, x.indoption::text, "
            "  ARRAY(SELECT oc.opcname FROM unnest(x.indclass) WITH ORDINALITY u(c, o) "
            "        JOIN pg_opclass oc ON oc.oid = u.c ORDER BY o), "
            "  ARRAY(SELECT pg_get_indexdef(x.indexrelid, k, true) FROM generate_series(1, x.indnatts) k), "
            "  pg_get_expr(x.indpred, x.indrelid) "
            "FROM pg_index x JOIN pg_class ic ON ic.oid = x.indexrelid JOIN pg_am am ON am.oid = ic.relam "
            "WHERE x.indrelid = %s", [oid])
        indexes = cur.fetchall()
        cur.execute("SELECT CASE WHEN relkind = 'p' THEN pg_get_partkeydef(oid) END, relreplident "
                    "FROM pg_class WHERE oid = %s", [oid])
        partkey, replident = cur.fetchone()
        tables[(s, t)] = dict(kind=kind, root=(rs, rt), parent=(ps, pt) if ps else None, bound=bound,
                              columns=columns, constraints=constraints, indexes=indexes,
                              partkey=partkey, replident=replident)
    cur.execute("SET search_path = pg_catalog")
    cur.execute(
        "SELECT n.nspname, s.relname, format_type(q.seqtypid, NULL), q.seqstart, q.seqincrement, "
        "  q.seqmin, q.seqmax, q.seqcache, q.seqcycle, dn.nspname, dc.relname, da.attname, d.deptype "
        "FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace JOIN pg_sequence q ON q.seqrelid = s.oid "
        "LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid "
        "  AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') "
        "LEFT JOIN pg_class dc ON dc.oid = d.refobjid LEFT JOIN pg_namespace dn ON dn.oid = dc.relnamespace "
        "LEFT JOIN pg_attribute da ON da.attrelid = d.refobjid AND da.attnum = d.refobjsubid "
        f"WHERE s.relkind = 'S' AND {where}", {"schemas": schemas})
    sequences = {(r[0], r[1]): r[2:] for r in cur.fetchall()}
    cur.execute(
        "SELECT n.nspname, t.typname, t.typtype, "
        "  ARRAY(SELECT enumlabel::text FROM pg_enum WHERE enumtypid = t.oid ORDER BY enumsortorder), "
        "  bn.nspname, b.typname, t.typtypmod, t.typnotnull, pg_get_expr(t.typdefaultbin, 0), "
        "  (SELECT collname FROM pg_collation WHERE oid = t.typcollation AND t.typcollation <> b.typcollation), "
        "  ARRAY(SELECT conname || ': ' || pg_get_constraintdef(k.oid) FROM pg_constraint k "
        "        WHERE k.contypid = t.oid ORDER BY conname), "
        "  ARRAY(SELECT a.attname || ' ' || an.nspname || '.' || at.typname || ' ' || a.atttypmod "
        "        FROM pg_attribute a JOIN pg_type at ON at.oid = a.atttypid "
        "        JOIN pg_namespace an ON an.oid = at.typnamespace "
        "        WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) "
        "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
        "LEFT JOIN pg_type b ON b.oid = t.typbasetype LEFT JOIN pg_namespace bn ON bn.oid = b.typnamespace "
        f"WHERE {where} AND (t.typtype IN ('e', 'd') OR (t.typtype = 'c' AND "
        "  (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))", {"schemas": schemas})
    types = {(r[0], r[1]): r[2:] for r in cur.fetchall()}
    cur.execute("RESET search_path")
    return {"tables": tables, "sequences": sequences, "types": types}


def _connection_of(x):
    """A psycopg connection from a Cluster or a connection (and whether it
    was opened here)."""
    if isinstance(x, psycopg.Connection):
        return x, False
    return x.connect(), True


def assert_catalogs_equal(src_conn, dst_conn, mapping: "NameMapping | dict | None" = None) -> None:
    """The destination holds, through its catalogs, what the source's user
    schemas hold, names mapped through mapping (a NameMapping): for every
    table its columns (name, type, typmod, NOT NULL, default, identity,
    generated, collation), constraints (type, columns, referenced table and
    columns, actions, definition text), indexes (keys and expressions, opclasses,
    order, unique, predicate, method), partition key and bounds, replica
    identity; the user types (enum labels, domains, composites) and the
    sequences (options, owner). src_conn/dst_conn: Clusters or psycopg
    connections; mapping: a NameMapping or the dict of its arguments. Expression texts are compared with the source's column
    names rewritten to the mapped ones."""
    m = NameMapping(**mapping) if isinstance(mapping, dict) else (mapping or NameMapping())
    src, close_src = _connection_of(src_conn)
    dst, close_dst = _connection_of(dst_conn)
    try:
        user_schemas = [r[0] for r in src.execute(
            f"SELECT n.nspname FROM pg_namespace n WHERE {_USER_SCHEMA_SQL} ORDER BY 1".replace("%%", "%"))]
        source = _describe_catalogs(src, path=user_schemas)
        schemas = sorted({m.schema(s) for s, _ in source["tables"]} |
                         {m.schema(s) for s, _ in source["types"]} |
                         {m.schema(s) for s, _ in source["sequences"]})
        dest = _describe_catalogs(dst, schemas, path=[m.schema(s) for s in user_schemas])
        quoted: dict[str, str] = {}

        def quote_ident(name: str) -> str:
            if name not in quoted:
                quoted[name] = dst.execute("SELECT quote_ident(%s)", [name]).fetchone()[0]
            return quoted[name]
    finally:
        pass

    def ms(s):  # a type's or sequence's schema
        return m.schema(s) if s in {k[0] for k in source["tables"]} | {k[0] for k in source["types"]} \
            | {k[0] for k in source["sequences"]} else s

    def colmap(s, t):
        root = source["tables"][(s, t)]["root"] if (s, t) in source["tables"] else (s, t)
        cols = [c[0] for c in source["tables"].get(root, source["tables"].get((s, t), {"columns": []}))["columns"]]
        return {c: m.column(root[0], root[1], c) for c in cols if m.column(root[0], root[1], c) != c}

    problems: list[str] = []
    expected_tables = {}
    for (s, t), d in source["tables"].items():
        ren = colmap(s, t)
        ex = lambda text, ren=ren: _rename_columns_in(text, ren, quote_ident)
        cols = [(ren.get(n, n), ms(ts), tn, mod, nn, ex(default), ident, gen, coll)
                for n, ts, tn, mod, nn, default, ident, gen, coll in d["columns"]]
        cons = []
        for (name, ctype, inherited, defn, keys, fs, ft, frs, frt, fkeys, upd, dele, match, dfr, dfd, valid) in d["constraints"]:
            keys = [ren.get(k, k) for k in keys]
            if ctype == "f":
                fren = colmap(fs, ft) if (fs, ft) in source["tables"] else {}
                ref = m.table(fs, ft)
                cons.append((None if inherited else name, ctype, tuple(keys), ref,
                             tuple(fren.get(k, k) for k in fkeys), upd, dele, match, dfr, dfd, valid))
            else:
                cons.append((None if inherited else name, ctype, tuple(keys), ex(defn)))
        idx = [(None if part else name, uniq, prim, am, nkey, opt, tuple(opc), tuple(ex(k) for k in keys), ex(pred))
               for name, part, uniq, prim, am, nkey, opt, opc, keys, pred in d["indexes"]]
        expected_tables[m.table(s, t)] = dict(
            kind=d["kind"], parent=m.table(*d["parent"]) if d["parent"] else None, bound=d["bound"],
            columns=cols, constraints=sorted(cons, key=repr), indexes=sorted(idx, key=repr),
            partkey=ex(d["partkey"]), replident=d["replident"])
    actual_tables = {}
    for (s, t), d in dest["tables"].items():
        cons = []
        for (name, ctype, inherited, defn, keys, fs, ft, frs, frt, fkeys, upd, dele, match, dfr, dfd, valid) in d["constraints"]:
            if ctype == "f":
                cons.append((None if inherited else name, ctype, tuple(keys), (fs, ft), tuple(fkeys),
                             upd, dele, match, dfr, dfd, valid))
            else:
                cons.append((None if inherited else name, ctype, tuple(keys), defn))
        idx = [(None if part else name, uniq, prim, am, nkey, opt, tuple(opc), tuple(keys), pred)
               for name, part, uniq, prim, am, nkey, opt, opc, keys, pred in d["indexes"]]
        actual_tables[(s, t)] = dict(
            kind=d["kind"], parent=d["parent"], bound=d["bound"], columns=list(map(tuple, d["columns"])),
            constraints=sorted(cons, key=repr), indexes=sorted(idx, key=repr), partkey=d["partkey"],
            replident=d["replident"])
    for key in sorted(set(expected_tables) | set(actual_tables)):
        e, a = expected_tables.get(key), actual_tables.get(key)
        if e is None:
            problems.append(f"table {key}: on the destination only")
            continue
        if a is None:
            problems.append(f"table {key}: missing on the destination")
            continue
        for field in e:
            ev, av = e[field], a[field]
            if isinstance(ev, list):
                ev, av = [tuple(x) for x in ev], [tuple(x) for x in av]
            if ev != av:
                problems.append(f"table {key} {field}:\n    expected {ev!r}\n    found    {av!r}")

    for (s, n), v in source["sequences"].items():
        *opts, os_, ot, oc, dep = v
        owner = None
        if ot:
            ren = colmap(os_, ot) if (os_, ot) in source["tables"] else {}
            owner = (m.table(os_, ot), ren.get(oc, oc), dep)
        exp = (tuple(opts), owner)
        got = dest["sequences"].get((ms(s), n))
        if got is None:
            problems.append(f"sequence {(ms(s), n)}: missing on the destination")
            continue
        *gopts, gs, gt, gc, gdep = got
        if exp != (tuple(gopts), ((gs, gt), gc, gdep) if gt else None):
            problems.append(f"sequence {(ms(s), n)}:\n    expected {exp!r}\n    found    "
                            f"{(tuple(gopts), ((gs, gt), gc, gdep) if gt else None)!r}")
    for (s, n), v in source["types"].items():
        kind, labels, bs, bn, mod, nn, default, coll, checks, attrs = v
        exp = (kind, labels, ms(bs) if bs else None, bn, mod, nn, default, coll, checks,
               [re.sub(r"^(\S+) (.*?)\.", lambda mm: f"{mm.group(1)} {ms(mm.group(2))}.", a) for a in attrs])
        got = dest["types"].get((ms(s), n))
        if got is None:
            problems.append(f"type {(ms(s), n)}: missing on the destination")
        elif tuple(exp) != tuple(got):
            problems.append(f"type {(ms(s), n)}:\n    expected {exp!r}\n    found    {tuple(got)!r}")
    if close_src:
        src.close()
    if close_dst:
        dst.close()
    assert not problems, "destination catalogs differ from the source:\n  " + "\n  ".join(problems)
