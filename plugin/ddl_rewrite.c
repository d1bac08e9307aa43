/*-------------------------------------------------------------------------
 *
 * ddl_rewrite.c
 *		Rows written again after ADD COLUMN with a volatile default
 *
 * ALTER TABLE ... ADD COLUMN with a volatile default (clock_timestamp(),
 * random(), nextval() of a SERIAL) or a BY DEFAULT identity computes a
 * value for every existing row in a table rewrite, which logical decoding
 * does not carry.  Replayed on the destination, the command would compute
 * other values there.  So the rows are written once more, right after the
 * command's row in dts_ddl_command, with the values they got: "UPDATE ONLY
 * t SET c = c" in the command's transaction, for the table and each of its
 * inheritance children or partitions that stores rows (not a foreign
 * table: its rows live elsewhere).  The stream carries them as UPDATEs,
 * which the applier replays after the command, and the destination ends
 * with the source's values.
 *
 * The UPDATE changes nothing, and must run nobody's code:
 *
 * - No user trigger of the table fires, in whatever state it is enabled
 *   (ALWAYS and REPLICA included): within the ALTER TABLE's transaction,
 *   which holds the table's AccessExclusiveLock, each of them is disabled
 *   through the backend's trigger API and put back in its exact previous
 *   state after the UPDATE; nobody else can see the change.  The session
 *   stays in its session_replication_role, so that anything else (a
 *   trigger of another table that a statement of the same transaction
 *   fires) behaves as it would have.  Internal triggers, those of foreign
 *   keys, are left alone: they run no user code, only PostgreSQL's own
 *   checks, which the rows pass (the ALTER TABLE checked them), and with
 *   the keys unchanged the referencing side's actions do nothing.
 *
 * - A table with an UPDATE rule, or whose owner row-level security
 *   applies to, is left alone with a WARNING naming it: a rule would run
 *   something else than the UPDATE, and policies would leave rows out.
 *   The destination then computes that table's values itself.
 *
 * - The UPDATE runs as the table's owner in a security-restricted context,
 *   as PostgreSQL builds an index: check constraints, index expressions
 *   and generated columns evaluate with the rights of the role that
 *   defined them, not of the role (maybe a superuser) running the ALTER.
 *
 * IDENTIFICATION
 *		plugin/ddl_rewrite.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "optimizer/optimizer.h"
#include "rewrite/prs2lock.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/rls.h"

#include "ddl_rewrite.h"

/* A trigger disabled for the UPDATE, and the state to put back */
typedef struct PgdtsSavedTrigger
{
	char	   *name;
	char		enabled;		/* pg_trigger.tgenabled */
} PgdtsSavedTrigger;

static List *pgdts_added_columns(AlterTableStmt *stmt);
static bool pgdts_default_is_volatile(TupleDesc desc, AttrNumber attnum);
static char *pgdts_rewrite_statement(Relation rel, List *columns);
static bool pgdts_may_rewrite(Relation rel);
static List *pgdts_disable_user_triggers(Relation rel);
static void pgdts_restore_triggers(Relation rel, List *saved);
static void pgdts_update_as_owner(Relation rel, const char *sql);

/*
 * After ALTER TABLE stmt: write again the rows of every column it added
 * with a volatile default or an identity, see above.
 */
void
pgdts_rewrite_volatile_columns(AlterTableStmt *stmt)
{
	List	   *columns;
	List	   *relids;
	Oid			relid;
	ListCell   *lc;

	if (stmt->objtype != OBJECT_TABLE)
		return;
	columns = pgdts_added_columns(stmt);
	if (columns == NIL)
		return;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid))
		return;

	/* ADD COLUMN recursed to all of them and locked them, as the table */
	relids = find_all_inheritors(relid, AccessExclusiveLock, NULL);
	foreach(lc, relids)
	{
		Relation	rel = table_open(lfirst_oid(lc), AccessExclusiveLock);
		char	   *sql = NULL;

		if (rel->rd_rel->relkind == RELKIND_RELATION)
			sql = pgdts_rewrite_statement(rel, columns);
		if (sql != NULL && pgdts_may_rewrite(rel))
		{
			List	   *saved = pgdts_disable_user_triggers(rel);

			pgdts_update_as_owner(rel, sql);
			pgdts_restore_triggers(rel, saved);
		}
		table_close(rel, NoLock);
	}
}

/* Names of the columns the ALTER TABLE adds */
static List *
pgdts_added_columns(AlterTableStmt *stmt)
{
	List	   *columns = NIL;
	ListCell   *lc;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if ((cmd->subtype == AT_AddColumn ||
			 cmd->subtype == AT_AddColumnRecurse) &&
			cmd->def != NULL && IsA(cmd->def, ColumnDef))
			columns = lappend(columns, ((ColumnDef *) cmd->def)->colname);
	}
	return columns;
}

/*
 * Is the default of column attnum volatile (clock_timestamp(), random(),
 * nextval() of a SERIAL)?
 */
static bool
pgdts_default_is_volatile(TupleDesc desc, AttrNumber attnum)
{
	int			i;

	if (desc->constr == NULL)
		return false;
	for (i = 0; i < desc->constr->num_defval; i++)
	{
		AttrDefault *def = &desc->constr->defval[i];

		if (def->adnum == attnum)
			return contain_volatile_functions(stringToNode(def->adbin));
	}
	return false;
}

/*
 * "UPDATE ONLY s.t SET c = c, ..." for the added columns of rel that got
 * a value per row, or NULL when none did.
 */
static char *
pgdts_rewrite_statement(Relation rel, List *columns)
{
	TupleDesc	desc = RelationGetDescr(rel);
	StringInfoData sql;
	ListCell   *lc;
	int			ncolumns = 0;

	initStringInfo(&sql);
	appendStringInfo(&sql, "UPDATE ONLY %s SET ",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)));
	foreach(lc, columns)
	{
		const char *colname = lfirst(lc);
		AttrNumber	attnum = get_attnum(RelationGetRelid(rel), colname);
		Form_pg_attribute attr;

		if (attnum <= 0)
			continue;
		attr = TupleDescAttr(desc, attnum - 1);

		/*
		 * GENERATED ALWAYS identities cannot be set by an UPDATE on the
		 * destination: left out (each side numbers the rows on its own).
		 */
		if (attr->attisdropped || attr->attgenerated ||
			attr->attidentity == ATTRIBUTE_IDENTITY_ALWAYS)
			continue;
		if (!attr->attidentity && !pgdts_default_is_volatile(desc, attnum))
			continue;
		appendStringInfo(&sql, "%s%s = %s", ncolumns > 0 ? ", " : "",
						 quote_identifier(colname), quote_identifier(colname));
		ncolumns++;
	}

	if (ncolumns == 0)
	{
		pfree(sql.data);
		return NULL;
	}
	return sql.data;
}

/*
 * May the UPDATE run on rel as its owner, and do exactly what it says?
 * Not with an UPDATE rule (a rule rewrites the UPDATE into something else,
 * maybe of other tables), nor where row-level security applies to the
 * owner (policies would leave rows out, or run the policies' code), nor
 * when the owner may not UPDATE its own table.
 */
static bool
pgdts_may_rewrite(Relation rel)
{
	Oid			owner = rel->rd_rel->relowner;
	const char *reason = NULL;

	if (rel->rd_rules != NULL)
	{
		int			i;

		for (i = 0; i < rel->rd_rules->numLocks; i++)
		{
			if (rel->rd_rules->rules[i]->event == CMD_UPDATE)
				reason = "The table has a rule on UPDATE.";
		}
	}
	if (reason == NULL &&
		check_enable_rls(RelationGetRelid(rel), owner, true) == RLS_ENABLED)
		reason = "Row-level security applies to the table's owner.";
	if (reason == NULL &&
		pg_class_aclcheck(RelationGetRelid(rel), owner, ACL_UPDATE) != ACLCHECK_OK)
		reason = "The table's owner may not update it.";

	if (reason == NULL)
		return true;

	ereport(WARNING,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("pgdts does not send the values of the new columns of table \"%s.%s\"",
					get_namespace_name(RelationGetNamespace(rel)),
					RelationGetRelationName(rel)),
			 errdetail("%s  The destination computes the values of the rows it has itself.",
					   reason)));
	return false;
}

/*
 * Disable every trigger of rel that is not internal, and return what each
 * of them was.
 */
static List *
pgdts_disable_user_triggers(Relation rel)
{
	TriggerDesc *trigdesc = rel->trigdesc;
	List	   *saved = NIL;
	ListCell   *lc;
	int			i;

	if (trigdesc == NULL)
		return NIL;

	/* read them all first: disabling one rebuilds rel's trigger list */
	for (i = 0; i < trigdesc->numtriggers; i++)
	{
		Trigger    *trigger = &trigdesc->triggers[i];
		PgdtsSavedTrigger *save;

		if (trigger->tgisinternal || trigger->tgenabled == TRIGGER_DISABLED)
			continue;
		save = palloc(sizeof(PgdtsSavedTrigger));
		save->name = pstrdup(trigger->tgname);
		save->enabled = trigger->tgenabled;
		saved = lappend(saved, save);
	}

	foreach(lc, saved)
	{
		PgdtsSavedTrigger *save = lfirst(lc);

		EnableDisableTrigger(rel, save->name, TRIGGER_DISABLED, false,
							 AccessExclusiveLock);
	}
	CommandCounterIncrement();
	return saved;
}

/* Put the triggers pgdts_disable_user_triggers disabled back as they were. */
static void
pgdts_restore_triggers(Relation rel, List *saved)
{
	ListCell   *lc;

	foreach(lc, saved)
	{
		PgdtsSavedTrigger *save = lfirst(lc);

		EnableDisableTrigger(rel, save->name, save->enabled, false,
							 AccessExclusiveLock);
	}
	if (saved != NIL)
		CommandCounterIncrement();
}

/*
 * Run sql as rel's owner, in a security-restricted context: nothing it
 * runs can change the session's state or act as the ALTER TABLE's role.
 */
static void
pgdts_update_as_owner(Relation rel, const char *sql)
{
	Oid			save_userid;
	int			save_sec_context;
	int			rc;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(rel->rd_rel->relowner,
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);

	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	rc = SPI_execute(sql, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
	if ((rc = SPI_finish()) != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed: %s", SPI_result_code_string(rc));

	SetUserIdAndSecContext(save_userid, save_sec_context);
}
