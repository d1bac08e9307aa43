/*-------------------------------------------------------------------------
 *
 * ddl_capture.c
 *		Capture of DDL commands into pgdts.dts_ddl_command
 *
 * The extension's event triggers call the functions here.  Each DDL command
 * PostgreSQL fires event triggers for becomes one row of
 * pgdts.dts_ddl_command, inserted in the command's own transaction right
 * when the command ends, so that the output plugin (pgdts.c) sends it as a
 * Ddl record at its exact place among the data changes.  (Commands that
 * write rows, CREATE TABLE AS and the like, are recorded as they start, so
 * that the record precedes their rows.)  One row per statement: the
 * sequence of a SERIAL column, the indexes of CREATE TABLE's constraints
 * and the subcommands of an ALTER TABLE belong to the statement's row, not
 * rows of their own.
 *
 * The row holds the text of that command alone.  Event triggers get a parse
 * tree, not text; the text comes from one of:
 *
 * - the ProcessUtility hook, installed when this library is loaded.  It
 *   sees every utility statement with its own query string and position: a
 *   client's multi-statement string with the offset and length of the
 *   statement in it; the statement's own string when a function, procedure
 *   or DO block runs it through SPI.  It keeps a stack of the statements
 *   being executed, and the ddl_command_start trigger claims the innermost
 *   one for its command (whatever ran between the hook and that trigger
 *   has ended).
 *
 * - the active portal, for a command whose execution began before this
 *   library was loaded.  When pgdts is not preloaded, the first DDL command
 *   of a session is what loads it (its ddl_command_start trigger is the
 *   first call into the library), so the hook misses that one command.  If
 *   the command is the statement the client sent, the portal holds it with
 *   its position: exact.
 *
 * - nothing, if that first command runs inside a function, procedure or DO
 *   block: the portal then holds the call, not the command.  Such a command
 *   is recorded with statement_exact = false and no statement, and a
 *   WARNING tells the session; the applier stops at it and names the
 *   command tag and the objects.  It is not refused: refusing would make
 *   pgdts break the application's DDL on the source (a migration tool that
 *   opens a fresh connection and starts with a DO block would fail on every
 *   run), while a flagged row stops only the replication, at the exact
 *   place, for an operator to replay the command by hand.  With pgdts in
 *   shared_preload_libraries or session_preload_libraries the hook sees
 *   every statement and this never happens; the precheck checks for it.
 *
 * Capture costs little and must not break the user's DDL: nothing is done
 * unless a pgdts task's replication slot (dts_sync_*) exists in the
 * database; the catalog reads run in a subtransaction whose errors become
 * a WARNING (the row then has no object identities); the INSERT itself
 * runs in the command's transaction, not in a subtransaction, so that a
 * migration of hundreds of DDL commands does not consume a subtransaction
 * id for each.
 *
 * Not captured: commands run by extension scripts (the CREATE or ALTER
 * EXTENSION command itself is), commands on pgdts' own objects, commands
 * that touched only temporary objects or nothing at all (IF [NOT] EXISTS
 * with nothing to do), and anything run with session_replication_role =
 * replica, for which PostgreSQL fires no event triggers.
 *
 * IDENTIFICATION
 *		plugin/ddl_capture.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "optimizer/optimizer.h"
#include "parser/scansup.h"
#include "replication/slot.h"
#include "storage/lwlock.h"
#include "tcop/cmdtag.h"
#include "tcop/pquery.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/portal.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/syscache.h"

#include "ddl_capture.h"

#if PG_VERSION_NUM < 140000
#error "pgdts DDL capture needs PostgreSQL 14 or later"
#endif

PG_FUNCTION_INFO_V1(pgdts_capture_ddl_start);
PG_FUNCTION_INFO_V1(pgdts_capture_ddl_drop);
PG_FUNCTION_INFO_V1(pgdts_capture_ddl_end);

/*
 * A utility statement being executed.  The ProcessUtility hook pushes one
 * for each statement, on its own stack frame, and pops it when the
 * statement ends, by an error too.
 */
typedef struct PgdtsStatement
{
	struct PgdtsStatement *outer;	/* the statement this one runs inside */
	PlannedStmt *pstmt;			/* the statement, with its position */
	const char *query_string;	/* the string it is in; NULL: unknown */
	char	   *text;			/* or its text, copied (unhooked_statement) */
	Node	   *parsetree;		/* the event triggers' parse tree of the
								 * command, once ddl_command_start claimed
								 * this statement for it */
	bool		toplevel;		/* the client sent this statement itself */
	bool		recorded;		/* captured already, by sql_drop */
} PgdtsStatement;

/* What a command touched, and the main object of its row. */
typedef struct PgdtsObjects
{
	List	   *identities;		/* distinct object identities, in order */
	char	   *object_type;	/* of the main object */
	char	   *schema_name;
	int			main_rank;		/* how good a main object it is, see
								 * pgdts_add_object */
	int			nreplayable;	/* objects neither temporary nor pgdts' own */
} PgdtsObjects;

/* The event a command is recorded at */
typedef enum PgdtsEvent
{
	PGDTS_AT_START,				/* ddl_command_start: commands that write
								 * rows, see pgdts_capture_ddl_start */
	PGDTS_AT_SQL_DROP,			/* sql_drop: commands that dropped objects */
	PGDTS_AT_END				/* ddl_command_end: all others */
} PgdtsEvent;

/* Ranks of the candidates for a row's main object, best last. */
#define PGDTS_MAIN_ANY			1	/* any object the command touched */
#define PGDTS_MAIN_DROPPED		2	/* an object the command named and dropped */
#define PGDTS_MAIN_TAGGED		3	/* an object of the command's own tag */

/* Parameters of the INSERT into dts_ddl_command */
#define PGDTS_INSERT_NARGS		10

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/* Innermost utility statement being executed, as the hook saw it. */
static PgdtsStatement *current_statement = NULL;

/*
 * The command whose ProcessUtility call began before the hook was
 * installed, as its ddl_command_start trigger found it (parsetree NULL when
 * there is none).  There is at most one per session: the first DDL command,
 * whose ddl_command_start loads this library.  Its text, when known, is
 * copied (in TopMemoryContext), so that nothing here points into memory
 * that may go away before it is forgotten: when the command ends or its
 * transaction aborts.
 */
static PgdtsStatement unhooked_statement;

/* The capture itself is running: its own statements are not DDL to record. */
static bool capture_in_progress = false;

/* Plans kept for the session */
static SPIPlanPtr ddl_commands_plan = NULL;
static SPIPlanPtr dropped_objects_plan = NULL;
static SPIPlanPtr insert_plan = NULL;

static void pgdts_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
								 bool readOnlyTree,
								 ProcessUtilityContext context,
								 ParamListInfo params,
								 QueryEnvironment *queryEnv,
								 DestReceiver *dest, QueryCompletion *qc);
static void pgdts_xact_callback(XactEvent event, void *arg);
static void pgdts_forget_unhooked(void);
static EventTriggerData *pgdts_event_trigger_data(FunctionCallInfo fcinfo,
												  const char *funcname);
static bool pgdts_same_statement(PlannedStmt *pstmt, Node *parsetree);
static PgdtsStatement *pgdts_find_statement(Node *parsetree);
static bool pgdts_task_slot_exists(void);
static void pgdts_capture(EventTriggerData *trigdata, PgdtsEvent event);
static void pgdts_record(EventTriggerData *trigdata,
						 PgdtsStatement *statement, PgdtsEvent event);
static char *pgdts_statement_text(PgdtsStatement *statement);
static char *pgdts_text_in(const char *query, PlannedStmt *pstmt);
static bool pgdts_read_objects(EventTriggerData *trigdata, PgdtsEvent event,
							   PgdtsObjects *objects);
static void pgdts_read_objects_guts(EventTriggerData *trigdata,
									PgdtsEvent event,
									PgdtsObjects *objects,
									MemoryContext cxt);
static void pgdts_read_created_relation(CreateTableAsStmt *stmt,
										PgdtsObjects *objects,
										MemoryContext cxt);
static void pgdts_add_object(PgdtsObjects *objects, MemoryContext cxt,
							 const char *object_type,
							 const char *schema_name, const char *identity,
							 int rank);
static SPIPlanPtr pgdts_plan(SPIPlanPtr *plan, const char *query,
							 int nargs, Oid *argtypes);
static Oid	pgdts_ddl_table_owner(void);
static void pgdts_insert(const char *tag, const char *statement,
						 bool toplevel, PgdtsObjects *objects);
static void pgdts_insert_error_callback(void *arg);
static bool pgdts_default_is_volatile(TupleDesc desc, AttrNumber attnum);
static void pgdts_rewrite_volatile_columns(AlterTableStmt *stmt);

/*
 * Install the ProcessUtility hook.  Called from _PG_init: at server start
 * with shared_preload_libraries, at session start with
 * session_preload_libraries, otherwise when the first event trigger of the
 * session calls into the library.
 */
void
pgdts_ddl_capture_init(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = pgdts_ProcessUtility;
	RegisterXactCallback(pgdts_xact_callback, NULL);
}

/*
 * Keep the statement being executed on the stack of statements while it
 * runs.  This is all the hook does for every utility statement, DDL or
 * not: no allocation, no catalog access.
 */
static void
pgdts_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					 bool readOnlyTree, ProcessUtilityContext context,
					 ParamListInfo params, QueryEnvironment *queryEnv,
					 DestReceiver *dest, QueryCompletion *qc)
{
	PgdtsStatement statement;

	statement.outer = current_statement;
	statement.pstmt = pstmt;
	statement.query_string = queryString;
	statement.text = NULL;
	statement.parsetree = NULL;
	statement.toplevel = false;
	statement.recorded = false;
	current_statement = &statement;

	PG_TRY();
	{
		if (prev_ProcessUtility)
			prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
		else
			standard_ProcessUtility(pstmt, queryString, readOnlyTree,
									context, params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		current_statement = statement.outer;
	}
	PG_END_TRY();
}

/*
 * An aborted transaction ends the unhooked command, if any.  (Not a
 * commit: CREATE INDEX CONCURRENTLY commits between its start and its end.)
 */
static void
pgdts_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		pgdts_forget_unhooked();
}

static void
pgdts_forget_unhooked(void)
{
	if (unhooked_statement.text != NULL)
		pfree(unhooked_statement.text);
	memset(&unhooked_statement, 0, sizeof(unhooked_statement));
}

static EventTriggerData *
pgdts_event_trigger_data(FunctionCallInfo fcinfo, const char *funcname)
{
	if (!CALLED_AS_EVENT_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_EVENT_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function %s was not called by the event trigger manager",
						funcname)));
	return (EventTriggerData *) fcinfo->context;
}

/*
 * Is pstmt the utility statement whose parse tree the event triggers got?
 * standard_ProcessUtility hands them a copy when the statement comes from a
 * cached plan (SPI, extended protocol); at ddl_command_start nothing has
 * touched that copy yet, so it is equal to the original.
 */
static bool
pgdts_same_statement(PlannedStmt *pstmt, Node *parsetree)
{
	if (pstmt == NULL || !IsA(pstmt, PlannedStmt) ||
		pstmt->commandType != CMD_UTILITY || pstmt->utilityStmt == NULL)
		return false;
	return pstmt->utilityStmt == parsetree ||
		equal(pstmt->utilityStmt, parsetree);
}

/*
 * ddl_command_start: find the statement of the command that starts.
 *
 * The first call of a session also loads this library, which installs the
 * hook for every statement that follows.
 */
Datum
pgdts_capture_ddl_start(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	Node	   *parsetree;
	Portal		portal = ActivePortal;

	trigdata = pgdts_event_trigger_data(fcinfo, "pgdts.capture_ddl_start");
	parsetree = trigdata->parsetree;

	if (capture_in_progress)
		PG_RETURN_VOID();

	if (current_statement != NULL)
	{
		PgdtsStatement *statement = current_statement;

		/*
		 * The hook was in place when this command began, so the innermost
		 * statement is the command's own: the hook pushed it, and nothing
		 * ran in between.  Checked all the same, for extensions that fire
		 * event triggers themselves; a statement that does not match is not
		 * claimed, and the command's text stays unknown.
		 */
		if (statement->parsetree == NULL &&
			pgdts_same_statement(statement->pstmt, parsetree))
		{
			statement->parsetree = parsetree;
			statement->toplevel = (statement->outer == NULL &&
								   portal != NULL &&
								   statement->query_string == portal->sourceText);
		}
	}
	else
	{
		/*
		 * The hook missed this command.  The active portal runs the
		 * statement the client sent (with its position in a multi-statement
		 * string); if that statement is this command, it is exact.
		 * Otherwise the command runs inside a function, procedure or DO
		 * block, and its text is unknown.
		 */
		pgdts_forget_unhooked();
		unhooked_statement.parsetree = parsetree;
		if (portal != NULL && list_length(portal->stmts) == 1 &&
			pgdts_same_statement(linitial(portal->stmts), parsetree))
		{
			MemoryContext oldcxt = MemoryContextSwitchTo(TopMemoryContext);

			unhooked_statement.text = pgdts_text_in(portal->sourceText,
													linitial(portal->stmts));
			unhooked_statement.toplevel = true;
			MemoryContextSwitchTo(oldcxt);
		}
	}

	/*
	 * CREATE TABLE AS, SELECT INTO and CREATE MATERIALIZED VIEW write the
	 * new relation's rows, which the stream carries as INSERTs: recorded at
	 * its end, the command would come after its own rows.  Recorded now, it
	 * comes before them, and the applier can create the relation empty and
	 * apply the source's rows.
	 */
	if (IsA(parsetree, CreateTableAsStmt))
		pgdts_capture(trigdata, PGDTS_AT_START);

	PG_RETURN_VOID();
}


/*
 * sql_drop: record a command that dropped objects, while
 * pg_event_trigger_dropped_objects() can say which.  Its ddl_command_end
 * then does nothing.
 */
Datum
pgdts_capture_ddl_drop(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;

	trigdata = pgdts_event_trigger_data(fcinfo, "pgdts.capture_ddl_drop");
	pgdts_capture(trigdata, PGDTS_AT_SQL_DROP);
	PG_RETURN_VOID();
}

/* ddl_command_end: record the command, unless recorded already. */
Datum
pgdts_capture_ddl_end(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;

	trigdata = pgdts_event_trigger_data(fcinfo, "pgdts.capture_ddl_end");
	pgdts_capture(trigdata, PGDTS_AT_END);
	if (unhooked_statement.parsetree == trigdata->parsetree)
		pgdts_forget_unhooked();
	PG_RETURN_VOID();
}

/*
 * The statement ddl_command_start found for the command of parsetree, or
 * NULL if it found none.  When the hook saw the command, its statement is
 * still the innermost one: the statements of its subcommands have ended.
 */
static PgdtsStatement *
pgdts_find_statement(Node *parsetree)
{
	if (current_statement != NULL && current_statement->parsetree == parsetree)
		return current_statement;
	if (unhooked_statement.parsetree != NULL &&
		unhooked_statement.parsetree == parsetree)
		return &unhooked_statement;
	return NULL;
}

/*
 * Does a replication slot of a pgdts task exist in this database?  Without
 * one nobody reads the rows, so nothing is captured.
 *
 * No DDL of a task is missed at its start: the DDL transaction has an xid
 * by the time it ends (it changed catalogs), so a slot created while it
 * runs waits for it to end before it becomes consistent, and the snapshot
 * the task copies its tables with already holds its effects.
 */
static bool
pgdts_task_slot_exists(void)
{
	bool		found = false;
	int			i;

	if (max_replication_slots <= 0 || ReplicationSlotCtl == NULL)
		return false;

	LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
	for (i = 0; i < max_replication_slots; i++)
	{
		ReplicationSlot *slot = &ReplicationSlotCtl->replication_slots[i];

		if (slot->in_use &&
			slot->data.database == MyDatabaseId &&
			strncmp(NameStr(slot->data.name), PGDTS_SLOT_PREFIX,
					strlen(PGDTS_SLOT_PREFIX)) == 0)
		{
			found = true;
			break;
		}
	}
	LWLockRelease(ReplicationSlotControlLock);

	return found;
}

/*
 * Record the command an event trigger fired for, once: at
 * ddl_command_start for commands that write rows, at sql_drop for commands
 * that dropped objects, at ddl_command_end for the others.
 */
static void
pgdts_capture(EventTriggerData *trigdata, PgdtsEvent event)
{
	PgdtsStatement *statement;

	/* extension scripts: the CREATE/ALTER EXTENSION command is recorded */
	if (capture_in_progress || creating_extension)
		return;

	statement = pgdts_find_statement(trigdata->parsetree);
	if (statement != NULL && statement->recorded)
		return;

	/*
	 * Without a statement (ddl_command_start did not find it) an earlier
	 * event cannot mark the command recorded; ddl_command_end records it,
	 * once.
	 */
	if (event != PGDTS_AT_END && statement == NULL)
		return;

	if (!pgdts_task_slot_exists())
		return;

	if (statement != NULL)
		statement->recorded = true;

	capture_in_progress = true;
	PG_TRY();
	{
		pgdts_record(trigdata, statement, event);
	}
	PG_FINALLY();
	{
		capture_in_progress = false;
	}
	PG_END_TRY();
}

static void
pgdts_record(EventTriggerData *trigdata, PgdtsStatement *statement,
			 PgdtsEvent event)
{
	const char *tag = GetCommandTagName(trigdata->tag);
	char	   *text;
	bool		toplevel = false;
	PgdtsObjects objects;
	bool		objects_known;

	text = pgdts_statement_text(statement);
	if (text != NULL)
		toplevel = statement->toplevel;

	objects_known = pgdts_read_objects(trigdata, event, &objects);

	/*
	 * Nothing the destination needs: IF [NOT] EXISTS that did nothing,
	 * temporary objects, pgdts' own objects.
	 */
	if (objects_known && objects.nreplayable == 0)
		return;

	if (text == NULL)
		ereport(WARNING,
				(errmsg("pgdts could not capture the text of this %s command",
						tag),
				 (statement == &unhooked_statement) ?
				 errdetail("It ran inside a function, procedure or DO block that began before the pgdts library was loaded in this session.  It is recorded without its text, and replication of this database by pgdts will stop at it.") :
				 errdetail("pgdts could not tell which statement ran it.  It is recorded without its text, and replication of this database by pgdts will stop at it."),
				 errhint("Add pgdts to session_preload_libraries or shared_preload_libraries, so that every session captures DDL commands exactly.")));

	pgdts_insert(tag, text, toplevel, objects_known ? &objects : NULL);

	if (event == PGDTS_AT_END && IsA(trigdata->parsetree, AlterTableStmt))
		pgdts_rewrite_volatile_columns((AlterTableStmt *) trigdata->parsetree);
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
 * ALTER TABLE ... ADD COLUMN with a volatile default (or a BY DEFAULT
 * identity, whose values come from a sequence) computes a value for every existing row in
 * a table rewrite, which logical decoding does not carry.  Replayed on the
 * destination, the command would compute other values there.  So the rows
 * are written once more, right after the command's row in
 * dts_ddl_command, with the values they got: "UPDATE t SET c = c" in the
 * command's transaction.  The stream carries them as UPDATEs, which the
 * applier replays after the command, and the destination ends with the
 * source's values.  The UPDATE runs with session_replication_role =
 * replica, so that no trigger or rule of the table reacts to it (it
 * changes nothing), and costs about what the rewrite did.
 */
static void
pgdts_rewrite_volatile_columns(AlterTableStmt *stmt)
{
	Oid			relid;
	Relation	rel;
	TupleDesc	desc;
	ListCell   *lc;
	StringInfoData sql;
	int			ncolumns = 0;
	int			save_nestlevel;
	int			rc;

	if (stmt->objtype != OBJECT_TABLE)
		return;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid))
		return;

	initStringInfo(&sql);
	rel = table_open(relid, NoLock);
	desc = RelationGetDescr(rel);
	appendStringInfo(&sql, "UPDATE %s SET ",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)));
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		ColumnDef  *def;
		AttrNumber	attnum;
		Form_pg_attribute attr;

		if ((cmd->subtype != AT_AddColumn &&
			 cmd->subtype != AT_AddColumnRecurse) ||
			cmd->def == NULL || !IsA(cmd->def, ColumnDef))
			continue;
		def = (ColumnDef *) cmd->def;
		attnum = get_attnum(relid, def->colname);
		if (attnum == InvalidAttrNumber)
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
						 quote_identifier(def->colname),
						 quote_identifier(def->colname));
		ncolumns++;
	}
	table_close(rel, NoLock);
	if (ncolumns == 0)
		return;

	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("session_replication_role", "replica",
							 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	rc = SPI_execute(sql.data, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "SPI_execute failed: %s", SPI_result_code_string(rc));
	if ((rc = SPI_finish()) != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed: %s", SPI_result_code_string(rc));
	AtEOXact_GUC(false, save_nestlevel);
	pfree(sql.data);
}

/* The text of a statement, or NULL if it is unknown. */
static char *
pgdts_statement_text(PgdtsStatement *statement)
{
	if (statement == NULL)
		return NULL;
	if (statement->text != NULL)
		return pstrdup(statement->text);
	if (statement->query_string == NULL || statement->pstmt == NULL)
		return NULL;
	return pgdts_text_in(statement->query_string, statement->pstmt);
}

/*
 * The text of statement pstmt of a query string: its own part of the
 * string, without the white space around it (as pg_stat_statements shows
 * it).  NULL when its position is unknown.
 */
static char *
pgdts_text_in(const char *query, PlannedStmt *pstmt)
{
	int			query_len = strlen(query);
	int			location = pstmt->stmt_location;
	int			len = pstmt->stmt_len;

	/*
	 * An unknown location could mean the whole string or a part of it;
	 * rather no text than a wrong one.
	 */
	if (location < 0 || location > query_len ||
		len < 0 || len > query_len - location)
		return NULL;
	if (len == 0)				/* the rest of the string */
		len = query_len - location;

	query += location;
	while (len > 0 && scanner_isspace(query[0]))
	{
		query++;
		len--;
	}
	while (len > 0 && scanner_isspace(query[len - 1]))
		len--;
	if (len == 0)
		return NULL;

	return pnstrdup(query, len);
}

/*
 * Read what the command touched, in a subtransaction (it writes nothing,
 * so it takes no subtransaction id): a failure there, a bug of pgdts or of
 * an object identity function, must not fail the user's command.  It
 * becomes a WARNING and the row goes without object identities; a cancel
 * request still cancels.  Returns whether the objects are known.
 */
static bool
pgdts_read_objects(EventTriggerData *trigdata, PgdtsEvent event,
				   PgdtsObjects *objects)
{
	const char *tag = GetCommandTagName(trigdata->tag);
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool known = true;

	memset(objects, 0, sizeof(PgdtsObjects));

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);

	PG_TRY();
	{
		pgdts_read_objects_guts(trigdata, event, objects, cxt);

		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();

		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;

		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);

		ereport(WARNING,
				(errmsg("pgdts could not read the objects of this %s command",
						tag),
				 errdetail("%s", edata->message),
				 errhint("The command is recorded without its object identities.")));
		FreeErrorData(edata);
		memset(objects, 0, sizeof(PgdtsObjects));
		known = false;
	}
	PG_END_TRY();

	return known;
}

static void
pgdts_read_objects_guts(EventTriggerData *trigdata, PgdtsEvent event,
						PgdtsObjects *objects, MemoryContext cxt)
{
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
	plan = pgdts_plan(&ddl_commands_plan,
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
	 * normal dependency reached (CASCADE); not the parts that go with them
	 * (a table's indexes, row type, TOAST table).
	 */
	if (event == PGDTS_AT_SQL_DROP)
	{
		plan = pgdts_plan(&dropped_objects_plan,
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

/* Prepare a query once per session. */
static SPIPlanPtr
pgdts_plan(SPIPlanPtr *plan, const char *query, int nargs, Oid *argtypes)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	new_plan = SPI_prepare(query, nargs, argtypes);

		if (new_plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s",
				 query, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(new_plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*plan = new_plan;
	}
	return *plan;
}

/* Owner of dts_ddl_command, as whom rows are inserted. */
static Oid
pgdts_ddl_table_owner(void)
{
	Oid			nspid = get_namespace_oid(PGDTS_SCHEMA_NAME, true);
	Oid			relid = InvalidOid;
	HeapTuple	tuple;
	Oid			owner;

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
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);

	return owner;
}

/*
 * Insert the command's row into dts_ddl_command.  Users who may run DDL
 * may not read or write the table: the row is inserted as the table's
 * owner, in a restricted security context, like a foreign key check.
 * objects is NULL when they could not be read.
 */
static void
pgdts_insert(const char *tag, const char *statement, bool toplevel,
			 PgdtsObjects *objects)
{
	Oid			argtypes[PGDTS_INSERT_NARGS] = {
		TEXTOID, TEXTOID, BOOLOID, BOOLOID, TEXTOID,
		NAMEOID, NAMEOID, TEXTOID, TEXTOID, TEXTARRAYOID
	};
	Datum		values[PGDTS_INSERT_NARGS];
	char		nulls[PGDTS_INSERT_NARGS];
	const char *search_path = GetConfigOption("search_path", false, false);
	Oid			save_userid;
	int			save_sec_context;
	ErrorContextCallback errcallback;
	SPIPlanPtr	plan;
	int			rc;

	memset(nulls, ' ', sizeof(nulls));

	values[0] = CStringGetTextDatum(tag);
	if (statement != NULL)
		values[1] = CStringGetTextDatum(statement);
	else
		nulls[1] = 'n';
	values[2] = BoolGetDatum(statement != NULL);
	values[3] = BoolGetDatum(toplevel);
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
	if (objects != NULL)
	{
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

	errcallback.callback = pgdts_insert_error_callback;
	errcallback.arg = (void *) tag;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(pgdts_ddl_table_owner(),
						   save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);

	if ((rc = SPI_connect()) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed: %s", SPI_result_code_string(rc));
	plan = pgdts_plan(&insert_plan,
					  "INSERT INTO " PGDTS_SCHEMA_NAME "." PGDTS_DDL_TABLE
					  " (command_tag, statement, statement_exact, toplevel, search_path,"
					  " role, session_role, object_type, schema_name, object_identities)"
					  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
					  PGDTS_INSERT_NARGS, argtypes);
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
