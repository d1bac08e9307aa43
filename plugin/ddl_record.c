/*-------------------------------------------------------------------------
 *
 * ddl_record.c
 *		The row of a DDL command in pgdts.dts_ddl_command
 *
 * The row is inserted in the command's own transaction, not in a
 * subtransaction, so that a migration of hundreds of DDL commands does not
 * consume a subtransaction id for each.  Users who may run DDL may not read
 * or write the table: the row is inserted as the table's owner, in a
 * restricted security context, like a foreign key check.
 *
 * The columns the row fills are those the table has: a library newer than
 * the extension's SQL objects (installed, but ALTER EXTENSION pgdts UPDATE
 * not run yet) writes the columns of the older table, and the new ones
 * from the moment the table has them.
 *
 * IDENTIFICATION
 *		plugin/ddl_record.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "ddl_capture.h"
#include "ddl_names.h"
#include "ddl_record.h"
#include "ddl_spi.h"

/* Parameters of the INSERT: the columns of version 0.1, then of 0.2 */
#define PGDTS_INSERT_NARGS_0_1	10
#define PGDTS_INSERT_NARGS		13

/* Plans kept for the session, one per shape of the table */
static SPIPlanPtr insert_plan_0_1 = NULL;
static SPIPlanPtr insert_plan = NULL;

static Oid	pgdts_ddl_table(Oid *owner);
static Datum pgdts_pairs_array(List *pairs);
static void pgdts_insert_error_callback(void *arg);

/*
 * dts_ddl_command, and its owner, as whom rows are inserted.
 */
static Oid
pgdts_ddl_table(Oid *owner)
{
	Oid			nspid = get_namespace_oid(PGDTS_SCHEMA_NAME, true);
	Oid			relid = InvalidOid;
	HeapTuple	tuple;

	if (OidIsValid(nspid))
		relid = get_relname_relid(PGDTS_DDL_TABLE, nspid);
	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.%s\" does not exist",
						PGDTS_SCHEMA_NAME, PGDTS_DDL_TABLE),
				 errdetail("The pgdts event triggers record DDL commands into it."),
				 errhint("Drop the extension pgdts and create it again.")));

	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	*owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);

	return relid;
}

/*
 * A list of strings taken two by two as a two-dimensional text[] of n rows
 * and 2 columns ('{{DateStyle,"ISO, MDY"},...}'); empty for none.
 */
static Datum
pgdts_pairs_array(List *pairs)
{
	int			n = list_length(pairs);
	Datum	   *elems;
	int			dims[2];
	int			lbs[2] = {1, 1};
	ListCell   *lc;
	int			i = 0;

	if (n < 2)
		return PointerGetDatum(construct_empty_array(TEXTOID));

	elems = palloc(sizeof(Datum) * n);
	foreach(lc, pairs)
		elems[i++] = CStringGetTextDatum((char *) lfirst(lc));
	dims[0] = n / 2;
	dims[1] = 2;
	return PointerGetDatum(construct_md_array(elems, NULL, 2, dims, lbs,
											  TEXTOID, -1, false,
											  TYPALIGN_INT));
}

/* Insert the command's row into dts_ddl_command. */
void
pgdts_insert_row(const PgdtsDdlRow *row)
{
	Oid			argtypes[PGDTS_INSERT_NARGS] = {
		TEXTOID, TEXTOID, BOOLOID, BOOLOID, TEXTOID,
		NAMEOID, NAMEOID, TEXTOID, TEXTOID, TEXTARRAYOID,
		BOOLOID, TEXTARRAYOID, TEXTARRAYOID
	};
	Datum		values[PGDTS_INSERT_NARGS];
	char		nulls[PGDTS_INSERT_NARGS];
	const char *search_path = GetConfigOption("search_path", false, false);
	Oid			relid;
	Oid			owner;
	bool		has_0_2_columns;
	Oid			save_userid;
	int			save_sec_context;
	ErrorContextCallback errcallback;
	SPIPlanPtr	plan;
	int			rc;

	memset(nulls, ' ', sizeof(nulls));

	values[0] = CStringGetTextDatum(row->tag);
	if (row->statement != NULL)
		values[1] = CStringGetTextDatum(row->statement);
	else
		nulls[1] = 'n';
	values[2] = BoolGetDatum(row->statement != NULL);
	values[3] = BoolGetDatum(row->toplevel);
	if (search_path != NULL)
		values[4] = CStringGetTextDatum(search_path);
	else
		nulls[4] = 'n';
	/* the role the command ran as, before switching to the table's owner */
	values[5] = DirectFunctionCall1(namein,
									CStringGetDatum(GetUserNameFromId(GetUserId(),
																	  false)));
	values[6] = DirectFunctionCall1(namein,
									CStringGetDatum(GetUserNameFromId(GetSessionUserId(),
																	  false)));
	nulls[7] = nulls[8] = nulls[9] = 'n';
	if (row->objects != NULL)
	{
		PgdtsObjects *objects = row->objects;
		int			n = list_length(objects->identities);
		Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
		ListCell   *lc;
		int			i = 0;

		if (objects->object_type != NULL)
		{
			values[7] = CStringGetTextDatum(objects->object_type);
			nulls[7] = ' ';
		}
		if (objects->schema_name != NULL)
		{
			values[8] = CStringGetTextDatum(objects->schema_name);
			nulls[8] = ' ';
		}
		foreach(lc, objects->identities)
			elems[i++] = CStringGetTextDatum(lfirst(lc));
		values[9] = PointerGetDatum(construct_array(elems, n, TEXTOID, -1,
													false, TYPALIGN_INT));
		nulls[9] = ' ';
	}
	/* superuser() of the role the command ran as */
	values[10] = BoolGetDatum(superuser());
	values[11] = pgdts_pairs_array(row->settings);
	if (row->names_known)
	{
		List	   *pairs = NIL;
		ListCell   *lc;

		foreach(lc, row->resolved)
		{
			PgdtsResolvedName *resolved = lfirst(lc);

			pairs = lappend(pairs, resolved->name);
			pairs = lappend(pairs, resolved->schema);
		}
		values[12] = pgdts_pairs_array(pairs);
	}
	else
		nulls[12] = 'n';

	errcallback.callback = pgdts_insert_error_callback;
	errcallback.arg = (void *) row->tag;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	relid = pgdts_ddl_table(&owner);
	has_0_2_columns = (get_attnum(relid, "role_superuser") != InvalidAttrNumber &&
					   get_attnum(relid, "settings") != InvalidAttrNumber &&
					   get_attnum(relid, "resolved_relations") != InvalidAttrNumber);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);

	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	if (has_0_2_columns)
		plan = pgdts_keep_plan(&insert_plan,
							   "INSERT INTO " PGDTS_SCHEMA_NAME "." PGDTS_DDL_TABLE
							   " (command_tag, statement, statement_exact, toplevel,"
							   " search_path, role, session_role, object_type,"
							   " schema_name, object_identities, role_superuser,"
							   " settings, resolved_relations)"
							   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,"
							   " $11, $12, $13)",
							   PGDTS_INSERT_NARGS, argtypes);
	else
		plan = pgdts_keep_plan(&insert_plan_0_1,
							   "INSERT INTO " PGDTS_SCHEMA_NAME "." PGDTS_DDL_TABLE
							   " (command_tag, statement, statement_exact, toplevel,"
							   " search_path, role, session_role, object_type,"
							   " schema_name, object_identities)"
							   " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
							   PGDTS_INSERT_NARGS_0_1, argtypes);
	rc = SPI_execute_plan(plan, values, nulls, false, 0);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "SPI_execute_plan failed: %s", SPI_result_code_string(rc));
	if ((rc = SPI_finish()) != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed: %s", SPI_result_code_string(rc));

	SetUserIdAndSecContext(save_userid, save_sec_context);
	error_context_stack = errcallback.previous;
}

static void
pgdts_insert_error_callback(void *arg)
{
	errcontext("recording %s command into %s.%s for pgdts",
			   (const char *) arg, PGDTS_SCHEMA_NAME, PGDTS_DDL_TABLE);
}
