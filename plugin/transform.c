/*-------------------------------------------------------------------------
 *
 * transform.c
 *		Column expressions of the pgdts output plugin
 *
 * An expression travels as the plugin option "transform" with the value
 * "(expression) AS column FROM schema.table" and is parsed as "SELECT
 * <value>" by PostgreSQL's grammar when decoding starts.  When a relation's
 * cache entry is built (pgdts.c), the expressions that name it are analyzed
 * as a target list entry over that table alone, coerced to the column's
 * type as an assignment would be, checked with the rules of row filters
 * (no subquery, no volatile or user-defined function) and prepared for the
 * executor.  Each row sent is then deformed, every expression evaluated on
 * the row's source values, and the results put in place of the columns'
 * values; expressions never see each other's results.
 *
 * IDENTIFICATION
 *		plugin/transform.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/sysattr.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_collate.h"
#include "parser/parse_expr.h"
#include "parser/parse_relation.h"
#include "parser/parser.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/relcache.h"
#include "utils/rel.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

#include "row_filter.h"
#include "transform.h"

static void pgdts_transform_error_context(void *arg);
static Node *pgdts_transform_analyze(Relation relation,
									 PgdtsTransformRule *rule,
									 Form_pg_attribute attr);
static int	pgdts_column_offset(TupleDesc desc, const char *colname);
static int *pgdts_transform_distances(List *rules, Relation relation);
static bool pgdts_transform_applies(List *rules, const int *distances, int i);
static TupleDesc pgdts_transforms_desc(TupleDesc desc, PgdtsTransforms *t,
									   Node **exprs,
									   PgdtsTransformRule **rules);

/* Parse the value of a "transform" option. */
PgdtsTransformRule *
pgdts_transform_parse(const char *value)
{
	StringInfoData sql;
	List	   *stmts = NIL;
	SelectStmt *select = NULL;
	ResTarget  *target;
	RangeVar   *rv;
	PgdtsTransformRule *rule;

	initStringInfo(&sql);
	appendStringInfo(&sql, "SELECT %s", value);
	stmts = pgdts_rule_raw_parse(sql.data, "column expression", value);

	if (list_length(stmts) == 1 &&
		IsA(linitial_node(RawStmt, stmts)->stmt, SelectStmt))
		select = (SelectStmt *) linitial_node(RawStmt, stmts)->stmt;
	if (select == NULL || select->op != SETOP_NONE ||
		list_length(select->targetList) != 1 || select->intoClause != NULL ||
		list_length(select->fromClause) != 1 ||
		!IsA(linitial(select->fromClause), RangeVar) ||
		select->whereClause != NULL || select->distinctClause != NIL ||
		select->groupClause != NIL || select->havingClause != NULL ||
		select->windowClause != NIL || select->valuesLists != NIL ||
		select->sortClause != NIL || select->limitOffset != NULL ||
		select->limitCount != NULL || select->lockingClause != NIL ||
		select->withClause != NULL ||
		linitial_node(ResTarget, select->targetList)->name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid pgdts column expression \"%s\"", value),
				 errdetail("A column expression is \"(expression) AS column FROM schema.table\".")));

	target = linitial_node(ResTarget, select->targetList);
	rv = linitial_node(RangeVar, select->fromClause);
	if (rv->schemaname == NULL || rv->catalogname != NULL ||
		rv->alias != NULL || !rv->inh)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid pgdts column expression \"%s\"", value),
				 errdetail("The table is named as schema.table, without ONLY or an alias.")));

	rule = palloc0(sizeof(PgdtsTransformRule));
	rule->schemaname = rv->schemaname;
	rule->relname = rv->relname;
	rule->colname = target->name;
	rule->expr = target->val;
	rule->text = pstrdup(value);
	return rule;
}

static void
pgdts_transform_error_context(void *arg)
{
	PgdtsTransformRule *rule = arg;

	errcontext("pgdts column expression \"%s\"", rule->text);
}

/*
 * Analyze one expression for the column attr of relation, or for a column
 * it adds when attr is NULL: that column takes the expression's type, a
 * literal of unknown type becoming text, as a view's column would (the
 * applier creates the column on the destination from such a view's).
 */
static Node *
pgdts_transform_analyze(Relation relation, PgdtsTransformRule *rule,
						Form_pg_attribute attr)
{
	ParseState *pstate = make_parsestate(NULL);
	ParseNamespaceItem *nsitem;
	Node	   *expr;
	Node	   *coerced;
	Oid			type;
	Oid			target;
	int32		typmod;

	nsitem = addRangeTableEntryForRelation(pstate, relation, AccessShareLock,
										   NULL, false, false);
	addNSItemToQuery(pstate, nsitem, false, true, true);
	expr = transformExpr(pstate, copyObject(rule->expr),
						 EXPR_KIND_SELECT_TARGET);
	type = exprType(expr);
	target = attr != NULL ? attr->atttypid : type == UNKNOWNOID ? TEXTOID : type;
	typmod = attr != NULL ? attr->atttypmod : exprTypmod(expr);
	coerced = coerce_to_target_type(pstate, expr, type, target, typmod,
									COERCION_ASSIGNMENT,
									COERCE_IMPLICIT_CAST, -1);
	if (coerced == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column \"%s\" is of type %s but its expression is of type %s",
						rule->colname, format_type_be(target),
						format_type_be(type)),
				 errhint("Cast the expression to the column's type.")));
	if (attr == NULL && get_typtype(target) == TYPTYPE_PSEUDO)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
				 errmsg("column \"%s\" would have pseudo-type %s",
						rule->colname, format_type_be(target)),
				 errhint("Cast the expression to the type the destination column should have.")));
	assign_expr_collations(pstate, coerced);
	pgdts_etl_check_expression(coerced, "column expressions");
	free_parsestate(pstate);
	return coerced;
}

/* The offset of the live column named colname in desc, or -1. */
static int
pgdts_column_offset(TupleDesc desc, const char *colname)
{
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, i);

		if (!attr->attisdropped && strcmp(NameStr(attr->attname), colname) == 0)
			return i;
	}
	return -1;
}

/*
 * The descriptor of the rows sent: the relation's columns as they are
 * (TupleDescCopyEntry clears attgenerated, which says a column is not
 * sent), then one per added column, typed as its expression.
 */
static TupleDesc
pgdts_transforms_desc(TupleDesc desc, PgdtsTransforms *t, Node **exprs,
					  PgdtsTransformRule **rules)
{
	TupleDesc	out = CreateTemplateTupleDesc(desc->natts + t->added);
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		TupleDescCopyEntry(out, i + 1, desc, i + 1);
		TupleDescAttr(out, i)->attgenerated = TupleDescAttr(desc, i)->attgenerated;
	}
	for (i = 0; i < t->count; i++)
	{
		AttrNumber	attnum = t->attoffs[i] + 1;

		if (t->attoffs[i] < desc->natts)
			continue;
		TupleDescInitEntry(out, attnum, rules[i]->colname,
						   exprType(exprs[i]), exprTypmod(exprs[i]), 0);
		TupleDescInitEntryCollation(out, attnum, exprCollation(exprs[i]));
	}
	return out;
}

/*
 * How far each rule's table is from relation (pgdts_rule_distance), in the
 * order of rules: computed once per relation, since each reads the
 * relation's partition ancestors.
 */
static int *
pgdts_transform_distances(List *rules, Relation relation)
{
	int		   *distances = palloc(sizeof(int) * Max(list_length(rules), 1));
	ListCell   *lc;

	foreach(lc, rules)
	{
		PgdtsTransformRule *rule = lfirst(lc);

		distances[foreach_current_index(lc)] =
			pgdts_rule_distance(rule->schemaname, rule->relname, relation);
	}
	return distances;
}

/*
 * Whether the rule at index i sets a column of the relation: it names the
 * relation or one of its partition ancestors, and no nearer rule names the
 * same column.
 */
static bool
pgdts_transform_applies(List *rules, const int *distances, int i)
{
	PgdtsTransformRule *rule = list_nth(rules, i);
	ListCell   *lc;

	if (distances[i] < 0)
		return false;
	foreach(lc, rules)
	{
		PgdtsTransformRule *other = lfirst(lc);
		int			j = foreach_current_index(lc);

		if (j != i && strcmp(other->colname, rule->colname) == 0 &&
			distances[j] >= 0 && distances[j] < distances[i])
			return false;
	}
	return true;
}

/*
 * The column expressions of the relation among rules, analyzed and ready,
 * in the current memory context; NULL when none names it.  The columns
 * of the primary key and the replica identity may not be set: the
 * destination finds rows by them.  An expression for a column the relation
 * lacks adds that column (its value is the expression's; the applier's
 * schema sync created it on the destination).
 */
PgdtsTransforms *
pgdts_transforms_build(Relation relation, List *rules)
{
	TupleDesc	desc = RelationGetDescr(relation);
	PgdtsTransforms *t = NULL;
	Bitmapset  *keys = NULL;
	Node	  **exprs = palloc(sizeof(Node *) * Max(list_length(rules), 1));
	PgdtsTransformRule **used = palloc(sizeof(PgdtsTransformRule *) *
									   Max(list_length(rules), 1));
	int		   *distances = pgdts_transform_distances(rules, relation);
	ListCell   *lc;

	foreach(lc, rules)
	{
		PgdtsTransformRule *rule = lfirst(lc);
		ErrorContextCallback errcallback;
		Node	   *expr;
		int			attoff;

		if (!pgdts_transform_applies(rules, distances, foreach_current_index(lc)))
			continue;
		if (keys == NULL)
			keys = bms_union(RelationGetIndexAttrBitmap(relation,
														INDEX_ATTR_BITMAP_PRIMARY_KEY),
							 RelationGetIndexAttrBitmap(relation,
														INDEX_ATTR_BITMAP_IDENTITY_KEY));

		errcallback.callback = pgdts_transform_error_context;
		errcallback.arg = rule;
		errcallback.previous = error_context_stack;
		error_context_stack = &errcallback;

		attoff = pgdts_column_offset(desc, rule->colname);
		if (attoff >= 0 &&
			bms_is_member(attoff + 1 - FirstLowInvalidHeapAttributeNumber, keys))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("column expressions may not set key column \"%s\"",
							rule->colname),
					 errdetail("The destination finds rows by the replica identity's key.")));

		expr = pgdts_transform_analyze(relation, rule,
									   attoff >= 0 ? TupleDescAttr(desc, attoff) : NULL);

		if (t == NULL)
		{
			int			most = desc->natts + list_length(rules);

			t = palloc0(sizeof(PgdtsTransforms));
			t->attoffs = palloc(sizeof(int) * most);
			t->states = palloc(sizeof(ExprState *) * most);
			t->estate = CreateExecutorState();
			t->slot = MakeSingleTupleTableSlot(CreateTupleDescCopyConstr(desc),
											   &TTSOpsVirtual);
		}
		if (attoff < 0)
			attoff = desc->natts + t->added++;
		pull_varattnos(expr, 1, &t->attrs);
		exprs[t->count] = expr;
		used[t->count] = rule;
		t->attoffs[t->count] = attoff;
		t->states[t->count] = ExecPrepareExpr((Expr *) expr, t->estate);
		t->count++;

		error_context_stack = errcallback.previous;
	}
	if (t != NULL && t->added > 0)
		t->desc = pgdts_transforms_desc(desc, t, exprs, used);
	return t;
}

/*
 * Put the expressions' results in place of the columns' values of a row,
 * computed from the row's source values: values and isnull hold desc's
 * (the relation's) columns, with room after them for the columns added,
 * which get their values here too.  The results are allocated in the
 * current memory context (the per-change one).  A value the expressions
 * read that is an unchanged TOASTed value decoding cannot see (no whole old
 * row to take it from) is an error: the result cannot be computed, and
 * sending the source value would leak it.
 */
void
pgdts_transforms_apply(PgdtsTransforms *t, TupleDesc desc, Datum *values,
					   bool *isnull)
{
	TupleDesc	sent = t->desc != NULL ? t->desc : desc;
	ExprContext *econtext = GetPerTupleExprContext(t->estate);
	TupleTableSlot *slot = t->slot;
	int			natts = slot->tts_tupleDescriptor->natts;
	Datum	   *results = palloc(sizeof(Datum) * Max(t->count, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(t->count, 1));
	int			i = -1;

	while ((i = bms_next_member(t->attrs, i)) >= 0)
	{
		int			off = i + FirstLowInvalidHeapAttributeNumber - 1;

		if (off < 0 || off >= desc->natts || isnull[off])
			continue;
		if (TupleDescAttr(desc, off)->attlen == -1 &&
			VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(values[off])))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("a pgdts column expression reads column \"%s\", whose unchanged TOASTed value this UPDATE did not log",
							NameStr(TupleDescAttr(desc, off)->attname)),
					 errhint("Set REPLICA IDENTITY FULL on the table.")));
	}

	ExecClearTuple(slot);
	memcpy(slot->tts_values, values, sizeof(Datum) * natts);
	memcpy(slot->tts_isnull, isnull, sizeof(bool) * natts);
	ExecStoreVirtualTuple(slot);
	econtext->ecxt_scantuple = slot;

	for (i = 0; i < t->count; i++)
		results[i] = ExecEvalExpr(t->states[i], econtext, &nulls[i]);
	for (i = 0; i < t->count; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(sent, t->attoffs[i]);

		/* out of the per-tuple memory, which is reset below */
		values[t->attoffs[i]] = nulls[i] ? (Datum) 0 :
			datumCopy(results[i], attr->attbyval, attr->attlen);
		isnull[t->attoffs[i]] = nulls[i];
	}

	ExecClearTuple(slot);
	ResetExprContext(econtext);
}
