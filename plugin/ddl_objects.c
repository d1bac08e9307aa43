/*-------------------------------------------------------------------------
 *
 * ddl_objects.c
 *		The objects a DDL command touched, as event triggers tell them
 *
 * pg_event_trigger_ddl_commands() and pg_event_trigger_dropped_objects()
 * say which objects a command created, altered or dropped; the row of the
 * command lists their identities and names a main object (its type and
 * schema).  They also tell whether the destination needs the command at
 * all: not when it touched only temporary objects or pgdts' own.
 *
 * The reads run through SPI, in a subtransaction (ddl_guard.c): a failure
 * leaves the row without object identities rather than failing the user's
 * command.
 *
 * IDENTIFICATION
 *		plugin/ddl_objects.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "nodes/parsenodes.h"
#include "tcop/cmdtag.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "ddl_capture.h"
#include "ddl_guard.h"
#include "ddl_objects.h"
#include "ddl_spi.h"

/* Ranks of the candidates for a row's main object, best last. */
#define PGDTS_MAIN_ANY			1	/* any object the command touched */
#define PGDTS_MAIN_DROPPED		2	/* an object the command named and dropped */
#define PGDTS_MAIN_TAGGED		3	/* an object of the command's own tag */

/* Arguments of pgdts_read_objects_guts through pgdts_guarded_read */
typedef struct PgdtsObjectsRead
{
	EventTriggerData *trigdata;
	PgdtsEvent	event;
	PgdtsObjects *objects;
	MemoryContext cxt;
} PgdtsObjectsRead;

/* Plans kept for the session */
static SPIPlanPtr ddl_commands_plan = NULL;
static SPIPlanPtr dropped_objects_plan = NULL;

static void pgdts_read_objects_guts(void *arg);
static void pgdts_read_created_relation(CreateTableAsStmt *stmt,
										PgdtsObjects *objects,
										MemoryContext cxt);
static void pgdts_add_object(PgdtsObjects *objects, MemoryContext cxt,
							 const char *object_type,
							 const char *schema_name, const char *identity,
							 int rank);

/*
 * Read what the command touched into *objects.  Returns whether the
 * objects are known.
 */
bool
pgdts_read_objects(EventTriggerData *trigdata, PgdtsEvent event,
				   PgdtsObjects *objects)
{
	PgdtsObjectsRead read;

	memset(objects, 0, sizeof(PgdtsObjects));
	read.trigdata = trigdata;
	read.event = event;
	read.objects = objects;
	read.cxt = CurrentMemoryContext;

	if (pgdts_guarded_read(pgdts_read_objects_guts, &read, "the objects",
						   GetCommandTagName(trigdata->tag),
						   "The command is recorded without its object identities."))
		return true;
	memset(objects, 0, sizeof(PgdtsObjects));
	return false;
}

static void
pgdts_read_objects_guts(void *arg)
{
	PgdtsObjectsRead *read = (PgdtsObjectsRead *) arg;
	EventTriggerData *trigdata = read->trigdata;
	PgdtsEvent	event = read->event;
	PgdtsObjects *objects = read->objects;
	MemoryContext cxt = read->cxt;
	const char *tag = GetCommandTagName(trigdata->tag);
	SPIPlanPtr	plan;
	TupleDesc	desc;
	uint64		i;
	int			rc;

	/* at its start, the command has created nothing yet */
	if (event == PGDTS_AT_START)
	{
		pgdts_read_created_relation((CreateTableAsStmt *) trigdata->parsetree,
									objects, cxt);
		return;
	}

	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));

	/* created or altered objects; none for a DROP */
	plan = pgdts_keep_plan(&ddl_commands_plan,
						   "SELECT command_tag, object_type, schema_name,"
						   " object_identity, in_extension"
						   " FROM pg_catalog.pg_event_trigger_ddl_commands()",
						   0, NULL);
	rc = SPI_execute_plan(plan, NULL, NULL, false, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	desc = SPI_tuptable->tupdesc;
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		char	   *command_tag = SPI_getvalue(tuple, desc, 1);
		int			rank = PGDTS_MAIN_ANY;
		bool		isnull;

		/* collected while an extension script ran */
		if (DatumGetBool(SPI_getbinval(tuple, desc, 5, &isnull)))
			continue;
		if (command_tag != NULL && strcmp(command_tag, tag) == 0)
			rank = PGDTS_MAIN_TAGGED;
		pgdts_add_object(objects, cxt,
						 SPI_getvalue(tuple, desc, 2),
						 SPI_getvalue(tuple, desc, 3),
						 SPI_getvalue(tuple, desc, 4),
						 rank);
	}

	/*
	 * Dropped objects: those the command named ("original") and those a
	 * normal dependency reached (CASCADE); not the parts that go with them (a
	 * table's indexes, row type, TOAST table).
	 */
	if (event == PGDTS_AT_SQL_DROP)
	{
		plan = pgdts_keep_plan(&dropped_objects_plan,
							   "SELECT object_type, schema_name, object_identity,"
							   " original, normal, is_temporary"
							   " FROM pg_catalog.pg_event_trigger_dropped_objects()",
							   0, NULL);
		rc = SPI_execute_plan(plan, NULL, NULL, false, 0);
		if (rc != SPI_OK_SELECT)
			elog(ERROR, "SPI_execute_plan failed: %s",
				 SPI_result_code_string(rc));
		desc = SPI_tuptable->tupdesc;
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tuple = SPI_tuptable->vals[i];
			bool		isnull;
			bool		original;
			bool		normal;
			bool		temporary;

			original = DatumGetBool(SPI_getbinval(tuple, desc, 4, &isnull));
			normal = DatumGetBool(SPI_getbinval(tuple, desc, 5, &isnull));
			temporary = DatumGetBool(SPI_getbinval(tuple, desc, 6, &isnull));
			if (!original && !normal)
				continue;
			pgdts_add_object(objects, cxt,
							 SPI_getvalue(tuple, desc, 1),
							 temporary ? "pg_temp" : SPI_getvalue(tuple, desc, 2),
							 SPI_getvalue(tuple, desc, 3),
							 original ? PGDTS_MAIN_DROPPED : PGDTS_MAIN_ANY);
		}
	}

	if ((rc = SPI_finish()) != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed: %s", SPI_result_code_string(rc));
}

/*
 * The relation a CREATE TABLE AS, SELECT INTO or CREATE MATERIALIZED VIEW
 * is about to create, resolved as the command will resolve it.  None when
 * IF NOT EXISTS finds it exists (the command will do nothing) or its schema
 * does not (the command will fail).
 */
static void
pgdts_read_created_relation(CreateTableAsStmt *stmt, PgdtsObjects *objects,
							MemoryContext cxt)
{
	RangeVar   *rel = stmt->into->rel;
	const char *object_type;
	Oid			nspid;
	char	   *nspname;

	object_type = (stmt->objtype == OBJECT_MATVIEW) ?
		"materialized view" : "table";

	if (rel->relpersistence == RELPERSISTENCE_TEMP)
	{
		pgdts_add_object(objects, cxt, object_type, "pg_temp", NULL,
						 PGDTS_MAIN_TAGGED);
		return;
	}

	if (rel->schemaname != NULL &&
		!OidIsValid(get_namespace_oid(rel->schemaname, true)))
		return;

	nspid = RangeVarGetCreationNamespace(rel);
	if (stmt->if_not_exists &&
		OidIsValid(get_relname_relid(rel->relname, nspid)))
		return;

	nspname = isTempNamespace(nspid) ? "pg_temp" : get_namespace_name(nspid);
	pgdts_add_object(objects, cxt, object_type, nspname,
					 quote_qualified_identifier(nspname, rel->relname),
					 PGDTS_MAIN_TAGGED);
}

/*
 * Add an object the command touched: its identity (once), whether the
 * destination may need it, and whether it is a better main object for the
 * row than the one so far.  The first object of the command's own tag
 * (the table of CREATE TABLE, rather than its SERIAL's sequence) is the
 * best, then the first object a DROP named, then the first object at all.
 */
static void
pgdts_add_object(PgdtsObjects *objects, MemoryContext cxt,
				 const char *object_type, const char *schema_name,
				 const char *identity, int rank)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(cxt);
	bool		temporary = (schema_name != NULL &&
							 strcmp(schema_name, "pg_temp") == 0);
	bool		own;

	own = (schema_name != NULL &&
		   strcmp(schema_name, PGDTS_SCHEMA_NAME) == 0) ||
		(object_type != NULL && strcmp(object_type, "extension") == 0 &&
		 identity != NULL && strcmp(identity, PGDTS_EXTENSION_NAME) == 0);
	if (!temporary && !own)
		objects->nreplayable++;

	/* GRANT, REVOKE, ALTER DEFAULT PRIVILEGES name no single object */
	if (identity != NULL)
	{
		ListCell   *lc;
		bool		seen = false;

		foreach(lc, objects->identities)
		{
			if (strcmp(lfirst(lc), identity) == 0)
			{
				seen = true;
				break;
			}
		}
		if (!seen)
			objects->identities = lappend(objects->identities,
										  pstrdup(identity));
	}

	if (rank > objects->main_rank)
	{
		objects->main_rank = rank;
		objects->object_type = object_type ? pstrdup(object_type) : NULL;
		objects->schema_name = schema_name ? pstrdup(schema_name) : NULL;
	}

	MemoryContextSwitchTo(oldcxt);
}
