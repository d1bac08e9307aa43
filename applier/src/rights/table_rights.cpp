#include "rights/table_rights.h"

#include "pg/literals.h"

namespace pgdts::rights {
namespace {

// Functions a source role could have written: any function but the
// built-in ones, and the built-in ones that change the session's role or
// run SQL text (which could change it). They are found by their oid in
// the stored expression trees (pg_node_tree text): deparsing them
// (pg_get_expr) would lock the table, which the apply transaction may hold
// after replaying its DDL.
constexpr const char* kSessionChangingBuiltins =
    "set_config,query_to_xml,query_to_xmlschema,query_to_xml_and_xmlschema,cursor_to_xml,"
    "cursor_to_xmlschema,table_to_xml,table_to_xmlschema,table_to_xml_and_xmlschema,"
    "schema_to_xml,schema_to_xmlschema,schema_to_xml_and_xmlschema,database_to_xml,"
    "database_to_xmlschema,database_to_xml_and_xmlschema,ts_stat,ts_rewrite";

}  // namespace

TableRights read_table_rights(pg::Connection& conn, const std::string& schema,
                              const std::string& name, const std::vector<std::string>& sent_columns,
                              bool replica_role) {
  std::string column_array = pg::text_array(sent_columns);
  // pg_trigger.tgenabled / pg_rewrite.ev_enabled states that fire
  const char* firing = replica_role ? "{A,R}" : "{A,O}";
  pg::Result r = conn.exec(
      "WITH RECURSIVE rel AS ("
      "  SELECT c.oid FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
      "    ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2),"
      // the table, the partitioned tables above it (their keys are checked
      // on its rows) and its partitions (its rows are routed to them)
      " tabs AS (SELECT oid AS relid FROM rel"
      "  UNION SELECT h.relid FROM rel, LATERAL (WITH RECURSIVE up(relid) AS ("
      "    SELECT inhparent FROM pg_catalog.pg_inherits WHERE inhrelid = rel.oid"
      "    UNION SELECT i.inhparent FROM up JOIN pg_catalog.pg_inherits i ON i.inhrelid = up.relid),"
      "   down(relid) AS (SELECT inhrelid FROM pg_catalog.pg_inherits WHERE inhparent = rel.oid"
      "    UNION SELECT i.inhrelid FROM down JOIN pg_catalog.pg_inherits i ON i.inhparent = down.relid)"
      "   SELECT relid FROM up UNION SELECT relid FROM down) h),"
      // column types, and what they are made of: domains, arrays, composites, ranges
      " types AS (SELECT a.atttypid AS typ FROM pg_catalog.pg_attribute a JOIN tabs"
      "    ON a.attrelid = tabs.relid WHERE a.attnum > 0 AND NOT a.attisdropped"
      "  UNION SELECT x.typ FROM types JOIN pg_catalog.pg_type ty ON ty.oid = types.typ,"
      "   LATERAL (SELECT ty.typbasetype AS typ WHERE ty.typtype = 'd'"
      "    UNION ALL SELECT ty.typelem WHERE ty.typelem <> 0"
      "    UNION ALL SELECT ca.atttypid FROM pg_catalog.pg_attribute ca"
      "     WHERE ty.typrelid <> 0 AND ca.attrelid = ty.typrelid AND ca.attnum > 0"
      "       AND NOT ca.attisdropped"
      "    UNION ALL SELECT rg.rngsubtype FROM pg_catalog.pg_range rg"
      "     WHERE rg.rngtypid = ty.oid) x),"
      // what is evaluated when a row is written: constraints (CHECK,
      // exclusion, domains'), generated columns and defaults of columns the
      // stream does not send, indexes, partition keys, forced policies
      " objs AS ("
      "  SELECT 'pg_catalog.pg_constraint'::pg_catalog.regclass AS classid, co.oid AS objid"
      "   FROM pg_catalog.pg_constraint co WHERE co.conrelid IN (SELECT relid FROM tabs)"
      "     OR co.contypid IN (SELECT typ FROM types)"
      "  UNION ALL SELECT 'pg_catalog.pg_attrdef'::pg_catalog.regclass, d.oid"
      "   FROM pg_catalog.pg_attrdef d JOIN pg_catalog.pg_attribute a"
      "     ON a.attrelid = d.adrelid AND a.attnum = d.adnum"
      "   WHERE d.adrelid IN (SELECT relid FROM tabs)"
      "     AND (a.attgenerated <> '' OR NOT a.attname = ANY ($3::text[]))"
      "  UNION ALL SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, i.indexrelid"
      "   FROM pg_catalog.pg_index i WHERE i.indrelid IN (SELECT relid FROM tabs)"
      "  UNION ALL SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, relid FROM tabs"
      "  UNION ALL SELECT 'pg_catalog.pg_policy'::pg_catalog.regclass, po.oid"
      "   FROM pg_catalog.pg_policy po JOIN pg_catalog.pg_class pc ON pc.oid = po.polrelid"
      "   WHERE po.polrelid IN (SELECT relid FROM tabs) AND pc.relrowsecurity"
      "     AND pc.relforcerowsecurity),"
      " funcs AS ("
      "  SELECT d.refobjid AS fn FROM pg_catalog.pg_depend d JOIN objs o"
      "    ON d.classid = o.classid AND d.objid = o.objid"
      "   WHERE d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass"
      "  UNION ALL SELECT op.oprcode FROM pg_catalog.pg_depend d JOIN objs o"
      "    ON d.classid = o.classid AND d.objid = o.objid"
      "    JOIN pg_catalog.pg_operator op ON op.oid = d.refobjid"
      "   WHERE d.refclassid = 'pg_catalog.pg_operator'::pg_catalog.regclass"
      "  UNION ALL SELECT rg.rngsubdiff FROM pg_catalog.pg_range rg"
      "   WHERE rg.rngtypid IN (SELECT typ FROM types) AND rg.rngsubdiff <> 0"
      "  UNION ALL SELECT rg.rngcanonical FROM pg_catalog.pg_range rg"
      "   WHERE rg.rngtypid IN (SELECT typ FROM types) AND rg.rngcanonical <> 0)"
      " SELECT ro.rolname, ro.rolsuper,"
      "  concat_ws('; ',"
      "   (SELECT pg_catalog.string_agg(DISTINCT p.oid::pg_catalog.regprocedure::pg_catalog.text, ', ')"
      "     FROM funcs f JOIN pg_catalog.pg_proc p ON p.oid = f.fn WHERE p.oid >= 16384),"
      // built-in functions are pinned: no dependency on them is recorded,
      // so their names are looked for in the expressions' text
      "   (SELECT pg_catalog.string_agg(DISTINCT p.proname::pg_catalog.text, ', ') FROM ("
      "     SELECT co.conbin::pg_catalog.text FROM pg_catalog.pg_constraint co"
      "      JOIN objs o ON o.objid = co.oid AND o.classid = 'pg_catalog.pg_constraint'::pg_catalog.regclass"
      "     UNION ALL SELECT d.adbin::pg_catalog.text FROM pg_catalog.pg_attrdef d"
      "      JOIN objs o ON o.objid = d.oid AND o.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass"
      "     UNION ALL SELECT pg_catalog.concat(i.indexprs::pg_catalog.text, i.indpred::pg_catalog.text)"
      "      FROM pg_catalog.pg_index i WHERE i.indrelid IN (SELECT relid FROM tabs)"
      "     UNION ALL SELECT pt.partexprs::pg_catalog.text FROM pg_catalog.pg_partitioned_table pt"
      "      WHERE pt.partrelid IN (SELECT relid FROM tabs)"
      "     UNION ALL SELECT ty.typdefaultbin::pg_catalog.text FROM pg_catalog.pg_type ty"
      "      WHERE ty.oid IN (SELECT typ FROM types)"
      "     UNION ALL SELECT pg_catalog.concat(po.polqual::pg_catalog.text, po.polwithcheck::pg_catalog.text)"
      "      FROM pg_catalog.pg_policy po"
      "      JOIN objs o ON o.objid = po.oid AND o.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass"
      "    ) e(def), pg_catalog.regexp_matches(e.def, ':(?:func|opfunc)id (\\d+)', 'g') m"
      "    JOIN pg_catalog.pg_proc p ON p.oid = m[1]::pg_catalog.oid"
      "    WHERE p.pronamespace = 'pg_catalog'::pg_catalog.regnamespace"
      "      AND p.proname = ANY ('{" + std::string(kSessionChangingBuiltins) + "}'::pg_catalog.name[]))),"
      "  EXISTS (SELECT FROM pg_catalog.pg_trigger tg WHERE tg.tgrelid IN (SELECT relid FROM tabs)"
      "    AND NOT tg.tgisinternal AND tg.tgenabled = ANY ($4::\"char\"[]))"
      "  OR EXISTS (SELECT FROM pg_catalog.pg_rewrite w WHERE w.ev_class IN (SELECT relid FROM tabs)"
      "    AND w.rulename <> '_RETURN' AND w.ev_enabled = ANY ($4::\"char\"[]))"
      " FROM rel JOIN pg_catalog.pg_class c ON c.oid = rel.oid"
      " JOIN pg_catalog.pg_roles ro ON ro.oid = c.relowner",
      {schema.c_str(), name.c_str(), column_array.c_str(), firing});

  TableRights t;
  if (r.rows() != 1) return t;
  t.found = true;
  t.owner = std::string(r.value(0, 0));
  t.owner_superuser = r.value(0, 1) == "t";
  t.code = std::string(r.value(0, 2));
  if (r.value(0, 3) == "t")
    t.code += std::string(t.code.empty() ? "" : "; ") + (replica_role ? "triggers or rules that fire under replica mode"
                                                                 : "triggers or rules");
  return t;
}

}  // namespace pgdts::rights
