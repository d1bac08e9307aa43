"""A schema selected whole brings its other objects: functions, procedures,
views (in dependency order, including a view replaced to read a newer one),
a materialized view (its definition, without data), a trigger (inert for
replayed rows under replica mode), and comments; each owned by its source
owner, created through that role's run_as function."""

from __future__ import annotations

import processes
from compare_rows import assert_tables_equal
from processes import run_on_both

SOURCE_OBJECTS = """
CREATE SCHEMA shop AUTHORIZATION alice;
SET ROLE alice;
CREATE TABLE shop.orders (id int PRIMARY KEY, total numeric NOT NULL, audited boolean DEFAULT false);
CREATE FUNCTION shop.with_tax(numeric) RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT $1 * 1.2';
CREATE FUNCTION shop.mark_audited() RETURNS trigger LANGUAGE plpgsql AS
  $$BEGIN NEW.audited := true; RETURN NEW; END$$;
CREATE PROCEDURE shop.purge(before int) LANGUAGE sql AS 'DELETE FROM shop.orders WHERE id < before';
CREATE VIEW shop.summary AS SELECT 1 AS one;
CREATE VIEW shop.big_orders AS SELECT id, shop.with_tax(total) AS gross FROM shop.orders WHERE total > 100;
CREATE OR REPLACE VIEW shop.summary AS SELECT 1 AS one, (SELECT count(*) FROM shop.big_orders) AS big;
CREATE MATERIALIZED VIEW shop.totals AS SELECT count(*) AS n, sum(total) AS s FROM shop.orders;
CREATE TRIGGER orders_audit BEFORE INSERT ON shop.orders FOR EACH ROW EXECUTE FUNCTION shop.mark_audited();
COMMENT ON TABLE shop.orders IS 'every order';
COMMENT ON COLUMN shop.orders.total IS 'in cents, o''clock';
COMMENT ON VIEW shop.big_orders IS 'over 100';
COMMENT ON FUNCTION shop.with_tax(numeric) IS 'VAT';
RESET ROLE;
INSERT INTO shop.orders SELECT g, g * 10 FROM generate_series(1, 50) g;
"""

DEFINITIONS = """
SELECT 'function ' || p.oid::regprocedure::text, pg_get_userbyid(p.proowner), pg_get_functiondef(p.oid)
  FROM pg_proc p WHERE p.pronamespace = 'shop'::regnamespace
UNION ALL
SELECT 'relation ' || c.oid::regclass::text, pg_get_userbyid(c.relowner), pg_get_viewdef(c.oid, true)
  FROM pg_class c WHERE c.relnamespace = 'shop'::regnamespace AND c.relkind IN ('v', 'm')
UNION ALL
SELECT 'trigger ' || t.tgname, pg_get_userbyid(c.relowner), pg_get_triggerdef(t.oid)
  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
  WHERE c.relnamespace = 'shop'::regnamespace AND NOT t.tgisinternal
UNION ALL
SELECT 'comment ' || d.classoid::regclass::text || ' ' || d.objsubid, '', d.description
  FROM pg_description d
  WHERE d.objoid IN (SELECT oid FROM pg_class WHERE relnamespace = 'shop'::regnamespace
                     UNION ALL SELECT oid FROM pg_proc WHERE pronamespace = 'shop'::regnamespace)
ORDER BY 1, 3
"""


def test_a_whole_schema_brings_functions_views_triggers_and_comments(pgdts, source, dest):
    run_on_both(source, dest, "CREATE ROLE alice LOGIN")
    source.sql(SOURCE_OBJECTS)
    app = pgdts.sync(source, dest, phases="schema,full,incremental", wait_ready=False,
                     extra_args=["--schemas", "shop"])
    app.wait_phase("incremental", timeout=300)
    assert "event=schema_object_not_created" not in app.logs(), app.log_tail()
    assert "event=schema_objects_created objects=11" in app.logs(), app.log_tail()
    assert dest.sql(DEFINITIONS) == source.sql(DEFINITIONS)
    assert {r[1] for r in dest.sql(DEFINITIONS) if r[1]} == {"alice"}
    # The materialized view came without data; it refreshes on the destination.
    assert not dest.one("SELECT relispopulated FROM pg_class WHERE oid = 'shop.totals'::regclass")
    dest.sql("REFRESH MATERIALIZED VIEW shop.totals")
    assert dest.one("SELECT n FROM shop.totals") == 50
    # Rows the stream replays do not fire the trigger (replica mode); the
    # source's trigger already set the column.
    source.sql("INSERT INTO shop.orders (id, total) VALUES (1000, 5)")
    processes.wait_caught_up(source, dest, app)
    assert dest.one("SELECT audited FROM shop.orders WHERE id = 1000") is True
    assert dest.one("SELECT big FROM shop.summary") == source.one("SELECT big FROM shop.summary")
    app.stop()
    assert_tables_equal(source, dest, ["shop.orders"])
