/*-------------------------------------------------------------------------
 *
 * pgdts.c
 *		Logical decoding output plugin of pgdts
 *
 * The callbacks here decide what goes into the pgdts change stream: a
 * transaction's BEGIN before its first emitted record and its COMMIT only if
 * BEGIN was sent; a RELATION before a relation's first change in the
 * decoding session and again after its definition changed; its INSERTs,
 * UPDATEs, DELETEs and TRUNCATEs; logical messages with a "pgdts" prefix;
 * and DDL, decoded from the rows the event triggers insert into
 * pgdts.dts_ddl_command.  Other changes to the extension's own tables are
 * not sent.  How records are encoded is encode.c's business.
 *
 * A table with a row filter (option "row_filter", see row_filter.c) sends
 * only the changes of rows the filter keeps, and an UPDATE that moves a row
 * across the filter as the INSERT or DELETE the destination needs
 * (pgdts_filter_update), as pgoutput does with publication row filters.
 * A table with column expressions (option "transform", see transform.c)
 * sends their values in place of the columns' (pgdts_transformed).
 *
 * Each record is one protobuf Record message, one XLogData message of the
 * replication protocol (or one row of pg_logical_slot_get_binary_changes).
 *
 * Memory: everything a change needs lives in a context reset after the
 * change, so that decoding a transaction of millions of rows, or of values
 * of hundreds of megabytes, keeps the walsender's memory flat.
 *
 * IDENTIFICATION
 *		plugin/pgdts.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/skey.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_extension.h"
#include "commands/defrem.h"
#include "replication/logical.h"
#include "replication/origin.h"
#include "replication/walsender.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

#include "ddl_capture.h"
#include "encode.h"
#include "record_batch.h"
#include "row_filter.h"
#include "transform.h"

PG_MODULE_MAGIC;

/*
 * Report progress to the walsender every this many changes, so that it can
 * answer keepalives while decoding a long transaction whose changes are not
 * sent (the extension's own tables), like pgoutput does.
 */
#define PGDTS_PROGRESS_INTERVAL	100

/* State of one decoding session. */
typedef struct PgdtsData
{
	MemoryContext context;		/* per change; reset after each one */
	int			format_version;
	bool		include_origin;
	List	   *row_filters;	/* PgdtsRowFilterRule, at most one per table */
	List	   *transforms;		/* PgdtsTransformRule, one per column at most */
	int			changes_since_progress;
	bool		batch;			/* records travel in batches (record_batch.h) */
	PgdtsBatch	records;		/* the batch being filled, when batch */
} PgdtsData;

/* State of one transaction being sent. */
typedef struct PgdtsTxnData
{
	bool		sent_begin;		/* BEGIN sent: COMMIT must follow */
} PgdtsTxnData;

/* What the stream carries of a relation's changes. */
typedef enum PgdtsRelationClass
{
	PGDTS_REL_USER,				/* a user table: everything */
	PGDTS_REL_OWN,				/* a table of the extension: nothing */
	PGDTS_REL_DDL				/* dts_ddl_command: INSERTs, as Ddl records */
} PgdtsRelationClass;

/*
 * Relation cache entry, keyed by relation oid.  An invalidation of the
 * relation marks it invalid; the next change rebuilds it and sends RELATION
 * again.
 */
typedef struct PgdtsRelationEntry
{
	Oid			relid;			/* hash key; must be first */
	bool		valid;			/* info is up to date */
	bool		sent;			/* RELATION sent since info was built */
	PgdtsRelationClass relclass;
	MemoryContext context;		/* holds info's and filter's allocations */
	PgdtsRelationInfo info;
	PgdtsRowFilter *filter;		/* NULL: every row is sent */
	PgdtsTransforms *transforms;	/* NULL: values are sent as they are */
} PgdtsRelationEntry;

/* What an UPDATE of a table with a row filter becomes. */
typedef enum PgdtsFilteredUpdate
{
	PGDTS_UPDATE_SKIP,			/* neither row is kept: nothing */
	PGDTS_UPDATE_SEND,			/* both kept: the UPDATE */
	PGDTS_UPDATE_INSERT,		/* only the new row is kept: INSERT it */
	PGDTS_UPDATE_DELETE			/* only the old row was: DELETE it */
} PgdtsFilteredUpdate;

/*
 * The relation cache lives in the decoding context; it goes away with it (a
 * reset callback clears the pointer).  Invalidation callbacks cannot be
 * unregistered, so they are registered once per process and do nothing
 * while no decoding session exists.
 */
static HTAB *RelationCache = NULL;
static MemoryContext RelationCacheContext = NULL;
static bool invalidation_callbacks_registered = false;

/* Some entry was invalidated since the cache was last swept. */
static bool relation_cache_has_invalid = false;

/*
 * Schema of the pgdts extension, InvalidOid while it is not installed.
 * Looked up only when a relation cache entry is built, and forgotten on any
 * relation or schema invalidation, since CREATE/DROP EXTENSION produce both.
 */
static Oid	extension_schema = InvalidOid;
static bool extension_schema_valid = false;

extern PGDLLEXPORT void _PG_init(void);
extern PGDLLEXPORT void _PG_output_plugin_init(OutputPluginCallbacks *cb);

static void pgdts_startup(LogicalDecodingContext *ctx,
						  OutputPluginOptions *opt, bool is_init);
static void pgdts_shutdown(LogicalDecodingContext *ctx);
static void pgdts_begin_txn(LogicalDecodingContext *ctx,
							ReorderBufferTXN *txn);
static void pgdts_commit_txn(LogicalDecodingContext *ctx,
							 ReorderBufferTXN *txn, XLogRecPtr commit_lsn);
static void pgdts_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
						 Relation relation, ReorderBufferChange *change);
static void pgdts_truncate(LogicalDecodingContext *ctx,
						   ReorderBufferTXN *txn, int nrelations,
						   Relation relations[], ReorderBufferChange *change);
static void pgdts_message(LogicalDecodingContext *ctx,
						  ReorderBufferTXN *txn, XLogRecPtr message_lsn,
						  bool transactional, const char *prefix,
						  Size message_size, const char *message);
static bool pgdts_filter_by_origin(LogicalDecodingContext *ctx,
								   RepOriginId origin_id);

static void pgdts_parse_options(List *options, PgdtsData *data);
static void pgdts_add_row_filter(PgdtsData *data, DefElem *elem);
static void pgdts_add_transform(PgdtsData *data, DefElem *elem);
static void pgdts_fill_unchanged_toast(TupleDesc desc, Datum *values,
									   bool *isnull, HeapTuple oldtuple);
static HeapTuple pgdts_transformed(PgdtsRelationEntry *entry, TupleDesc desc,
								   HeapTuple tuple, HeapTuple full_old);
static void pgdts_fix_output_settings(void);
static int	pgdts_parse_format_version(DefElem *elem);
static void pgdts_update_progress(LogicalDecodingContext *ctx,
								  PgdtsData *data);
static StringInfo pgdts_out_begin(LogicalDecodingContext *ctx,
								  bool last_write);
static void pgdts_out_end(LogicalDecodingContext *ctx, bool last_write,
						  bool end_of_batch);
static void pgdts_send_begin(LogicalDecodingContext *ctx,
							 ReorderBufferTXN *txn);
static void pgdts_send_relation(LogicalDecodingContext *ctx,
								Relation relation,
								PgdtsRelationEntry *entry);

static void pgdts_init_relation_cache(MemoryContext decoding_context);
static void pgdts_relation_cache_reset(void *arg);
static PgdtsRelationEntry *pgdts_get_relation_entry(PgdtsData *data,
													Relation relation);
static PgdtsFilteredUpdate pgdts_filter_update(PgdtsRelationEntry *entry,
											   TupleDesc desc,
											   HeapTuple oldtuple,
											   HeapTuple newtuple,
											   Datum *new_values,
											   bool *new_isnull);
static void pgdts_sweep_relation_cache(void);
static PgdtsRelationClass pgdts_classify_relation(Relation relation);
static Oid	pgdts_lookup_extension_schema(void);
static void pgdts_relcache_invalidate(Datum arg, Oid relid);
static void pgdts_namespace_invalidate(Datum arg, int cacheid,
									   uint32 hashvalue);

/*
 * Module load: the DDL capture's ProcessUtility hook (see ddl_capture.c).
 * The walsender loads the module as an output plugin and gets the hook
 * too, where it only tracks the statements it runs.
 */
void
_PG_init(void)
{
	pgdts_ddl_capture_init();
}

/*
 * Specify the output plugin callbacks.
 */
void
_PG_output_plugin_init(OutputPluginCallbacks *cb)
{
	cb->startup_cb = pgdts_startup;
	cb->begin_cb = pgdts_begin_txn;
	cb->change_cb = pgdts_change;
	cb->truncate_cb = pgdts_truncate;
	cb->message_cb = pgdts_message;
	cb->commit_cb = pgdts_commit_txn;
	cb->filter_by_origin_cb = pgdts_filter_by_origin;
	cb->shutdown_cb = pgdts_shutdown;
}

/*
 * Start a decoding session: parse the options, set up the contexts and the
 * relation cache.
 */
static void
pgdts_startup(LogicalDecodingContext *ctx, OutputPluginOptions *opt,
			  bool is_init)
{
	PgdtsData  *data = MemoryContextAllocZero(ctx->context,
											  sizeof(PgdtsData));
	MemoryContext oldcxt;

	pgdts_check_wire_fields();

	data->context = AllocSetContextCreate(ctx->context,
										  "pgdts change context",
										  ALLOCSET_DEFAULT_SIZES);
	data->format_version = PGDTS_FORMAT_VERSION;
	data->include_origin = false;
	ctx->output_plugin_private = data;

	opt->output_type = OUTPUT_PLUGIN_BINARY_OUTPUT;
	opt->receive_rewrites = false;

	/* the parsed row filters live as long as the session */
	oldcxt = MemoryContextSwitchTo(ctx->context);
	pgdts_parse_options(ctx->output_plugin_options, data);
	MemoryContextSwitchTo(oldcxt);
	if (data->batch)
		pgdts_batch_init(&data->records, ctx->context);

	if (am_walsender)
		pgdts_fix_output_settings();

	pgdts_init_relation_cache(ctx->context);
}

/*
 * Values without a typed encoding travel as their type's text output, which
 * some settings change.  A walsender serves nothing but this stream, so fix
 * them there to spellings every destination reads back exactly, whatever
 * the connection asked for.  (The SQL decoding functions run in a user's
 * session, whose settings are left alone.)
 */
static void
pgdts_fix_output_settings(void)
{
	SetConfigOption("DateStyle", "ISO", PGC_USERSET, PGC_S_SESSION);
	SetConfigOption("IntervalStyle", "postgres", PGC_USERSET, PGC_S_SESSION);
	SetConfigOption("extra_float_digits", "3", PGC_USERSET, PGC_S_SESSION);
	SetConfigOption("bytea_output", "hex", PGC_USERSET, PGC_S_SESSION);
	SetConfigOption("lc_monetary", "C", PGC_USERSET, PGC_S_SESSION);
}

static void
pgdts_shutdown(LogicalDecodingContext *ctx)
{
	/* deleting the cache's context clears RelationCache */
	if (RelationCacheContext != NULL)
		MemoryContextDelete(RelationCacheContext);
}

/*
 * Parse the plugin options given to START_REPLICATION or to the SQL
 * decoding functions.
 */
static void
pgdts_parse_options(List *options, PgdtsData *data)
{
	bool		format_version_given = false;
	bool		include_origin_given = false;
	bool		batch_given = false;
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *elem = lfirst(lc);

		Assert(elem->arg == NULL || IsA(elem->arg, String));

		if (strcmp(elem->defname, "format_version") == 0)
		{
			if (format_version_given)
				ereport(ERROR,
						(errcode(ERRCODE_SYNTAX_ERROR),
						 errmsg("conflicting or redundant options"),
						 errdetail("Option \"%s\" is given more than once.",
								   elem->defname)));
			format_version_given = true;
			data->format_version = pgdts_parse_format_version(elem);
		}
		else if (strcmp(elem->defname, "include_origin") == 0)
		{
			if (include_origin_given)
				ereport(ERROR,
						(errcode(ERRCODE_SYNTAX_ERROR),
						 errmsg("conflicting or redundant options"),
						 errdetail("Option \"%s\" is given more than once.",
								   elem->defname)));
			include_origin_given = true;
			data->include_origin = defGetBoolean(elem);
		}
		else if (strcmp(elem->defname, "batch") == 0)
		{
			if (batch_given)
				ereport(ERROR,
						(errcode(ERRCODE_SYNTAX_ERROR),
						 errmsg("conflicting or redundant options"),
						 errdetail("Option \"%s\" is given more than once.",
								   elem->defname)));
			batch_given = true;
			data->batch = defGetBoolean(elem);
		}
		else if (strcmp(elem->defname, "row_filter") == 0)
			pgdts_add_row_filter(data, elem);
		else if (strcmp(elem->defname, "transform") == 0)
			pgdts_add_transform(data, elem);
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unrecognized pgdts output plugin option \"%s\"",
							elem->defname),
					 errhint("The options are \"format_version\", \"include_origin\", \"batch\", \"row_filter\" and \"transform\".")));
	}

	/*
	 * The hint says which side is older, so that the one line the applier
	 * prints names the package to upgrade.
	 */
	if (data->format_version != PGDTS_FORMAT_VERSION)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("pgdts output plugin does not support format version %d",
						data->format_version),
				 errdetail("This version of the pgdts output plugin writes record format version %d only.",
						   PGDTS_FORMAT_VERSION),
				 data->format_version > PGDTS_FORMAT_VERSION ?
				 errhint("Upgrade the pgdts extension on the source (package postgresql-%d-pgdts): the applier is newer.",
						 PG_VERSION_NUM / 10000) :
				 errhint("Upgrade pgdts, the applier (package pgdts): the pgdts extension on the source is newer.")));
}

/* The text of an option that must have one. */
static const char *
pgdts_option_value(DefElem *elem)
{
	if (elem->arg == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("pgdts output plugin option \"%s\" requires a value",
						elem->defname)));
	return strVal(elem->arg);
}

/*
 * A "row_filter" option, "schema.table WHERE condition"; repeated, one per
 * table.  Parsed here, so that a bad one fails START_REPLICATION; analyzed
 * against the table when its first change is decoded.
 */
static void
pgdts_add_row_filter(PgdtsData *data, DefElem *elem)
{
	PgdtsRowFilterRule *rule;
	ListCell   *lc;

	rule = pgdts_row_filter_parse(pgdts_option_value(elem));
	foreach(lc, data->row_filters)
	{
		PgdtsRowFilterRule *other = lfirst(lc);

		if (strcmp(other->schemaname, rule->schemaname) == 0 &&
			strcmp(other->relname, rule->relname) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("more than one pgdts row filter for table \"%s.%s\"",
							rule->schemaname, rule->relname),
					 errhint("Combine the conditions with AND or OR.")));
	}
	data->row_filters = lappend(data->row_filters, rule);
}

/*
 * A "transform" option, "(expression) AS column FROM schema.table";
 * repeated, one per column.
 */
static void
pgdts_add_transform(PgdtsData *data, DefElem *elem)
{
	PgdtsTransformRule *rule;
	ListCell   *lc;

	rule = pgdts_transform_parse(pgdts_option_value(elem));
	foreach(lc, data->transforms)
	{
		PgdtsTransformRule *other = lfirst(lc);

		if (strcmp(other->schemaname, rule->schemaname) == 0 &&
			strcmp(other->relname, rule->relname) == 0 &&
			strcmp(other->colname, rule->colname) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("more than one pgdts column expression for column \"%s\" of table \"%s.%s\"",
							rule->colname, rule->schemaname, rule->relname)));
	}
	data->transforms = lappend(data->transforms, rule);
}

static int
pgdts_parse_format_version(DefElem *elem)
{
	const char *str;
	char	   *end;
	long		version;

	str = pgdts_option_value(elem);
	errno = 0;
	version = strtol(str, &end, 10);
	if (errno != 0 || end == str || *end != '\0' ||
		version < INT_MIN || version > INT_MAX)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value \"%s\" for pgdts output plugin option \"%s\"",
						str, elem->defname),
				 errdetail("The format version is an integer.")));
	return (int) version;
}

/*
 * Let the walsender answer keepalives and track lag while a long
 * transaction is being decoded.
 */
static void
pgdts_update_progress(LogicalDecodingContext *ctx, PgdtsData *data)
{
	if (++data->changes_since_progress >= PGDTS_PROGRESS_INTERVAL)
	{
		OutputPluginUpdateProgress(ctx, false);
		data->changes_since_progress = 0;
	}
}

/*
 * Where the next record is written: a message of its own, or the open
 * batch's next frame.
 */
static StringInfo
pgdts_out_begin(LogicalDecodingContext *ctx, bool last_write)
{
	PgdtsData  *data = ctx->output_plugin_private;

	if (data->batch)
		return pgdts_batch_open_record(&data->records, ctx->write_location);
	OutputPluginPrepareWrite(ctx, last_write);
	return ctx->out;
}

/*
 * The record is written: its message goes, or the batch goes once it ends
 * a transaction (or stands alone, as a non-transactional message) or is
 * full.
 */
static void
pgdts_out_end(LogicalDecodingContext *ctx, bool last_write, bool end_of_batch)
{
	PgdtsData  *data = ctx->output_plugin_private;

	if (!data->batch)
	{
		OutputPluginWrite(ctx, last_write);
		return;
	}
	pgdts_batch_close_record(&data->records);
	if (end_of_batch || pgdts_batch_full(&data->records))
		pgdts_batch_send(ctx, &data->records, last_write);
}

/*
 * BEGIN is not sent here but before the transaction's first record (see
 * pgdts_send_begin), so that transactions with nothing to send send
 * nothing.
 */
static void
pgdts_begin_txn(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	txn->output_plugin_private =
		MemoryContextAllocZero(ctx->context, sizeof(PgdtsTxnData));
}

/* Send the transaction's BEGIN unless it was sent already. */
static void
pgdts_send_begin(LogicalDecodingContext *ctx, ReorderBufferTXN *txn)
{
	PgdtsTxnData *txndata = txn->output_plugin_private;

	Assert(txndata != NULL);
	if (txndata->sent_begin)
		return;

	pgdts_write_begin(pgdts_out_begin(ctx, false), txn);
	pgdts_out_end(ctx, false, false);
	txndata->sent_begin = true;
}

static void
pgdts_commit_txn(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
				 XLogRecPtr commit_lsn)
{
	PgdtsData  *data = ctx->output_plugin_private;
	PgdtsTxnData *txndata = txn->output_plugin_private;
	bool		sent_begin = txndata->sent_begin;

	/*
	 * A skipped transaction still advances the walsender's progress (it may
	 * have to answer a synchronous standby).
	 */
	OutputPluginUpdateProgress(ctx, !sent_begin);
	data->changes_since_progress = 0;

	pfree(txndata);
	txn->output_plugin_private = NULL;

	if (sent_begin)
	{
		pgdts_write_commit(pgdts_out_begin(ctx, true), txn, commit_lsn);
		pgdts_out_end(ctx, true, true);
	}

	/* between transactions no entry is in use: drop the invalidated ones */
	if (relation_cache_has_invalid)
		pgdts_sweep_relation_cache();
}

/*
 * Send RELATION unless it was sent since the relation's definition last
 * changed.
 */
static void
pgdts_send_relation(LogicalDecodingContext *ctx, Relation relation,
					PgdtsRelationEntry *entry)
{
	if (entry->sent)
		return;

	pgdts_write_relation(pgdts_out_begin(ctx, false), relation, &entry->info);
	pgdts_out_end(ctx, false, false);
	entry->sent = true;
}

static void
pgdts_change(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			 Relation relation, ReorderBufferChange *change)
{
	PgdtsData  *data = ctx->output_plugin_private;
	PgdtsRelationEntry *entry;
	PgdtsRelationInfo *info;
	HeapTuple	oldtuple;
	HeapTuple	newtuple;
	MemoryContext oldcxt;
	Datum	   *new_values;
	bool	   *new_isnull;

	pgdts_update_progress(ctx, data);

	entry = pgdts_get_relation_entry(data, relation);
	if (entry->relclass == PGDTS_REL_OWN)
		return;
	if (entry->relclass == PGDTS_REL_DDL &&
		change->action != REORDER_BUFFER_CHANGE_INSERT)
		return;

	info = &entry->info;
	oldtuple = PGDTS_CHANGE_TUPLE(change->data.tp.oldtuple);
	newtuple = PGDTS_CHANGE_TUPLE(change->data.tp.newtuple);

	oldcxt = MemoryContextSwitchTo(data->context);

	switch (change->action)
	{
		case REORDER_BUFFER_CHANGE_INSERT:
			if (newtuple == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("INSERT into relation \"%s\" was logged without its new row",
								RelationGetRelationName(relation))));
			if (entry->filter != NULL &&
				!pgdts_row_filter_match_tuple(entry->filter, newtuple))
				break;
			pgdts_send_begin(ctx, txn);
			if (entry->relclass == PGDTS_REL_DDL)
			{
				pgdts_write_ddl(pgdts_out_begin(ctx, true), relation, info, newtuple);
				pgdts_out_end(ctx, true, false);
				break;
			}
			pgdts_send_relation(ctx, relation, entry);
			newtuple = pgdts_transformed(entry, RelationGetDescr(relation),
										 newtuple, NULL);
			pgdts_write_insert(pgdts_out_begin(ctx, true), relation, info, newtuple);
			pgdts_out_end(ctx, true, false);
			break;

		case REORDER_BUFFER_CHANGE_UPDATE:
			if (newtuple == NULL)
				ereport(ERROR,
						(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
						 errmsg("UPDATE of relation \"%s\" was logged without its new row",
								RelationGetRelationName(relation))));
			if (entry->filter == NULL)
			{
				pgdts_send_begin(ctx, txn);
				pgdts_send_relation(ctx, relation, entry);
				if (entry->transforms != NULL)
				{
					bool		whole_old = info->replident == REPLICA_IDENTITY_FULL;
					HeapTuple	full_old = whole_old ? oldtuple : NULL;

					newtuple = pgdts_transformed(entry, RelationGetDescr(relation),
												 newtuple, full_old);
					if (full_old != NULL)
						oldtuple = pgdts_transformed(entry,
													 RelationGetDescr(relation),
													 oldtuple, NULL);
				}
				pgdts_write_update(pgdts_out_begin(ctx, true), relation, info, oldtuple,
								   newtuple);
				pgdts_out_end(ctx, true, false);
				break;
			}
			/* room for the columns expressions add (PGDTS_UPDATE_INSERT) */
			new_values = palloc(sizeof(Datum) *
								Max(pgdts_sent_desc(relation, info)->natts, 1));
			new_isnull = palloc(sizeof(bool) *
								Max(pgdts_sent_desc(relation, info)->natts, 1));
			switch (pgdts_filter_update(entry, RelationGetDescr(relation),
										oldtuple, newtuple,
										new_values, new_isnull))
			{
				case PGDTS_UPDATE_SKIP:
					break;
				case PGDTS_UPDATE_SEND:
					pgdts_send_begin(ctx, txn);
					pgdts_send_relation(ctx, relation, entry);
					if (entry->transforms != NULL &&
						info->replident == REPLICA_IDENTITY_FULL &&
						oldtuple != NULL)
					{
						newtuple = pgdts_transformed(entry,
													 RelationGetDescr(relation),
													 newtuple, oldtuple);
						oldtuple = pgdts_transformed(entry,
													 RelationGetDescr(relation),
													 oldtuple, NULL);
					}
					else
						newtuple = pgdts_transformed(entry,
													 RelationGetDescr(relation),
													 newtuple, NULL);
					pgdts_write_update(pgdts_out_begin(ctx, true), relation, info, oldtuple,
									   newtuple);
					pgdts_out_end(ctx, true, false);
					break;
				case PGDTS_UPDATE_INSERT:
					pgdts_send_begin(ctx, txn);
					pgdts_send_relation(ctx, relation, entry);
					if (entry->transforms != NULL)
						pgdts_transforms_apply(entry->transforms,
											   RelationGetDescr(relation),
											   new_values, new_isnull);
					pgdts_write_insert_values(pgdts_out_begin(ctx, true), relation, info,
											  new_values, new_isnull);
					pgdts_out_end(ctx, true, false);
					break;
				case PGDTS_UPDATE_DELETE:

					/*
					 * without an old row (key unchanged) the new one has the
					 * key
					 */
					pgdts_send_begin(ctx, txn);
					pgdts_send_relation(ctx, relation, entry);
					if (info->replident == REPLICA_IDENTITY_FULL)
						oldtuple = pgdts_transformed(entry,
													 RelationGetDescr(relation),
													 oldtuple, NULL);
					pgdts_write_delete(pgdts_out_begin(ctx, true), relation, info,
									   oldtuple != NULL ? oldtuple : newtuple);
					pgdts_out_end(ctx, true, false);
					break;
			}
			break;

		case REORDER_BUFFER_CHANGE_DELETE:

			/*
			 * Without a replica identity PostgreSQL logs no old row; the
			 * DELETE still goes, with no old image, so that the applier can
			 * report it.  With a row filter, the old row decides under
			 * REPLICA IDENTITY FULL; with only its key, the DELETE goes (a
			 * row the destination lacks is not there to delete).
			 */
			if (entry->filter != NULL && oldtuple != NULL &&
				info->replident == REPLICA_IDENTITY_FULL &&
				!pgdts_row_filter_match_tuple(entry->filter, oldtuple))
				break;
			pgdts_send_begin(ctx, txn);
			pgdts_send_relation(ctx, relation, entry);
			if (info->replident == REPLICA_IDENTITY_FULL)
				oldtuple = pgdts_transformed(entry, RelationGetDescr(relation),
											 oldtuple, NULL);
			pgdts_write_delete(pgdts_out_begin(ctx, true), relation, info, oldtuple);
			pgdts_out_end(ctx, true, false);
			break;

		default:
			Assert(false);
			break;
	}

	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(data->context);
}

/*
 * Which of its rows a table's row filter keeps decides what an UPDATE
 * becomes (as pgoutput_row_filter does):
 *
 *	old kept,	new kept	-> the UPDATE
 *	old kept,	new not		-> DELETE of the old row
 *	old not,	new kept	-> INSERT of the whole new row
 *	old not,	new not		-> nothing
 *
 * Only REPLICA IDENTITY FULL logs the whole old row (with its TOASTed
 * values inline).  A value the UPDATE left unchanged and that is stored
 * out of line is not in the new row decoding sees; it is taken from the
 * old row, so that the filter can read it and an INSERT carries the whole
 * row.  new_values/new_isnull receive the new row so completed.
 *
 * Without the old row (another replica identity: the old row is its key,
 * or nothing when the key did not change) the new row decides alone: kept,
 * the UPDATE goes; not, a DELETE of its key.  A row moving into the filter
 * then arrives as an UPDATE of a row the destination lacks, which is why
 * precheck asks for REPLICA IDENTITY FULL on filtered tables.  A new row
 * whose unchanged TOASTed value the filter would read is sent as it is.
 */
static PgdtsFilteredUpdate
pgdts_filter_update(PgdtsRelationEntry *entry, TupleDesc desc,
					HeapTuple oldtuple, HeapTuple newtuple,
					Datum *new_values, bool *new_isnull)
{
	PgdtsRowFilter *filter = entry->filter;
	bool		old_kept;
	bool		new_kept;

	heap_deform_tuple(newtuple, desc, new_values, new_isnull);

	if (oldtuple == NULL || entry->info.replident != REPLICA_IDENTITY_FULL)
	{
		if (pgdts_row_filter_reads_unchanged_toast(filter, desc, new_values,
												   new_isnull))
			return PGDTS_UPDATE_SEND;
		return pgdts_row_filter_match_values(filter, new_values, new_isnull) ?
			PGDTS_UPDATE_SEND : PGDTS_UPDATE_DELETE;
	}

	old_kept = pgdts_row_filter_match_tuple(filter, oldtuple);

	pgdts_fill_unchanged_toast(desc, new_values, new_isnull, oldtuple);

	if (pgdts_row_filter_reads_unchanged_toast(filter, desc, new_values,
											   new_isnull))
		new_kept = old_kept;	/* cannot be judged: taken as unchanged */
	else
		new_kept = pgdts_row_filter_match_values(filter, new_values,
												 new_isnull);

	if (old_kept && new_kept)
		return PGDTS_UPDATE_SEND;
	if (old_kept)
		return PGDTS_UPDATE_DELETE;
	if (new_kept)
		return PGDTS_UPDATE_INSERT;
	return PGDTS_UPDATE_SKIP;
}

/*
 * Replace the unchanged TOASTed values of a new row (values, isnull) by the
 * old row's, which REPLICA IDENTITY FULL logs inline.
 */
static void
pgdts_fill_unchanged_toast(TupleDesc desc, Datum *values, bool *isnull,
						   HeapTuple oldtuple)
{
	Datum	   *old_values = palloc(sizeof(Datum) * Max(desc->natts, 1));
	bool	   *old_isnull = palloc(sizeof(bool) * Max(desc->natts, 1));
	int			i;

	heap_deform_tuple(oldtuple, desc, old_values, old_isnull);
	for (i = 0; i < desc->natts; i++)
	{
		if (isnull[i] || TupleDescAttr(desc, i)->attlen != -1 ||
			!VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(values[i])))
			continue;
		if (!old_isnull[i] &&
			!VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(old_values[i])))
			values[i] = old_values[i];
	}
}

/*
 * The tuple with the relation's column expressions applied, or the tuple
 * itself when it has none.  full_old, the whole old row of an UPDATE, gives
 * the unchanged TOASTed values the expressions may read.
 */
static HeapTuple
pgdts_transformed(PgdtsRelationEntry *entry, TupleDesc desc, HeapTuple tuple,
				  HeapTuple full_old)
{
	TupleDesc	sent;
	Datum	   *values;
	bool	   *isnull;

	if (entry->transforms == NULL || tuple == NULL)
		return tuple;

	sent = entry->transforms->desc != NULL ? entry->transforms->desc : desc;
	values = palloc(sizeof(Datum) * Max(sent->natts, 1));
	isnull = palloc(sizeof(bool) * Max(sent->natts, 1));
	heap_deform_tuple(tuple, desc, values, isnull);
	if (full_old != NULL)
		pgdts_fill_unchanged_toast(desc, values, isnull, full_old);
	pgdts_transforms_apply(entry->transforms, desc, values, isnull);
	return heap_form_tuple(sent, values, isnull);
}

static void
pgdts_truncate(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			   int nrelations, Relation relations[],
			   ReorderBufferChange *change)
{
	PgdtsData  *data = ctx->output_plugin_private;
	MemoryContext oldcxt;
	Oid		   *relids;
	int			nrelids = 0;
	int			i;

	pgdts_update_progress(ctx, data);

	oldcxt = MemoryContextSwitchTo(data->context);

	relids = palloc(sizeof(Oid) * nrelations);
	for (i = 0; i < nrelations; i++)
	{
		Relation	relation = relations[i];
		PgdtsRelationEntry *entry = pgdts_get_relation_entry(data, relation);

		if (entry->relclass != PGDTS_REL_USER)
			continue;

		pgdts_send_begin(ctx, txn);
		pgdts_send_relation(ctx, relation, entry);
		relids[nrelids++] = RelationGetRelid(relation);
	}

	if (nrelids > 0)
	{
		pgdts_write_truncate(pgdts_out_begin(ctx, true), nrelids, relids,
							 change->data.truncate.restart_seqs,
							 change->data.truncate.cascade);
		pgdts_out_end(ctx, true, false);
	}

	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(data->context);
}

/*
 * Send logical messages whose prefix starts with "pgdts": transactional
 * ones inside their transaction, the others on their own.
 */
static void
pgdts_message(LogicalDecodingContext *ctx, ReorderBufferTXN *txn,
			  XLogRecPtr message_lsn, bool transactional, const char *prefix,
			  Size message_size, const char *message)
{
	PgdtsData  *data = ctx->output_plugin_private;
	MemoryContext oldcxt;

	if (strncmp(prefix, PGDTS_MESSAGE_PREFIX,
				strlen(PGDTS_MESSAGE_PREFIX)) != 0)
		return;

	oldcxt = MemoryContextSwitchTo(data->context);

	if (transactional)
	{
		pgdts_update_progress(ctx, data);
		pgdts_send_begin(ctx, txn);
	}
	pgdts_write_message(pgdts_out_begin(ctx, true), message_lsn, transactional, prefix,
						message_size, message);
	pgdts_out_end(ctx, true, !transactional);

	MemoryContextSwitchTo(oldcxt);
	MemoryContextReset(data->context);
}

/*
 * Skip the transactions that carry a replication origin, i.e. that an
 * applier (pgdts itself, or another one) replayed here, unless asked for:
 * sending them back would loop in bidirectional or cascaded setups.
 */
static bool
pgdts_filter_by_origin(LogicalDecodingContext *ctx, RepOriginId origin_id)
{
	PgdtsData  *data = ctx->output_plugin_private;

	return !data->include_origin && origin_id != InvalidRepOriginId;
}

/*
 * Create the relation cache in a context under the decoding context, and
 * register the invalidation callbacks once per process.
 */
static void
pgdts_init_relation_cache(MemoryContext decoding_context)
{
	HASHCTL		ctl;
	MemoryContextCallback *callback;

	RelationCacheContext = AllocSetContextCreate(decoding_context,
												 "pgdts relation cache",
												 ALLOCSET_DEFAULT_SIZES);

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(PgdtsRelationEntry);
	ctl.hcxt = RelationCacheContext;
	RelationCache = hash_create("pgdts relation cache", 128, &ctl,
								HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);

	callback = MemoryContextAlloc(RelationCacheContext,
								  sizeof(MemoryContextCallback));
	callback->func = pgdts_relation_cache_reset;
	callback->arg = RelationCacheContext;
	MemoryContextRegisterResetCallback(RelationCacheContext, callback);

	/* the extension may have been created or dropped since last session */
	extension_schema_valid = false;

	if (!invalidation_callbacks_registered)
	{
		CacheRegisterRelcacheCallback(pgdts_relcache_invalidate, (Datum) 0);
		CacheRegisterSyscacheCallback(NAMESPACEOID,
									  pgdts_namespace_invalidate, (Datum) 0);
		invalidation_callbacks_registered = true;
	}
}

/* The cache's context is going away: forget the cache. */
static void
pgdts_relation_cache_reset(void *arg)
{
	if (RelationCacheContext == (MemoryContext) arg)
	{
		RelationCache = NULL;
		RelationCacheContext = NULL;
	}
}

/*
 * Find or build the cache entry of a relation.  A new or invalidated entry
 * is rebuilt from the relation as the historic snapshot sees it, and its
 * RELATION record is due again.
 */
static PgdtsRelationEntry *
pgdts_get_relation_entry(PgdtsData *data, Relation relation)
{
	Oid			relid = RelationGetRelid(relation);
	PgdtsRelationEntry *entry;
	MemoryContext oldcxt;
	bool		found;

	Assert(RelationCache != NULL);

	entry = hash_search(RelationCache, &relid, HASH_ENTER, &found);
	if (!found)
	{
		entry->valid = false;
		entry->context = NULL;
	}
	if (entry->valid)
		return entry;

	/*
	 * Mark the entry valid before building it: an invalidation arriving while
	 * the catalogs are read marks it invalid again, and the next change
	 * rebuilds it.
	 */
	entry->valid = true;
	entry->sent = false;
	if (entry->context != NULL)
		MemoryContextDelete(entry->context);
	entry->context = AllocSetContextCreate(RelationCacheContext,
										   "pgdts relation",
										   ALLOCSET_SMALL_SIZES);
	memset(&entry->info, 0, sizeof(PgdtsRelationInfo));
	entry->filter = NULL;
	entry->transforms = NULL;

	entry->relclass = pgdts_classify_relation(relation);
	/* first: the columns expressions add are part of the rows sent */
	if (entry->relclass == PGDTS_REL_USER && data->transforms != NIL)
	{
		oldcxt = MemoryContextSwitchTo(entry->context);
		PG_TRY();
		{
			entry->transforms = pgdts_transforms_build(relation,
													   data->transforms);
		}
		PG_CATCH();
		{
			entry->valid = false;
			PG_RE_THROW();
		}
		PG_END_TRY();
		MemoryContextSwitchTo(oldcxt);
	}
	if (entry->relclass != PGDTS_REL_OWN)
	{
		oldcxt = MemoryContextSwitchTo(entry->context);
		pgdts_relation_info_build(relation,
								  entry->transforms != NULL ?
								  entry->transforms->desc : NULL,
								  entry->relclass == PGDTS_REL_DDL,
								  &entry->info);
		MemoryContextSwitchTo(oldcxt);
	}
	if (entry->relclass == PGDTS_REL_USER && data->row_filters != NIL)
	{
		PgdtsRowFilterRule *rule = pgdts_row_filter_find(data->row_filters,
														 relation);

		if (rule != NULL)
		{
			oldcxt = MemoryContextSwitchTo(entry->context);
			PG_TRY();
			{
				entry->filter = pgdts_row_filter_build(relation, rule);
			}
			PG_CATCH();
			{
				/* a filter that fails to build leaves the entry to rebuild */
				entry->valid = false;
				PG_RE_THROW();
			}
			PG_END_TRY();
			MemoryContextSwitchTo(oldcxt);
		}
	}

	return entry;
}

/*
 * Remove invalidated entries, so that a long session does not accumulate
 * the entries of relations dropped or altered long ago.  Only called
 * between transactions: an invalidation may arrive while an entry is being
 * used to encode a change, which is why the callback only marks it.
 */
static void
pgdts_sweep_relation_cache(void)
{
	HASH_SEQ_STATUS status;
	PgdtsRelationEntry *entry;

	relation_cache_has_invalid = false;
	if (RelationCache == NULL)
		return;

	hash_seq_init(&status, RelationCache);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->valid)
			continue;
		if (entry->context != NULL)
			MemoryContextDelete(entry->context);
		/* removing the element just returned is allowed during a scan */
		if (hash_search(RelationCache, &entry->relid, HASH_REMOVE,
						NULL) == NULL)
			elog(ERROR, "pgdts relation cache is corrupted");
	}
}

/*
 * A relation in the extension's schema is the extension's own: its changes
 * are not user data.  dts_ddl_command is the one whose INSERTs are sent, as
 * the DDL they record.
 */
static PgdtsRelationClass
pgdts_classify_relation(Relation relation)
{
	if (!extension_schema_valid)
	{
		/* marked valid first, so that an invalidation meanwhile wins */
		extension_schema_valid = true;
		extension_schema = pgdts_lookup_extension_schema();
	}

	if (!OidIsValid(extension_schema) ||
		RelationGetNamespace(relation) != extension_schema)
		return PGDTS_REL_USER;
	if (strcmp(RelationGetRelationName(relation), PGDTS_DDL_TABLE) == 0)
		return PGDTS_REL_DDL;
	return PGDTS_REL_OWN;
}

/* The schema of the pgdts extension, or InvalidOid if it is not installed. */
static Oid
pgdts_lookup_extension_schema(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			result = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum(PGDTS_EXTENSION_NAME));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		result = ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	return result;
}

/*
 * Relcache invalidation: the relation's definition (or, for InvalidOid,
 * any relation's) may have changed.  Creating or dropping the extension
 * creates or drops relations, so the extension's schema is looked up again
 * too.
 */
static void
pgdts_relcache_invalidate(Datum arg, Oid relid)
{
	PgdtsRelationEntry *entry;

	extension_schema_valid = false;

	if (RelationCache == NULL)
		return;

	if (OidIsValid(relid))
	{
		entry = hash_search(RelationCache, &relid, HASH_FIND, NULL);
		if (entry != NULL)
		{
			entry->valid = false;
			relation_cache_has_invalid = true;
		}
	}
	else
	{
		HASH_SEQ_STATUS status;

		hash_seq_init(&status, RelationCache);
		while ((entry = hash_seq_search(&status)) != NULL)
			entry->valid = false;
		relation_cache_has_invalid = true;
	}
}

static void
pgdts_namespace_invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	extension_schema_valid = false;
}
