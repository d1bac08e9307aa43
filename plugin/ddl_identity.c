/*-------------------------------------------------------------------------
 *
 * ddl_identity.c
 *		REPLICA IDENTITY FULL for tables that join a task without a key
 *
 * A task started with --replica-identity-full gives its keyless tables, and
 * the tables its ETL rules shape, REPLICA IDENTITY FULL before its
 * snapshot, so that their UPDATEs and DELETEs carry the old row the
 * destination finds them by (and a row filter judges).  A table created
 * later in one of the task's schemas (CREATE TABLE, CREATE TABLE AS, SELECT
 * INTO, a table rebuilt under a new name), or left without a key by an
 * ALTER TABLE, joins the task too, as does a new partition of a table with
 * a rule, and its first UPDATE may come in the very transaction that
 * created it: no later step of the applier could set the identity in
 * time.  So the DDL capture does it, at the command's end,
 * in the command's own transaction, for every task whose row in
 * pgdts.dts_task_setting asks for it (pgdts sync writes the row) and whose
 * slot exists.
 *
 * The identity is set in pg_class directly, as ALTER TABLE ... REPLICA
 * IDENTITY FULL would set it, rather than by running that command: a
 * command run from here would fire the event triggers again and be
 * captured as a statement of its own, without its text.  The destination
 * does not need the change: it finds rows by the old row the source sends.
 *
 * IDENTIFICATION
 *		plugin/ddl_identity.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/event_trigger.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/lmgr.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "ddl_capture.h"
#include "ddl_guard.h"
#include "ddl_identity.h"
#include "ddl_spi.h"

/*
 * The plain, permanent tables with the default identity that the command
 * created or altered and that a live task asks FULL for: keyless ones in
 * its schemas, and partitions of a table its ETL rules name (to_regclass
 * reads the qualified names sync wrote).
 */
#define PGDTS_KEYLESS_TABLES_QUERY \
	"SELECT DISTINCT ON (c.oid) c.oid, s.task" \
	" FROM pg_catalog.pg_event_trigger_ddl_commands() d" \
	" JOIN pg_catalog.pg_class c ON c.oid = d.objid" \
	" JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace" \
	" JOIN pgdts.dts_task_setting s ON s.replica_identity_full" \
	"  AND EXISTS (SELECT FROM pg_catalog.pg_replication_slots r" \
	"              WHERE r.slot_name = '" PGDTS_SLOT_PREFIX "' || s.task" \
	"                AND r.database = pg_catalog.current_database())" \
	" WHERE d.object_type = 'table' AND NOT d.in_extension" \
	"   AND c.relkind = 'r' AND c.relpersistence = 'p' AND c.relreplident = 'd'" \
	"   AND ((NOT EXISTS (SELECT FROM pg_catalog.pg_index i" \
	"                     WHERE i.indrelid = c.oid AND i.indisprimary)" \
	"         AND (s.schemas IS NULL OR n.nspname = ANY (s.schemas)))" \
	"        OR (c.relispartition AND EXISTS (" \
	"          SELECT FROM pg_catalog.pg_partition_ancestors(c.oid) a" \
	"          JOIN pg_catalog.unnest(s.ruled_tables) rt(name)" \
	"            ON pg_catalog.to_regclass(rt.name) = a.relid)))" \
	" ORDER BY c.oid, s.task"

typedef struct PgdtsKeylessTables
{
	Oid			setting_owner;	/* of dts_task_setting: read as that role */
	MemoryContext cxt;
	List	   *relids;
	List	   *tasks;			/* the task asking, per relid */
} PgdtsKeylessTables;

static SPIPlanPtr keyless_tables_plan = NULL;

static bool pgdts_may_leave_a_table_keyless(Node *parsetree);
static void pgdts_read_keyless_tables(void *arg);
static void pgdts_set_replica_identity_full(Oid relid, const char *task);

/* Commands after which a table may need REPLICA IDENTITY FULL for a task. */
static bool
pgdts_may_leave_a_table_keyless(Node *parsetree)
{
	return IsA(parsetree, CreateStmt) || IsA(parsetree, CreateTableAsStmt) ||
		IsA(parsetree, AlterTableStmt);
}

static void
pgdts_read_keyless_tables(void *arg)
{
	PgdtsKeylessTables *found = (PgdtsKeylessTables *) arg;
	SPIPlanPtr	plan;
	uint64		i;
	int			rc;
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;

	/*
	 * The command's role may not read the extension's table (nobody but its
	 * owner may): read as the owner, in a restricted operation, as the
	 * capture writes dts_ddl_command (ddl_record.c).  An error leaves the
	 * subtransaction, whose abort restores the role.
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(found->setting_owner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);

	/*
	 * The command's search_path could put a schema of its role before
	 * pg_catalog, with an "=" of its own that the owner would then run: the
	 * query resolves its operators in pg_catalog alone.
	 */
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	plan = pgdts_keep_plan(&keyless_tables_plan, PGDTS_KEYLESS_TABLES_QUERY,
						   0, NULL);
	rc = SPI_execute_plan(plan, NULL, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Oid			relid = DatumGetObjectId(SPI_getbinval(tuple, desc, 1,
														   &isnull));
		MemoryContext oldcxt = MemoryContextSwitchTo(found->cxt);

		found->relids = lappend_oid(found->relids, relid);
		found->tasks = lappend(found->tasks, SPI_getvalue(tuple, desc, 2));
		MemoryContextSwitchTo(oldcxt);
	}
	SPI_finish();
	AtEOXact_GUC(true, save_nestlevel);
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

/*
 * What ALTER TABLE ... REPLICA IDENTITY FULL does to pg_class, under the
 * lock that command takes (the creating command holds it already).
 */
static void
pgdts_set_replica_identity_full(Oid relid, const char *task)
{
	Relation	pg_class;
	HeapTuple	tuple;

	LockRelationOid(relid, AccessExclusiveLock);
	pg_class = table_open(RelationRelationId, RowExclusiveLock);
	tuple = SearchSysCacheCopy1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	((Form_pg_class) GETSTRUCT(tuple))->relreplident = REPLICA_IDENTITY_FULL;
	CatalogTupleUpdate(pg_class, &tuple->t_self, tuple);
	heap_freetuple(tuple);
	table_close(pg_class, RowExclusiveLock);
	CommandCounterIncrement();

	ereport(LOG,
			(errmsg("pgdts set REPLICA IDENTITY FULL on table \"%s.%s\" for task \"%s\"",
					get_namespace_name(get_rel_namespace(relid)),
					get_rel_name(relid), task)));
}

/*
 * At the end of a command that may have made a table a task needs FULL
 * for (see PGDTS_KEYLESS_TABLES_QUERY): give it REPLICA IDENTITY FULL.
 * Does nothing with an extension older than 0.3 (no dts_task_setting).
 */
void
pgdts_keep_replica_identity_full(EventTriggerData *trigdata)
{
	PgdtsKeylessTables found;
	Oid			extension_schema;
	Oid			setting_table;
	HeapTuple	tuple;
	ListCell   *relid;
	ListCell   *task;

	if (!pgdts_may_leave_a_table_keyless(trigdata->parsetree))
		return;
	extension_schema = get_namespace_oid("pgdts", true);
	setting_table = OidIsValid(extension_schema) ?
		get_relname_relid("dts_task_setting", extension_schema) : InvalidOid;
	if (!OidIsValid(setting_table))
		return;
	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(setting_table));
	if (!HeapTupleIsValid(tuple))
		return;
	found.setting_owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);

	found.cxt = CurrentMemoryContext;
	found.relids = NIL;
	found.tasks = NIL;
	if (!pgdts_guarded_read(pgdts_read_keyless_tables, &found,
							"the tables without a key",
							GetCommandTagName(trigdata->tag),
							"Set REPLICA IDENTITY FULL on the tables it created without a key by hand."))
		return;
	forboth(relid, found.relids, task, found.tasks)
		pgdts_set_replica_identity_full(lfirst_oid(relid), lfirst(task));
}
