/*-------------------------------------------------------------------------
 *
 * ddl_literals.c
 *		A captured statement's text as it reads with
 *		standard_conforming_strings = on
 *
 * The applier parses and replays every statement with
 * standard_conforming_strings = on (libpg_query knows no other way).  A
 * statement the source parsed with it off reads differently there: with it
 * off, a backslash in a plain '...' literal is an escape, so
 *
 *		DEFAULT 'a\' || pg_read_file(...) || $y$' -- $y$
 *
 * is one constant string on the source, and a call of pg_read_file once
 * the backslash no longer escapes the quote.  So the text is captured in the
 * form that means, with the setting on, what the source parsed:
 *
 * - A text none of whose plain '...' literals holds a backslash reads the
 *   same with the setting on and off (both ways the scanner then consumes
 *   every literal alike) and is kept as written.  This is nearly every
 *   statement.
 *
 * - Otherwise the text is re-lexed with the server's own scanner the way
 *   the setting off reads it, and an E is put in front of every plain
 *   literal, which makes it an escape string with the setting on; the
 *   literal itself is not touched.  N'...' becomes NCHAR E'...', the very
 *   tokens the scanner makes of it.  E'...', U&'...', B'...', X'...',
 *   dollar quotes, quoted identifiers and comments are the same either way.
 *   A literal continued over lines ('a' <newline> 'b') is one token that
 *   stays in the escape state after the E, as it was.
 *
 * Which way did the server read the text?  Mostly under the setting as it
 * is now, but not always: a client's multi-statement string is parsed
 * whole before its first statement runs, so "SET standard_conforming_strings
 * = on; ALTER TABLE ..." parses the ALTER TABLE with the setting of before
 * the SET.  So both readings are tried, the current setting's first, and
 * a reading is taken only when the server's grammar, with the setting on,
 * turns it into a parse tree equal to the one the command runs: the
 * destination then parses what the source parsed.  When neither does (or
 * the command's tree is not the raw parse tree, as for CREATE TABLE AS,
 * whose query the server analyzed already), the text is unknown: the
 * command is recorded with statement_exact = false.
 *
 * The scanner and the grammar allocate memory and acquire no other
 * resource, so their errors are caught without a subtransaction.
 *
 * IDENTIFICATION
 *		plugin/ddl_literals.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "parser/scanner.h"
#include "parser/gram.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "ddl_literals.h"

/* A plain '...' literal of a text, as the scanner found it */
typedef struct PgdtsPlainLiteral
{
	int			location;		/* offset of its opening quote */
	bool		nchar;			/* written N'...': the N is just before */
} PgdtsPlainLiteral;

static bool pgdts_lex_plain_literals(const char *text, bool conforming,
									 List **literals, bool *backslash);
static char *pgdts_escape_plain_literals(const char *text, List *literals);
static bool pgdts_is_ident_char(char c);
static bool pgdts_parses_to(const char *text, Node *parsetree);
static void pgdts_forget_error(MemoryContext cxt);

/*
 * The text to record for a command whose statement reads text, as it
 * means with standard_conforming_strings = on what the server parsed into
 * parsetree; NULL, with *unknown_detail saying why, when that cannot be
 * established.  parsetree must be the command's tree as ddl_command_start
 * gets it, before the command ran.
 */
char *
pgdts_conforming_text(const char *text, Node *parsetree,
					  const char **unknown_detail)
{
	List	   *conforming_literals = NIL;
	List	   *escape_literals = NIL;
	bool		backslash = false;
	bool		dummy;
	char	   *as_written;
	char	   *escaped = NULL;
	char	   *first;
	char	   *second;

	/*
	 * Read with the setting on: no plain literal with a backslash means the
	 * text reads the same either way.  A text that does not even scan with it
	 * on was parsed with it off.
	 */
	as_written = pgdts_lex_plain_literals(text, true, &conforming_literals,
										  &backslash) ? pstrdup(text) : NULL;
	if (as_written != NULL && !backslash)
		return as_written;

	if (IsA(parsetree, CreateTableAsStmt))
	{
		*unknown_detail = "Its string literals hold backslashes, whose meaning depends on standard_conforming_strings, and pgdts cannot check how the server read the query of a CREATE TABLE AS, SELECT INTO or CREATE MATERIALIZED VIEW command.";
		return NULL;
	}

	if (pgdts_lex_plain_literals(text, false, &escape_literals, &dummy))
		escaped = pgdts_escape_plain_literals(text, escape_literals);

	if (standard_conforming_strings)
	{
		first = as_written;
		second = escaped;
	}
	else
	{
		first = escaped;
		second = as_written;
	}
	if (first != NULL && pgdts_parses_to(first, parsetree))
		return first;
	if (second != NULL && pgdts_parses_to(second, parsetree))
		return second;

	*unknown_detail = "Its string literals hold backslashes, whose meaning depends on standard_conforming_strings, and pgdts could not tell how the server read them.";
	return NULL;
}

/*
 * Scan text as the server does, with standard_conforming_strings as given
 * and the session's other scanner settings, and list its plain '...'
 * literals.  *backslash says whether one of them holds a backslash (only
 * meaningful when conforming: the value is the text then).  False when the
 * text does not scan that way.
 */
static bool
pgdts_lex_plain_literals(const char *text, bool conforming, List **literals,
						 bool *backslash)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool scanned = true;

	*literals = NIL;
	*backslash = false;

	PG_TRY();
	{
		core_yyscan_t yyscanner;
		core_yy_extra_type yyextra;
		core_YYSTYPE yylval;
		YYLTYPE		yylloc;
		int			prev_token = 0;
		int			prev_location = -1;

		yyscanner = scanner_init(text, &yyextra, &ScanKeywords,
								 ScanKeywordTokens);
		yyextra.standard_conforming_strings = conforming;
		yyextra.escape_string_warning = false;

		for (;;)
		{
			int			token = core_yylex(&yylval, &yylloc, yyscanner);

			if (token == 0)
				break;
			if (token == SCONST && text[yylloc] == '\'')
			{
				PgdtsPlainLiteral *literal = palloc(sizeof(PgdtsPlainLiteral));

				literal->location = yylloc;
				/* N'...': the scanner returns NCHAR for the N alone */
				literal->nchar = (prev_token == NCHAR &&
								  prev_location == yylloc - 1);
				*literals = lappend(*literals, literal);
				if (conforming && strchr(yylval.str, '\\') != NULL)
					*backslash = true;
			}
			prev_token = token;
			prev_location = yylloc;
		}
		scanner_finish(yyscanner);
	}
	PG_CATCH();
	{
		pgdts_forget_error(cxt);
		scanned = false;
	}
	PG_END_TRY();

	return scanned;
}

/*
 * text with an E put in front of each of its plain literals (a space
 * before it where the E would otherwise extend the token before), and each
 * N'...' written NCHAR E'...'.
 */
static char *
pgdts_escape_plain_literals(const char *text, List *literals)
{
	StringInfoData buf;
	ListCell   *lc;
	int			done = 0;

	initStringInfo(&buf);
	foreach(lc, literals)
	{
		PgdtsPlainLiteral *literal = lfirst(lc);
		int			start = literal->location - (literal->nchar ? 1 : 0);

		appendBinaryStringInfo(&buf, text + done, start - done);
		if (start > 0 && pgdts_is_ident_char(text[start - 1]))
			appendStringInfoChar(&buf, ' ');
		appendStringInfoString(&buf, literal->nchar ? "NCHAR E" : "E");
		done = literal->location;
	}
	appendStringInfoString(&buf, text + done);
	return buf.data;
}

/* Can c continue an identifier or a number (scan.l's ident_cont)? */
static bool
pgdts_is_ident_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		(c >= '0' && c <= '9') || c == '_' || c == '$' ||
		IS_HIGHBIT_SET(c);
}

/*
 * Does text, parsed with standard_conforming_strings = on and the session's
 * other settings, make exactly one statement equal to parsetree?  (equal()
 * ignores token locations, which the E's moved.)
 */
static bool
pgdts_parses_to(const char *text, Node *parsetree)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			save_nestlevel = NewGUCNestLevel();
	volatile bool same = false;

	(void) set_config_option("standard_conforming_strings", "on",
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	PG_TRY();
	{
		List	   *stmts = raw_parser(text, RAW_PARSE_DEFAULT);

		same = (list_length(stmts) == 1 &&
				equal(linitial_node(RawStmt, stmts)->stmt, parsetree));
	}
	PG_CATCH();
	{
		pgdts_forget_error(cxt);
		same = false;
	}
	PG_END_TRY();
	AtEOXact_GUC(true, save_nestlevel);

	return same;
}

/*
 * Forget the error being handled: a scanner or syntax error just means the
 * text does not read that way.  A cancel request still cancels.
 */
static void
pgdts_forget_error(MemoryContext cxt)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		PG_RE_THROW();
	FlushErrorState();
	FreeErrorData(edata);
}
