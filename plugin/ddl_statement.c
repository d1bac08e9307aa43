/*-------------------------------------------------------------------------
 *
 * ddl_statement.c
 *		Which statement a DDL command came from, and its text
 *
 * Event triggers get a parse tree, not text.  The text of a command comes
 * from one of:
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
 *   block: the portal then holds the call, not the command.  Its text is
 *   unknown (see ddl_capture.c for what is recorded then).
 *
 * The text found here is the statement as the client wrote it; ddl_literals.c
 * decides whether it can be sent as the command's exact text.
 *
 * IDENTIFICATION
 *		plugin/ddl_statement.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "parser/scansup.h"
#include "tcop/utility.h"
#include "utils/memutils.h"

#include "ddl_statement.h"

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

/* Innermost utility statement being executed, as the hook saw it. */
static PgdtsStatement *current_statement = NULL;

/*
 * The command whose ProcessUtility call began before the hook was
 * installed, as its ddl_command_start trigger found it (parsetree NULL when
 * there is none).  There is at most one per session: the first DDL command,
 * whose ddl_command_start loads this library.  What is kept for it lives in
 * its own memory context, deleted when the command ends or its transaction
 * aborts, so that nothing here points into memory that went away.
 */
static PgdtsStatement unhooked_statement;

static void pgdts_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
								 bool readOnlyTree,
								 ProcessUtilityContext context,
								 ParamListInfo params,
								 QueryEnvironment *queryEnv,
								 DestReceiver *dest, QueryCompletion *qc);
static void pgdts_statement_xact_callback(XactEvent event, void *arg);
static void pgdts_forget_unhooked(void);
static bool pgdts_same_statement(PlannedStmt *pstmt, Node *parsetree);
static char *pgdts_text_in(const char *query, PlannedStmt *pstmt);

/*
 * Install the ProcessUtility hook.  Called from _PG_init: at server start
 * with shared_preload_libraries, at session start with
 * session_preload_libraries, otherwise when the first event trigger of the
 * session calls into the library.
 */
void
pgdts_statement_tracking_init(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = pgdts_ProcessUtility;
	RegisterXactCallback(pgdts_statement_xact_callback, NULL);
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

	memset(&statement, 0, sizeof(statement));
	statement.outer = current_statement;
	statement.pstmt = pstmt;
	statement.query_string = queryString;
	statement.cxt = CurrentMemoryContext;
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
pgdts_statement_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT)
		pgdts_forget_unhooked();
}

static void
pgdts_forget_unhooked(void)
{
	if (unhooked_statement.cxt != NULL)
		MemoryContextDelete(unhooked_statement.cxt);
	memset(&unhooked_statement, 0, sizeof(unhooked_statement));
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
 * ddl_command_start: find the statement of the command that starts, or
 * NULL when there is none to be found.  portal is the active portal.
 */
PgdtsStatement *
pgdts_claim_statement(Node *parsetree, Portal portal)
{
	if (current_statement != NULL)
	{
		PgdtsStatement *statement = current_statement;

		/*
		 * The hook was in place when this command began, so the innermost
		 * statement is the command's own: the hook pushed it, and nothing ran
		 * in between.  Checked all the same, for extensions that fire event
		 * triggers themselves; a statement that does not match is not
		 * claimed, and the command's text stays unknown.
		 */
		if (statement->parsetree == NULL &&
			pgdts_same_statement(statement->pstmt, parsetree))
		{
			statement->parsetree = parsetree;
			statement->toplevel = (statement->outer == NULL &&
								   portal != NULL &&
								   statement->query_string == portal->sourceText);
			return statement;
		}
		return NULL;
	}

	/*
	 * The hook missed this command.  The active portal runs the statement the
	 * client sent (with its position in a multi-statement string); if that
	 * statement is this command, it is exact.  Otherwise the command runs
	 * inside a function, procedure or DO block, and its text is unknown.
	 */
	pgdts_forget_unhooked();
	unhooked_statement.cxt = AllocSetContextCreate(TopMemoryContext,
												   "pgdts unhooked statement",
												   ALLOCSET_SMALL_SIZES);
	unhooked_statement.parsetree = parsetree;
	if (portal != NULL && list_length(portal->stmts) == 1 &&
		pgdts_same_statement(linitial(portal->stmts), parsetree))
	{
		MemoryContext oldcxt = MemoryContextSwitchTo(unhooked_statement.cxt);

		unhooked_statement.copied_text = pgdts_text_in(portal->sourceText,
													   linitial(portal->stmts));
		unhooked_statement.toplevel = true;
		MemoryContextSwitchTo(oldcxt);
	}
	return &unhooked_statement;
}

/*
 * The statement ddl_command_start found for the command of parsetree, or
 * NULL if it found none.  When the hook saw the command, its statement is
 * still the innermost one: the statements of its subcommands have ended.
 */
PgdtsStatement *
pgdts_find_statement(Node *parsetree)
{
	if (current_statement != NULL && current_statement->parsetree == parsetree)
		return current_statement;
	if (unhooked_statement.parsetree != NULL &&
		unhooked_statement.parsetree == parsetree)
		return &unhooked_statement;
	return NULL;
}

/* Was statement found through the portal rather than the hook? */
bool
pgdts_is_unhooked_statement(PgdtsStatement *statement)
{
	return statement == &unhooked_statement;
}

/* ddl_command_end: the command of parsetree has ended. */
void
pgdts_statement_ended(Node *parsetree)
{
	if (unhooked_statement.parsetree == parsetree)
		pgdts_forget_unhooked();
}

/*
 * The text of a statement as the client wrote it, in the current memory
 * context, or NULL if it is unknown.
 */
char *
pgdts_statement_source_text(PgdtsStatement *statement)
{
	if (statement == NULL)
		return NULL;
	if (statement->copied_text != NULL)
		return pstrdup(statement->copied_text);
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
	 * An unknown location could mean the whole string or a part of it; rather
	 * no text than a wrong one.
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
