/*-------------------------------------------------------------------------
 *
 * transform.h
 *		Column expressions of the pgdts output plugin
 *
 * A column expression gives a column of one table the value of a SQL
 * expression over the row's source columns (mask an email, hash a phone
 * number) before the row is encoded, so that the source value never leaves
 * the source.  Expressions arrive as "transform" plugin options, each
 * "(expression) AS column FROM schema.table"; they are parsed when
 * decoding starts and analyzed against the relation when its cache entry
 * is built, with the rules of row filters (row_filter.c).
 *
 * IDENTIFICATION
 *		plugin/transform.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGDTS_TRANSFORM_H
#define PGDTS_TRANSFORM_H

#include "access/htup.h"
#include "executor/tuptable.h"
#include "nodes/execnodes.h"
#include "nodes/pg_list.h"
#include "utils/relcache.h"

/* A column expression as given. */
typedef struct PgdtsTransformRule
{
	char	   *schemaname;
	char	   *relname;
	char	   *colname;
	Node	   *expr;			/* raw parse tree */
	char	   *text;			/* the option's value, for messages */
} PgdtsTransformRule;

/*
 * The column expressions of one relation definition, ready to run.  An
 * expression for a column the relation lacks adds that column to the rows
 * sent: desc is the relation's descriptor with the added columns after its
 * own, typed as their expressions are.
 */
typedef struct PgdtsTransforms
{
	int			count;
	int		   *attoffs;		/* column each one sets, in the rows sent */
	int			added;			/* columns the relation lacks, set last */
	TupleDesc	desc;			/* of the rows sent when added > 0: the
								 * relation's columns, then the added ones;
								 * NULL: the relation's descriptor */
	ExprState **states;
	Bitmapset  *attrs;			/* columns they read, attnum -
								 * FirstLowInvalidHeapAttributeNumber */
	EState	   *estate;
	TupleTableSlot *slot;		/* virtual, for the row's source values */
} PgdtsTransforms;

extern PgdtsTransformRule *pgdts_transform_parse(const char *value);
extern PgdtsTransforms *pgdts_transforms_build(Relation relation,
											   List *rules);
extern void pgdts_transforms_apply(PgdtsTransforms *transforms,
								   TupleDesc desc, Datum *values,
								   bool *isnull);

#endif							/* PGDTS_TRANSFORM_H */
