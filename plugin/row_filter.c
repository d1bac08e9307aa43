/*-------------------------------------------------------------------------
 *
 * row_filter.c
 *		Row filters of the pgdts output plugin
 *
 * A filter travels as the plugin option "row_filter" with the value
 * "schema.table WHERE condition".  It is parsed as "SELECT FROM <value>"
 * by PostgreSQL's own grammar when decoding starts, so that quoting works
 * as in SQL and a value that is anything else than one table and one
 * condition is refused at once.  The condition is analyzed against the
 * relation when the relation cache entry is built (pgdts.c), like a WHERE
 * clause over that table alone, and refused when it uses a subquery, a
 * volatile function or a function that is not built in: the filter runs
 * inside the walsender under a historic snapshot, where only the catalogs
 * may be read, and must give the same answer for the same row every time
 * (full sync evaluates it once, the stream again on every change).  The
 * analyzed expression is prepared once per relation definition and run
 * with the executor on each change, as pgoutput runs publication row
 * filters (pgoutput_row_filter_init, pgoutput_row_filter_exec_expr).
 *
 * IDENTIFICATION
 *		plugin/row_filter.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/sysattr.h"
#include "access/transam.h"
#include "catalog/partition.h"
#include "catalog/pg_proc.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
#include "parser/parse_relation.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/regproc.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

#include "row_filter.h"

static void pgdts_row_filter_error_context(void *arg);
static bool pgdts_etl_check_walker(Node *node, void *context);
static bool pgdts_row_filter_bad_function(Oid funcid, void *context);
static bool pgdts_row_filter_exec(PgdtsRowFilter *filter,
								  TupleTableSlot *slot);

/*
 * The raw parse tree of a rule's statement (a row filter's "SELECT FROM
 * ...", a column expression's "SELECT ..."): a syntax error is reported
 * with the option's value, without a cursor position (it would point into
 * a statement the user never wrote).
 */
List *
pgdts_rule_raw_parse(const char *sql, const char *kind, const char *value)
{
	MemoryContext cxt = CurrentMemoryContext;
	List	   *stmts = NIL;

	PG_TRY();
	{
		stmts = raw_parser(sql, RAW_PARSE_DEFAULT);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		ereport(ERROR,
				(errcode(ERRCODE_SYNTAX_ERROR),
				 errmsg("invalid pgdts %s \"%s\": %s", kind, value, edata->message)));
	}
	PG_END_TRY();
	return stmts;
}

/*
 * Parse the value of a "row_filter" option.  Syntax errors are reported
 * with the option's value, without a cursor position (it would point into
 * a statement the user never wrote).
 */
PgdtsRowFilterRule *
pgdts_row_filter_parse(const char *value)
{
	StringInfoData sql;
	List	   *stmts = NIL;
	SelectStmt *select;
	RangeVar   *rv;
	PgdtsRowFilterRule *rule;

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT FROM %s", value);
	stmts = pgdts_rule_raw_parse(sql.data, "row filter", value);

	select = NULL;
	if (list_length(stmts) == 1 &&
		IsA(linitial_node(RawStmt, stmts)->stmt, SelectStmt))
		select = (SelectStmt *) linitial_node(RawStmt, stmts)->stmt;
	if (select == NULL || select->op != SETOP_NONE ||
		select->targetList != NIL || select->intoClause != NULL ||
		list_length(select->fromClause) != 1 ||
		!IsA(linitial(select->fromClause), RangeVar) ||
		select->whereClause == NULL || select->distinctClause != NIL ||
		select->groupClause != NIL || select->havingClause != NULL ||
		select->windowClause != NIL || select->valuesLists != NIL ||
		select->sortClause != NIL || select->limitOffset != NULL ||
		select->limitCount != NULL || select->lockingClause != NIL ||
		select->withClause != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid pgdts row filter \"%s\"", value),
				 errdetail("A row filter is \"schema.table WHERE condition\".")));

	rv = linitial_node(RangeVar, select->fromClause);
	if (rv->schemaname == NULL || rv->catalogname != NULL ||
		rv->alias != NULL || !rv->inh)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid pgdts row filter \"%s\"", value),
				 errdetail("The table is named as schema.table, without ONLY or an alias.")));

	rule = palloc0(sizeof(PgdtsRowFilterRule));
	rule->schemaname = rv->schemaname;
	rule->relname = rv->relname;
	rule->condition = select->whereClause;
	rule->text = pstrdup(value);
	return rule;
}

int
pgdts_rule_distance(const char *schemaname, const char *relname,
					Relation relation)
{
	List	   *ancestors;
	ListCell   *lc;
	int			distance = 1;

	if (strcmp(relname, RelationGetRelationName(relation)) == 0 &&
		strcmp(schemaname,
			   get_namespace_name(RelationGetNamespace(relation))) == 0)
		return 0;
	if (!relation->rd_rel->relispartition)
		return -1;
	ancestors = get_partition_ancestors(RelationGetRelid(relation));
	foreach(lc, ancestors)
	{
		Oid			ancestor = lfirst_oid(lc);
		char	   *name = get_rel_name(ancestor);

		if (name != NULL && strcmp(relname, name) == 0 &&
			strcmp(schemaname,
				   get_namespace_name(get_rel_namespace(ancestor))) == 0)
			return distance;
		distance++;
	}
	return -1;
}

/* The row filter of relation (the nearest, see pgdts_rule_distance). */
PgdtsRowFilterRule *
pgdts_row_filter_find(List *rules, Relation relation)
{
	PgdtsRowFilterRule *nearest = NULL;
	int			nearest_distance = -1;
	ListCell   *lc;

	foreach(lc, rules)
	{
		PgdtsRowFilterRule *rule = lfirst(lc);
		int			distance = pgdts_rule_distance(rule->schemaname,
												   rule->relname, relation);

		if (distance >= 0 &&
			(nearest == NULL || distance < nearest_distance))
		{
			nearest = rule;
			nearest_distance = distance;
		}
	}
	return nearest;
}

static void
pgdts_row_filter_error_context(void *arg)
{
	PgdtsRowFilterRule *rule = arg;

	errcontext("pgdts row filter \"%s\"", rule->text);
}

/*
 * Analyze a rule against the relation and prepare it for the executor,
 * in the current memory context (the relation cache entry's).  A column
 * the condition needs that no longer exists, or was retyped so that the
 * condition no longer holds together, is an error naming the rule: the
 * task stops rather than send rows the filter cannot judge.
 */
PgdtsRowFilter *
pgdts_row_filter_build(Relation relation, PgdtsRowFilterRule *rule)
{
	ErrorContextCallback errcallback;
	ParseState *pstate;
	ParseNamespaceItem *nsitem;
	Node	   *expr;
	TupleDesc	desc;
	PgdtsRowFilter *filter;

	errcallback.callback = pgdts_row_filter_error_context;
	errcallback.arg = rule;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;

	pstate = make_parsestate(NULL);
	nsitem = addRangeTableEntryForRelation(pstate, relation, AccessShareLock,
										   NULL, false, false);
	addNSItemToQuery(pstate, nsitem, false, true, true);
	expr = transformExpr(pstate, copyObject(rule->condition), EXPR_KIND_WHERE);
	expr = coerce_to_boolean(pstate, expr, "WHERE");
	assign_expr_collations(pstate, expr);
	pgdts_etl_check_expression(expr, "row filters");
	free_parsestate(pstate);

	filter = palloc0(sizeof(PgdtsRowFilter));
	filter->rule = rule;
	pull_varattnos(expr, 1, &filter->attrs);
	filter->estate = CreateExecutorState();
	filter->state = ExecPrepareExpr((Expr *) expr, filter->estate);

	/* with the constraints: a column added later keeps its missing value */
	desc = CreateTupleDescCopyConstr(RelationGetDescr(relation));
	filter->tuple_slot = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
	filter->values_slot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);

	error_context_stack = errcallback.previous;
	return filter;
}

/*
 * What an analyzed row filter or column expression may not use ("what"
 * names which, for the messages): subqueries, volatile functions and
 * functions that are not built in.  Aggregates, window functions and
 * set-returning functions are refused by the analysis already; references
 * to other tables find no range table entry.
 */
void
pgdts_etl_check_expression(Node *expr, const char *what)
{
	pgdts_etl_check_walker(expr, (void *) what);
}

static bool
pgdts_etl_check_walker(Node *node, void *context)
{
	const char *what = context;
	Oid			funcid = InvalidOid;

	if (node == NULL)
		return false;

	if (IsA(node, SubLink))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s may not use subqueries", what)));

	if (check_functions_in_node(node, pgdts_row_filter_bad_function, &funcid))
	{
		if (func_volatile(funcid) == PROVOLATILE_VOLATILE)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("%s may not call volatile functions", what),
					 errdetail("Function %s is volatile.",
							   format_procedure(funcid))));
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("%s may call built-in functions only", what),
				 errdetail("Function %s is user-defined.",
						   format_procedure(funcid))));
	}

	return expression_tree_walker(node, pgdts_etl_check_walker, context);
}

static bool
pgdts_row_filter_bad_function(Oid funcid, void *context)
{
	if (funcid >= FirstNormalObjectId ||
		func_volatile(funcid) == PROVOLATILE_VOLATILE)
	{
		*(Oid *) context = funcid;
		return true;
	}
	return false;
}

/* Run the filter on the row in slot: true only when it says true. */
static bool
pgdts_row_filter_exec(PgdtsRowFilter *filter, TupleTableSlot *slot)
{
	ExprContext *econtext = GetPerTupleExprContext(filter->estate);
	Datum		result;
	bool		isnull;

	econtext->ecxt_scantuple = slot;
	result = ExecEvalExprSwitchContext(filter->state, econtext, &isnull);
	ResetExprContext(econtext);
	ExecClearTuple(slot);

	return !isnull && DatumGetBool(result);
}

bool
pgdts_row_filter_match_tuple(PgdtsRowFilter *filter, HeapTuple tuple)
{
	ExecStoreHeapTuple(tuple, filter->tuple_slot, false);
	return pgdts_row_filter_exec(filter, filter->tuple_slot);
}

bool
pgdts_row_filter_match_values(PgdtsRowFilter *filter, Datum *values,
							  bool *isnull)
{
	TupleTableSlot *slot = filter->values_slot;
	int			natts = slot->tts_tupleDescriptor->natts;

	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, sizeof(Datum) * natts);
	memcpy(slot->tts_isnull, isnull, sizeof(bool) * natts);
	ExecStoreVirtualTuple(slot);
	return pgdts_row_filter_exec(filter, slot);
}

/*
 * Whether the filter reads a column whose value is an unchanged TOASTed
 * value: decoding cannot read it, so the filter cannot be run on the row.
 */
bool
pgdts_row_filter_reads_unchanged_toast(PgdtsRowFilter *filter,
									   TupleDesc desc, Datum *values,
									   bool *isnull)
{
	int			i = -1;

	while ((i = bms_next_member(filter->attrs, i)) >= 0)
	{
		int			off = i + FirstLowInvalidHeapAttributeNumber - 1;

		if (off < 0 || off >= desc->natts || isnull[off])
			continue;
		if (TupleDescAttr(desc, off)->attlen == -1 &&
			VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(values[off])))
			return true;
	}
	return false;
}
