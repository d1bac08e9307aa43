/*-------------------------------------------------------------------------
 *
 * row_filter.h
 *		Row filters of the pgdts output plugin
 *
 * A row filter keeps the changes of one table whose rows satisfy a boolean
 * SQL expression over the table's columns, as PostgreSQL 15's publication
 * row filters do for pgoutput.  Filters arrive as "row_filter" plugin
 * options, each "schema.table WHERE condition"; the option text is parsed
 * when decoding starts, and analyzed against the relation (as the
 * historic snapshot sees it) when the relation's cache entry is built.
 *
 * IDENTIFICATION
 *		plugin/row_filter.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGDTS_ROW_FILTER_H
#define PGDTS_ROW_FILTER_H

#include "access/htup.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "nodes/pg_list.h"
#include "utils/relcache.h"

/* The raw parse of a rule's statement, shared with column expressions. */
extern List *pgdts_rule_raw_parse(const char *sql, const char *kind,
								  const char *value);

/*
 * How far the table a rule names is from relation: 0 the relation itself,
 * 1 its partitioned parent, 2 that one's parent...; -1 when the rule names
 * neither.  A rule on a partitioned table applies to every partition,
 * those created later too; the nearest rule wins.
 */
extern int	pgdts_rule_distance(const char *schemaname, const char *relname,
								Relation relation);

/* A row filter as given: the table it names and its parsed condition. */
typedef struct PgdtsRowFilterRule
{
	char	   *schemaname;
	char	   *relname;
	Node	   *condition;		/* raw parse tree */
	char	   *text;			/* the option's value, for messages */
} PgdtsRowFilterRule;

/* A row filter analyzed for one relation definition, ready to run. */
typedef struct PgdtsRowFilter
{
	PgdtsRowFilterRule *rule;
	EState	   *estate;			/* per-tuple memory for evaluation */
	ExprState  *state;
	Bitmapset  *attrs;			/* columns it reads, attnum -
								 * FirstLowInvalidHeapAttributeNumber */
	TupleTableSlot *tuple_slot; /* for heap tuples */
	TupleTableSlot *values_slot;	/* for deformed values */
} PgdtsRowFilter;

extern PgdtsRowFilterRule *pgdts_row_filter_parse(const char *value);
extern PgdtsRowFilterRule *pgdts_row_filter_find(List *rules,
												 Relation relation);
extern PgdtsRowFilter *pgdts_row_filter_build(Relation relation,
											  PgdtsRowFilterRule *rule);
extern bool pgdts_row_filter_match_tuple(PgdtsRowFilter *filter,
										 HeapTuple tuple);
extern bool pgdts_row_filter_match_values(PgdtsRowFilter *filter,
										  Datum *values, bool *isnull);
extern void pgdts_etl_check_expression(Node *expr, const char *what);
extern bool pgdts_row_filter_reads_unchanged_toast(PgdtsRowFilter *filter,
												   TupleDesc desc,
												   Datum *values,
												   bool *isnull);

#endif							/* PGDTS_ROW_FILTER_H */
