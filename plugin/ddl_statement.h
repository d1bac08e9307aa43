/*-------------------------------------------------------------------------
 *
 * ddl_statement.h
 *		Which statement a DDL command came from, and its text
 *
 * A ProcessUtility hook keeps the stack of utility statements being
 * executed; the ddl_command_start event trigger claims the innermost one
 * for its command.  What the capture works out about the command at its
 * start (its exact text, how its relation names resolved) is kept with the
 * statement until the command is recorded.
 *
 * IDENTIFICATION
 *		plugin/ddl_statement.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGDTS_DDL_STATEMENT_H
#define PGDTS_DDL_STATEMENT_H

#include "nodes/plannodes.h"
#include "utils/portal.h"

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
	char	   *copied_text;	/* or its text, copied (unhooked statement) */
	MemoryContext cxt;			/* lives as long as the statement runs: what
								 * is found out about its command */
	Node	   *parsetree;		/* the event triggers' parse tree of the
								 * command, once ddl_command_start claimed
								 * this statement for it */
	bool		toplevel;		/* the client sent this statement itself */
	bool		recorded;		/* captured already (at start or sql_drop) */

	/* found out about the command, see pgdts_prepare_command */
	bool		prepared;
	char	   *text;			/* exact text; NULL: unknown */
	const char *text_unknown_detail;	/* why not, for the WARNING */
	bool		names_known;	/* resolution below could be read */
	List	   *resolved;		/* PgdtsResolvedName, see ddl_names.h */
} PgdtsStatement;

extern void pgdts_statement_tracking_init(void);
extern PgdtsStatement *pgdts_claim_statement(Node *parsetree, Portal portal);
extern PgdtsStatement *pgdts_find_statement(Node *parsetree);
extern bool pgdts_is_unhooked_statement(PgdtsStatement *statement);
extern void pgdts_statement_ended(Node *parsetree);
extern char *pgdts_statement_source_text(PgdtsStatement *statement);

#endif							/* PGDTS_DDL_STATEMENT_H */
