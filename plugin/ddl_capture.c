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
 * This file decides when a command is recorded and what its row says; the
 * parts live in files of their own:
 *
 *	ddl_statement.c		which statement the command came from, its text
 *	ddl_literals.c		that text as it reads with
 *						standard_conforming_strings = on
 *	ddl_names.c			the schemas its unqualified relation names meant
 *	ddl_settings.c		the settings that change how its text parses
 *	ddl_objects.c		the objects it touched
 *	ddl_record.c		the INSERT of its row
 *	ddl_rewrite.c		the rows an ADD COLUMN with a volatile default wrote
 *	ddl_identity.c		REPLICA IDENTITY FULL for tables joining a task
 *						without a key
 *
 * Text, names and the parse tree they are checked against are taken at
 * ddl_command_start, before the command runs (a RENAME has not renamed, a
 * DROP has not dropped) and touches its parse tree.
 *
 * When the text is unknown (the first DDL of a session, run inside a
 * function, procedure or DO block, with pgdts not preloaded; or literals
 * whose reading could not be established) the command is recorded with
 * statement_exact = false and no statement, and a WARNING tells the
 * session; the applier stops at it and names the command tag and the
 * objects.  It is not refused: refusing would make pgdts break the
 * application's DDL on the source (a migration tool that opens a fresh
 * connection and starts with a DO block would fail on every run), while a
 * flagged row stops only the replication, at the exact place, for an
 * operator to replay the command by hand.
 *
 * Capture costs little and must not break the user's DDL: nothing is done
 * unless a pgdts task's replication slot (dts_sync_*) exists in the
 * database; catalog reads run in a subtransaction whose errors become a
 * WARNING (ddl_guard.c).
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

#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "replication/slot.h"
#include "storage/lwlock.h"
#include "tcop/cmdtag.h"
#include "tcop/pquery.h"
#include "utils/memutils.h"

#include "ddl_capture.h"
#include "ddl_guard.h"
#include "ddl_identity.h"
#include "ddl_literals.h"
#include "ddl_names.h"
#include "ddl_objects.h"
#include "ddl_record.h"
#include "ddl_rewrite.h"
#include "ddl_settings.h"
#include "ddl_statement.h"

#if PG_VERSION_NUM < 140000
#error "pgdts DDL capture needs PostgreSQL 14 or later"
#endif

PG_FUNCTION_INFO_V1(pgdts_capture_ddl_start);
PG_FUNCTION_INFO_V1(pgdts_capture_ddl_drop);
PG_FUNCTION_INFO_V1(pgdts_capture_ddl_end);

/* The capture itself is running: its own statements are not DDL to record. */
static bool capture_in_progress = false;

static EventTriggerData *pgdts_event_trigger_data(FunctionCallInfo fcinfo,
												  const char *funcname);
static bool pgdts_task_slot_exists(void);
static void pgdts_prepare_command(PgdtsStatement *statement, const char *tag);
static void pgdts_resolve_statement_names(void *arg);
static void pgdts_capture(EventTriggerData *trigdata, PgdtsEvent event);
static void pgdts_record(EventTriggerData *trigdata,
						 PgdtsStatement *statement, PgdtsEvent event);

/*
 * Install what the capture needs in every backend that loads the library.
 */
void
pgdts_ddl_capture_init(void)
{
	pgdts_statement_tracking_init();
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
 * ddl_command_start: find the statement of the command that starts, and
 * what its row will say about its text and names.
 *
 * The first call of a session also loads this library, which installs the
 * hook for every statement that follows.
 */
Datum
pgdts_capture_ddl_start(PG_FUNCTION_ARGS)
{
	EventTriggerData *trigdata;
	PgdtsStatement *statement;

	trigdata = pgdts_event_trigger_data(fcinfo, "pgdts.capture_ddl_start");

	if (capture_in_progress)
		PG_RETURN_VOID();

	statement = pgdts_claim_statement(trigdata->parsetree, ActivePortal);
	if (statement != NULL && !creating_extension && pgdts_task_slot_exists())
		pgdts_prepare_command(statement, GetCommandTagName(trigdata->tag));

	/*
	 * CREATE TABLE AS, SELECT INTO and CREATE MATERIALIZED VIEW write the new
	 * relation's rows, which the stream carries as INSERTs: recorded at its
	 * end, the command would come after its own rows.  Recorded now, it comes
	 * before them, and the applier can create the relation empty and apply
	 * the source's rows.
	 */
	if (IsA(trigdata->parsetree, CreateTableAsStmt))
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
	if (!capture_in_progress && !creating_extension && pgdts_task_slot_exists())
		pgdts_keep_replica_identity_full(trigdata);
	pgdts_statement_ended(trigdata->parsetree);
	PG_RETURN_VOID();
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
 * Work out, from the command's parse tree as it starts, its exact text and
 * how its unqualified relation names resolve.  Kept with the statement
 * until the command is recorded.  (Done later, when the command is
 * recorded, if no task's slot existed at its start: the tree may have been
 * changed by then, and a text that depends on how literals were read is
 * then unknown.)
 */
static void
pgdts_prepare_command(PgdtsStatement *statement, const char *tag)
{
	MemoryContext oldcxt;
	char	   *source_text;

	if (statement->prepared)
		return;
	oldcxt = MemoryContextSwitchTo(statement->cxt);

	source_text = pgdts_statement_source_text(statement);
	if (source_text != NULL)
		statement->text = pgdts_conforming_text(source_text,
												statement->parsetree,
												&statement->text_unknown_detail);

	statement->names_known =
		pgdts_guarded_read(pgdts_resolve_statement_names, statement,
						   "the schemas of the relation names", tag,
						   "The command is recorded without them.");
	statement->prepared = true;

	MemoryContextSwitchTo(oldcxt);
}

static void
pgdts_resolve_statement_names(void *arg)
{
	PgdtsStatement *statement = (PgdtsStatement *) arg;

	statement->resolved = pgdts_resolve_names(statement->parsetree);
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
	PgdtsDdlRow row;
	PgdtsObjects objects;

	memset(&row, 0, sizeof(row));
	row.tag = tag;
	if (statement != NULL)
	{
		pgdts_prepare_command(statement, tag);
		row.statement = statement->text;
		row.toplevel = statement->toplevel;
		row.names_known = statement->names_known;
		row.resolved = statement->resolved;
	}
	if (row.statement == NULL)
		row.toplevel = false;

	if (pgdts_read_objects(trigdata, event, &objects))
	{
		/*
		 * Nothing the destination needs: IF [NOT] EXISTS that did nothing,
		 * temporary objects, pgdts' own objects.
		 */
		if (objects.nreplayable == 0)
			return;
		row.objects = &objects;
	}

	if (row.statement == NULL)
		ereport(WARNING,
				(errmsg("pgdts could not capture the text of this %s command",
						tag),
				 (statement != NULL && statement->text_unknown_detail != NULL) ?
				 errdetail("%s  It is recorded without its text, and replication of this database by pgdts will stop at it.",
						   statement->text_unknown_detail) :
				 (statement != NULL && pgdts_is_unhooked_statement(statement)) ?
				 errdetail("It ran inside a function, procedure or DO block that began before the pgdts library was loaded in this session.  It is recorded without its text, and replication of this database by pgdts will stop at it.") :
				 errdetail("pgdts could not tell which statement ran it.  It is recorded without its text, and replication of this database by pgdts will stop at it."),
				 (statement != NULL && statement->text_unknown_detail != NULL) ?
				 errhint("Run it with standard_conforming_strings = on, or write its literals with backslashes as E'...' strings.") :
				 errhint("Add pgdts to session_preload_libraries or shared_preload_libraries, so that every session captures DDL commands exactly.")));

	row.settings = pgdts_parse_settings();
	pgdts_insert_row(&row);

	if (event == PGDTS_AT_END && IsA(trigdata->parsetree, AlterTableStmt))
		pgdts_rewrite_volatile_columns((AlterTableStmt *) trigdata->parsetree);
}
