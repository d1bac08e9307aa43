/*-------------------------------------------------------------------------
 *
 * encode.c
 *		Encoding of pgdts change records as protobuf messages
 *
 * This file decides how a change travels: which Value kind each column
 * uses, how tuples, relations and transactions become Record messages of
 * proto/pgdts.proto, and how a record is packed into the output buffer.  The
 * callbacks in pgdts.c decide what is sent.
 *
 * Messages are built on the stack or in the caller's current memory
 * context (the per-change context, reset after each change); they point
 * into the decoded tuples wherever they can instead of copying values.  The
 * per-column decisions that need catalog lookups (value kind, output
 * function) are taken once per relation definition by
 * pgdts_relation_info_build, so that encoding a change does none.
 *
 * IDENTIFICATION
 *		plugin/encode.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/htup_details.h"
#include "access/sysattr.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

#include "encode.h"

/* Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01). */
#define PGDTS_UNIX_EPOCH_OFFSET \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

static char *pgdts_utf8(const char *str);
static PgdtsValueKind pgdts_value_kind(Oid typid);
static char *pgdts_type_name(Oid typid, int32 typmod);
static Pgdts__ReplicaIdentity pgdts_replica_identity(char replident);
static int	pgdts_ddl_column(TupleDesc desc, const char *name, Oid typid);
static struct varlena *pgdts_varlena(Datum datum);
static void pgdts_encode_value(Pgdts__Value *value, PgdtsColumn *col,
							   Datum datum, bool isnull);
static Pgdts__Tuple *pgdts_encode_values(PgdtsRelationInfo *info,
										 Datum *datums, bool *isnull,
										 bool keys_only);
static Pgdts__Tuple *pgdts_encode_tuple(PgdtsRelationInfo *info,
										TupleDesc desc, HeapTuple tuple,
										bool keys_only);
static Pgdts__OldImage pgdts_encode_old_image(PgdtsRelationInfo *info,
											  TupleDesc desc,
											  HeapTuple oldtuple,
											  Pgdts__Tuple **old);
static char *pgdts_ddl_text(Datum *values, bool *isnull, int off);
static char *pgdts_ddl_name(Datum *values, bool *isnull, int off);
static bool pgdts_ddl_bool(Datum *values, bool *isnull, int off);
static int	pgdts_ddl_pairs(Datum *values, bool *isnull, int off,
							char ***firsts, char ***seconds);
static void pgdts_pack_record(StringInfo out, const Pgdts__Record *record,
							  Relation rel);

/*
 * A name for a protobuf string field, which holds UTF-8: converted from the
 * database encoding when that is another one.  (Values and statements
 * travel in bytes fields, in the database encoding.)
 */
static char *
pgdts_utf8(const char *str)
{
	return pg_server_to_any(str, strlen(str), PG_UTF8);
}

/*
 * Decide how the values of a column of type typid travel.  A domain travels
 * like its base type: its values are values of the base type.
 */
static PgdtsValueKind
pgdts_value_kind(Oid typid)
{
	switch (getBaseType(typid))
	{
		case INT2OID:
			return PGDTS_VALUE_INT2;
		case INT4OID:
			return PGDTS_VALUE_INT4;
		case INT8OID:
			return PGDTS_VALUE_INT8;
		case FLOAT4OID:
			return PGDTS_VALUE_FLOAT4;
		case FLOAT8OID:
			return PGDTS_VALUE_FLOAT8;
		case BOOLOID:
			return PGDTS_VALUE_BOOL;
		case BYTEAOID:
			return PGDTS_VALUE_BYTEA;
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			return PGDTS_VALUE_TEXTLIKE;
		default:
			return PGDTS_VALUE_OUTPUT;
	}
}

/*
 * The SQL name of a type with its modifier, as a destination can resolve
 * it whatever its search_path: built-in types keep their usual spelling
 * ("integer", "character varying(10)"), every other type is qualified with
 * its schema.
 */
static char *
pgdts_type_name(Oid typid, int32 typmod)
{
	HeapTuple	tp;
	bits16		flags = FORMAT_TYPE_TYPEMOD_GIVEN;

	tp = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	if (!HeapTupleIsValid(tp))
		elog(ERROR, "cache lookup failed for type %u", typid);
	if (((Form_pg_type) GETSTRUCT(tp))->typnamespace != PG_CATALOG_NAMESPACE)
		flags |= FORMAT_TYPE_FORCE_QUALIFY;
	ReleaseSysCache(tp);

	return format_type_extended(typid, typmod, flags);
}

static Pgdts__ReplicaIdentity
pgdts_replica_identity(char replident)
{
	switch (replident)
	{
		case REPLICA_IDENTITY_NOTHING:
			return PGDTS__REPLICA_IDENTITY__REPLICA_IDENTITY_NOTHING;
		case REPLICA_IDENTITY_FULL:
			return PGDTS__REPLICA_IDENTITY__REPLICA_IDENTITY_FULL;
		case REPLICA_IDENTITY_INDEX:
			return PGDTS__REPLICA_IDENTITY__REPLICA_IDENTITY_INDEX;
		default:
			return PGDTS__REPLICA_IDENTITY__REPLICA_IDENTITY_DEFAULT;
	}
}

/*
 * Offset of column "name" of dts_ddl_command, or -1 when it does not exist.
 * A column of another type than the extension script creates means the
 * table was altered by hand; decoding it would produce wrong DDL.
 */
static int
pgdts_ddl_column(TupleDesc desc, const char *name, Oid typid)
{
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, i);

		if (attr->attisdropped || strcmp(NameStr(attr->attname), name) != 0)
			continue;
		if (attr->atttypid != typid)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("column \"%s\" of table \"dts_ddl_command\" has type %s instead of %s",
							name, format_type_be(attr->atttypid),
							format_type_be(typid)),
					 errhint("Restore the table as the pgdts extension script creates it.")));
		return i;
	}
	return -1;
}

/*
 * The descriptor of the rows sent for rel.  The relation's own is read at
 * each use rather than kept: a relcache rebuild may replace it, and it
 * carries the values of columns added with a default after a row was
 * written (atthasmissing), which the old row of an UPDATE may lack.
 */
TupleDesc
pgdts_sent_desc(Relation rel, PgdtsRelationInfo *info)
{
	return info->desc != NULL ? info->desc : RelationGetDescr(rel);
}

/*
 * Compute the per-relation encoding information of rel into info: the
 * columns sent (non-dropped, non-generated, in attnum order) of desc, which
 * is NULL for rel's own descriptor or one with the columns that column
 * expressions add after rel's (pgdts_transforms_build), which of them
 * form the replica identity key, and how their values are encoded.
 * Everything is allocated in the current memory context, which must live as
 * long as info is used.
 *
 * Generated columns are left out like pgoutput does: a destination computes
 * them itself and refuses values for them.
 */
void
pgdts_relation_info_build(Relation rel, TupleDesc desc, bool is_ddl_table,
						  PgdtsRelationInfo *info)
{
	Bitmapset  *idattrs = NULL;
	int			i;

	memset(info, 0, sizeof(PgdtsRelationInfo));
	info->replident = rel->rd_rel->relreplident;
	info->desc = desc;
	desc = pgdts_sent_desc(rel, info);

	/*
	 * With REPLICA IDENTITY FULL the whole old row identifies it and no
	 * column is a key column; with NOTHING there is no key.
	 */
	if (info->replident == REPLICA_IDENTITY_DEFAULT ||
		info->replident == REPLICA_IDENTITY_INDEX)
	{
		idattrs = RelationGetIdentityKeyBitmap(rel);
	}

	info->columns = palloc0(sizeof(PgdtsColumn) * Max(desc->natts, 1));
	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, i);
		PgdtsColumn *col;

		if (attr->attisdropped || attr->attgenerated)
			continue;

		col = &info->columns[info->ncolumns++];
		col->attoff = i;
		col->kind = pgdts_value_kind(attr->atttypid);
		col->is_varlena = (attr->attlen == -1);
		col->is_key = bms_is_member(attr->attnum -
									FirstLowInvalidHeapAttributeNumber,
									idattrs);
		if (col->is_key)
			info->nkeys++;
		if (col->kind == PGDTS_VALUE_OUTPUT)
		{
			Oid			outfunc;
			bool		isvarlena;

			getTypeOutputInfo(attr->atttypid, &outfunc, &isvarlena);
			fmgr_info_cxt(outfunc, &col->output, CurrentMemoryContext);
		}
	}
	bms_free(idattrs);

	if (is_ddl_table)
	{
		info->ddl.id = pgdts_ddl_column(desc, "id", INT8OID);
		info->ddl.statement = pgdts_ddl_column(desc, "statement", TEXTOID);
		info->ddl.statement_exact = pgdts_ddl_column(desc, "statement_exact",
													 BOOLOID);
		info->ddl.toplevel = pgdts_ddl_column(desc, "toplevel", BOOLOID);
		info->ddl.search_path = pgdts_ddl_column(desc, "search_path", TEXTOID);
		info->ddl.role = pgdts_ddl_column(desc, "role", NAMEOID);
		info->ddl.session_role = pgdts_ddl_column(desc, "session_role",
												  NAMEOID);
		info->ddl.command_tag = pgdts_ddl_column(desc, "command_tag", TEXTOID);
		info->ddl.object_type = pgdts_ddl_column(desc, "object_type", TEXTOID);
		info->ddl.schema_name = pgdts_ddl_column(desc, "schema_name", TEXTOID);
		info->ddl.object_identities = pgdts_ddl_column(desc, "object_identities",
													   TEXTARRAYOID);
		/* tables of extension version 0.1 lack these: -1 */
		info->ddl.role_superuser = pgdts_ddl_column(desc, "role_superuser",
													BOOLOID);
		info->ddl.settings = pgdts_ddl_column(desc, "settings", TEXTARRAYOID);
		info->ddl.resolved_relations = pgdts_ddl_column(desc,
														"resolved_relations",
														TEXTARRAYOID);
		if (info->ddl.statement < 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table \"dts_ddl_command\" has no column \"statement\""),
					 errhint("Restore the table as the pgdts extension script creates it.")));
	}
}

/*
 * A varlena value whose bytes are sent as they are, detoasted when needed.
 * A value the reorder buffer reassembled from TOAST chunks arrives as an
 * indirect pointer to the reorder buffer's copy; unless compressed, that
 * copy is used in place rather than copied once more (it may be hundreds
 * of megabytes).
 */
static struct varlena *
pgdts_varlena(Datum datum)
{
	struct varlena *v = (struct varlena *) DatumGetPointer(datum);

	if (VARATT_IS_EXTERNAL_INDIRECT(v))
	{
		struct varatt_indirect redirect;

		VARATT_EXTERNAL_GET_POINTER(redirect, v);
		if (!VARATT_IS_EXTERNAL(redirect.pointer) &&
			!VARATT_IS_COMPRESSED(redirect.pointer))
			return redirect.pointer;
	}
	return pg_detoast_datum_packed(v);
}

/*
 * Encode one column value.  Variable-length values whose bytes are what is
 * sent (bytea, text-like types) are used in place where they can be, see
 * pgdts_varlena.
 */
static void
pgdts_encode_value(Pgdts__Value *value, PgdtsColumn *col, Datum datum,
				   bool isnull)
{
	pgdts__value__init(value);

	if (isnull)
	{
		value->kind_case = PGDTS__VALUE__KIND_IS_NULL;
		value->is_null = true;
		return;
	}

	/*
	 * A value stored out of line whose TOAST data is not part of the change:
	 * the row kept it unchanged, and decoding cannot see it.
	 */
	if (col->is_varlena && VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(datum)))
	{
		value->kind_case = PGDTS__VALUE__KIND_UNCHANGED_TOAST;
		value->unchanged_toast = true;
		return;
	}

	switch (col->kind)
	{
		case PGDTS_VALUE_INT2:
			value->kind_case = PGDTS__VALUE__KIND_INT_VALUE;
			value->int_value = DatumGetInt16(datum);
			break;
		case PGDTS_VALUE_INT4:
			value->kind_case = PGDTS__VALUE__KIND_INT_VALUE;
			value->int_value = DatumGetInt32(datum);
			break;
		case PGDTS_VALUE_INT8:
			value->kind_case = PGDTS__VALUE__KIND_INT_VALUE;
			value->int_value = DatumGetInt64(datum);
			break;
		case PGDTS_VALUE_FLOAT4:
			/* every float4, NaN and infinities included, widens exactly */
			value->kind_case = PGDTS__VALUE__KIND_FLOAT_VALUE;
			value->float_value = (double) DatumGetFloat4(datum);
			break;
		case PGDTS_VALUE_FLOAT8:
			value->kind_case = PGDTS__VALUE__KIND_FLOAT_VALUE;
			value->float_value = DatumGetFloat8(datum);
			break;
		case PGDTS_VALUE_BOOL:
			value->kind_case = PGDTS__VALUE__KIND_BOOL_VALUE;
			value->bool_value = DatumGetBool(datum);
			break;
		case PGDTS_VALUE_BYTEA:
		case PGDTS_VALUE_TEXTLIKE:
			{
				struct varlena *v;
				ProtobufCBinaryData *bin;

				v = pgdts_varlena(datum);
				if (col->kind == PGDTS_VALUE_BYTEA)
				{
					value->kind_case = PGDTS__VALUE__KIND_BINARY_VALUE;
					bin = &value->binary_value;
				}
				else
				{
					value->kind_case = PGDTS__VALUE__KIND_TEXT_VALUE;
					bin = &value->text_value;
				}
				bin->data = (uint8_t *) VARDATA_ANY(v);
				bin->len = VARSIZE_ANY_EXHDR(v);
			}
			break;
		case PGDTS_VALUE_OUTPUT:
			{
				char	   *str = OutputFunctionCall(&col->output, datum);

				value->kind_case = PGDTS__VALUE__KIND_TEXT_VALUE;
				value->text_value.data = (uint8_t *) str;
				value->text_value.len = strlen(str);
			}
			break;
	}
}

/*
 * Encode the deformed values of a row of a relation: every column sent, or
 * with keys_only just the replica identity key columns, in column order.
 */
static Pgdts__Tuple *
pgdts_encode_values(PgdtsRelationInfo *info, Datum *datums, bool *isnull,
					bool keys_only)
{
	Pgdts__Tuple *result = palloc(sizeof(Pgdts__Tuple));
	int			nvalues = keys_only ? info->nkeys : info->ncolumns;
	Pgdts__Value *values = palloc(sizeof(Pgdts__Value) * Max(nvalues, 1));
	Pgdts__Value **pointers = palloc(sizeof(Pgdts__Value *) * Max(nvalues, 1));
	int			n = 0;
	int			i;

	for (i = 0; i < info->ncolumns; i++)
	{
		PgdtsColumn *col = &info->columns[i];

		if (keys_only && !col->is_key)
			continue;
		Assert(n < nvalues);
		pgdts_encode_value(&values[n], col, datums[col->attoff],
						   isnull[col->attoff]);
		pointers[n] = &values[n];
		n++;
	}

	pgdts__tuple__init(result);
	result->n_values = n;
	result->values = pointers;
	return result;
}

/* Encode a tuple of a relation, see pgdts_encode_values. */
static Pgdts__Tuple *
pgdts_encode_tuple(PgdtsRelationInfo *info, TupleDesc desc, HeapTuple tuple,
				   bool keys_only)
{
	Datum	   *datums = palloc(sizeof(Datum) * Max(desc->natts, 1));
	bool	   *isnull = palloc(sizeof(bool) * Max(desc->natts, 1));

	heap_deform_tuple(tuple, desc, datums, isnull);
	return pgdts_encode_values(info, datums, isnull, keys_only);
}

/*
 * The old image of an UPDATE or DELETE: the whole old row under REPLICA
 * IDENTITY FULL, its key columns otherwise, nothing when PostgreSQL logged
 * no old row (the key did not change, or the table has no identity).
 */
static Pgdts__OldImage
pgdts_encode_old_image(PgdtsRelationInfo *info, TupleDesc desc,
					   HeapTuple oldtuple, Pgdts__Tuple **old)
{
	if (oldtuple == NULL)
	{
		*old = NULL;
		return PGDTS__OLD_IMAGE__OLD_IMAGE_NONE;
	}
	if (info->replident == REPLICA_IDENTITY_FULL)
	{
		*old = pgdts_encode_tuple(info, desc, oldtuple, false);
		return PGDTS__OLD_IMAGE__OLD_IMAGE_FULL;
	}
	*old = pgdts_encode_tuple(info, desc, oldtuple, true);
	return PGDTS__OLD_IMAGE__OLD_IMAGE_KEY;
}

/*
 * Pack a record at the end of out.  The record is sized first so that it
 * is packed in place, without an intermediate buffer.  rel, when given, is
 * named in the error raised for a record too large for one message.
 */
static void
pgdts_pack_record(StringInfo out, const Pgdts__Record *record, Relation rel)
{
	size_t		size = pgdts__record__get_packed_size(record);
	size_t		packed;

	if (size >= (size_t) (MaxAllocSize - out->len))
	{
		if (rel != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("change of relation \"%s.%s\" is too large to send",
							get_namespace_name(RelationGetNamespace(rel)),
							RelationGetRelationName(rel)),
					 errdetail("The encoded change takes %zu bytes; one message holds at most %zu bytes.",
							   size, (size_t) (MaxAllocSize - out->len - 1))));
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("pgdts record is too large to send"),
				 errdetail("The encoded record takes %zu bytes; one message holds at most %zu bytes.",
						   size, (size_t) (MaxAllocSize - out->len - 1))));
	}

	enlargeStringInfo(out, (int) size);
	packed = pgdts__record__pack(record, (uint8_t *) out->data + out->len);
	Assert(packed == size);
	out->len += (int) packed;
	out->data[out->len] = '\0';
}

void
pgdts_write_begin(StringInfo out, ReorderBufferTXN *txn)
{
	Pgdts__Record record = PGDTS__RECORD__INIT;
	Pgdts__Begin begin = PGDTS__BEGIN__INIT;

	begin.format_version = PGDTS_FORMAT_VERSION;
	begin.xid = txn->xid;
	begin.final_lsn = txn->final_lsn;
	begin.commit_time = txn->xact_time.commit_time + PGDTS_UNIX_EPOCH_OFFSET;
	begin.origin_id = txn->origin_id;

	record.kind_case = PGDTS__RECORD__KIND_BEGIN;
	record.begin = &begin;
	pgdts_pack_record(out, &record, NULL);
}

void
pgdts_write_commit(StringInfo out, ReorderBufferTXN *txn,
				   XLogRecPtr commit_lsn)
{
	Pgdts__Record record = PGDTS__RECORD__INIT;
	Pgdts__Commit commit = PGDTS__COMMIT__INIT;

	commit.xid = txn->xid;
	commit.commit_lsn = commit_lsn;
	commit.end_lsn = txn->end_lsn;
	commit.commit_time = txn->xact_time.commit_time + PGDTS_UNIX_EPOCH_OFFSET;

	record.kind_case = PGDTS__RECORD__KIND_COMMIT;
	record.commit = &commit;
	pgdts_pack_record(out, &record, NULL);
}

void
pgdts_write_relation(StringInfo out, Relation rel, PgdtsRelationInfo *info)
{
	Pgdts__Record record = PGDTS__RECORD__INIT;
	Pgdts__Relation relation = PGDTS__RELATION__INIT;
	TupleDesc	desc = pgdts_sent_desc(rel, info);
	Pgdts__Column *columns;
	Pgdts__Column **pointers;
	int			i;

	columns = palloc(sizeof(Pgdts__Column) * Max(info->ncolumns, 1));
	pointers = palloc(sizeof(Pgdts__Column *) * Max(info->ncolumns, 1));
	for (i = 0; i < info->ncolumns; i++)
	{
		PgdtsColumn *col = &info->columns[i];
		Form_pg_attribute attr = TupleDescAttr(desc, col->attoff);

		pgdts__column__init(&columns[i]);
		columns[i].name = pgdts_utf8(NameStr(attr->attname));
		columns[i].type_oid = attr->atttypid;
		columns[i].type_modifier = attr->atttypmod;
		columns[i].type_name = pgdts_utf8(pgdts_type_name(attr->atttypid,
														  attr->atttypmod));
		columns[i].is_key = col->is_key;
		pointers[i] = &columns[i];
	}

	relation.oid = RelationGetRelid(rel);
	relation.schema = pgdts_utf8(get_namespace_name(RelationGetNamespace(rel)));
	relation.name = pgdts_utf8(RelationGetRelationName(rel));
	relation.replica_identity = pgdts_replica_identity(info->replident);
	relation.n_columns = info->ncolumns;
	relation.columns = pointers;

	record.kind_case = PGDTS__RECORD__KIND_RELATION;
	record.relation = &relation;
	pgdts_pack_record(out, &record, rel);
}

void
pgdts_write_insert(StringInfo out, Relation rel, PgdtsRelationInfo *info,
				   HeapTuple newtuple)
{
	Pgdts__Record record = PGDTS__RECORD__INIT;
	Pgdts__Insert insert = PGDTS__INSERT__INIT;

	insert.relation_oid = RelationGetRelid(rel);
	insert.new_tuple = pgdts_encode_tuple(info, pgdts_sent_desc(rel, info),
										  newtuple, false);

	record.kind_case = PGDTS__RECORD__KIND_INSERT;
	record.insert = &insert;
	pgdts_pack_record(out, &record, rel);
}

/*
 * An INSERT of a row given as deformed values (a row filter's UPDATE that
 * brings a row into the filter, with unchanged TOASTed values taken from the
 * old row).
 */
void
pgdts_write_insert_values(StringInfo out, Relation rel,
						  PgdtsRelationInfo *info, Datum *values,
						  bool *isnull)
{
	Pgdts__Record record = PGDTS__RECORD__INIT;
	Pgdts__Insert insert = PGDTS__INSERT__INIT;

	insert.relation_oid = RelationGetRelid(rel);
	insert.new_tuple = pgdts_encode_values(info, values, isnull, false);

	record.kind_case = PGDTS__RECORD__KIND_INSERT;
	record.insert = &insert;
	pgdts_pack_record(out, &record, rel);
}

void
pgdts_write_update(StringInfo out, Relation rel, PgdtsRelationInfo *info,
				   HeapTuple oldtuple, HeapTuple newtuple)
{
	Pgdts__Record record = PGDTS__RECORD__INIT;
	Pgdts__Update update = PGDTS__UPDATE__INIT;
	TupleDesc	desc = pgdts_sent_desc(rel, info);

	update.relation_oid = RelationGetRelid(rel);
	update.old_image = pgdts_encode_old_image(info, desc, oldtuple,
											  &update.old_tuple);
	update.new_tuple = pgdts_encode_tuple(info, desc, newtuple, false);

	record.kind_case = PGDTS__RECORD__KIND_UPDATE;
	record.update = &update;
	pgdts_pack_record(out, &record, rel);
}

void
pgdts_write_delete(StringInfo out, Relation rel, PgdtsRelationInfo *info,
				   HeapTuple oldtuple)
{
	Pgdts__Record record = PGDTS__RECORD__INIT;
	Pgdts__Delete delete = PGDTS__DELETE__INIT;

	delete.relation_oid = RelationGetRelid(rel);
	delete.old_image = pgdts_encode_old_image(info,
											  pgdts_sent_desc(rel, info),
											  oldtuple, &delete.old_tuple);

	record.kind_case = PGDTS__RECORD__KIND_DELETE;
	record.delete_ = &delete;
	pgdts_pack_record(out, &record, rel);
}

void
pgdts_write_truncate(StringInfo out, int nrelids, const Oid *relids,
					 bool restart_identity, bool cascade)
{
	Pgdts__Record record = PGDTS__RECORD__INIT;
	Pgdts__Truncate trunc_rec = PGDTS__TRUNCATE__INIT;

	trunc_rec.n_relation_oids = nrelids;
	trunc_rec.relation_oids = (uint32_t *) relids;
	trunc_rec.restart_identity = restart_identity;
	trunc_rec.cascade = cascade;

	record.kind_case = PGDTS__RECORD__KIND_TRUNCATE;
	record.truncate = &trunc_rec;
	pgdts_pack_record(out, &record, NULL);
}

void
pgdts_write_message(StringInfo out, XLogRecPtr lsn, bool transactional,
					const char *prefix, Size size, const char *content)
{
	Pgdts__Record record = PGDTS__RECORD__INIT;
	Pgdts__Message message = PGDTS__MESSAGE__INIT;

	message.transactional = transactional;
	message.prefix = pgdts_utf8(prefix);
	message.content.data = (uint8_t *) content;
	message.content.len = size;
	message.lsn = lsn;

	record.kind_case = PGDTS__RECORD__KIND_MESSAGE;
	record.message = &message;
	pgdts_pack_record(out, &record, NULL);
}

/* A text column of a dts_ddl_command row as UTF-8; "" when NULL. */
static char *
pgdts_ddl_text(Datum *values, bool *isnull, int off)
{
	if (off < 0 || isnull[off])
		return "";
	return pgdts_utf8(TextDatumGetCString(values[off]));
}

/* A name column of a dts_ddl_command row as UTF-8; "" when NULL. */
static char *
pgdts_ddl_name(Datum *values, bool *isnull, int off)
{
	if (off < 0 || isnull[off])
		return "";
	return pgdts_utf8(NameStr(*DatumGetName(values[off])));
}

/* A boolean column of a dts_ddl_command row; false when NULL. */
static bool
pgdts_ddl_bool(Datum *values, bool *isnull, int off)
{
	if (off < 0 || isnull[off])
		return false;
	return DatumGetBool(values[off]);
}

/*
 * A text[] column of a dts_ddl_command row holding pairs ({{a,b},...}),
 * as UTF-8 strings: returns how many pairs, with the first and second
 * strings of each in *firsts and *seconds.  0 when NULL or missing; a pair
 * with a NULL is left out.
 */
static int
pgdts_ddl_pairs(Datum *values, bool *isnull, int off, char ***firsts,
				char ***seconds)
{
	ArrayType  *array;
	Datum	   *elems;
	bool	   *elemnulls;
	int			nelems;
	int			npairs = 0;
	int			i;

	*firsts = *seconds = NULL;
	if (off < 0 || isnull[off])
		return 0;

	array = DatumGetArrayTypeP(values[off]);
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &elemnulls, &nelems);
	*firsts = palloc(sizeof(char *) * Max(nelems / 2, 1));
	*seconds = palloc(sizeof(char *) * Max(nelems / 2, 1));
	for (i = 0; i + 1 < nelems; i += 2)
	{
		if (elemnulls[i] || elemnulls[i + 1])
			continue;
		(*firsts)[npairs] = pgdts_utf8(TextDatumGetCString(elems[i]));
		(*seconds)[npairs] = pgdts_utf8(TextDatumGetCString(elems[i + 1]));
		npairs++;
	}
	return npairs;
}

/*
 * Encode the row inserted into dts_ddl_command as a Ddl record.  A row that
 * does not say its statement is exact is sent as not exact, which stops
 * the applier: only the event triggers know.
 */
void
pgdts_write_ddl(StringInfo out, Relation rel, PgdtsRelationInfo *info,
				HeapTuple newtuple)
{
	Pgdts__Record record = PGDTS__RECORD__INIT;
	Pgdts__Ddl	ddl = PGDTS__DDL__INIT;
	TupleDesc	desc = RelationGetDescr(rel);
	Datum	   *values = palloc(sizeof(Datum) * desc->natts);
	bool	   *isnull = palloc(sizeof(bool) * desc->natts);
	PgdtsDdlColumns *cols = &info->ddl;
	char	  **firsts;
	char	  **seconds;
	int			npairs;
	int			i;

	heap_deform_tuple(newtuple, desc, values, isnull);

	if (!isnull[cols->statement])
	{
		struct varlena *v;

		v = pgdts_varlena(values[cols->statement]);
		ddl.statement.data = (uint8_t *) VARDATA_ANY(v);
		ddl.statement.len = VARSIZE_ANY_EXHDR(v);
	}
	ddl.statement_exact = pgdts_ddl_bool(values, isnull,
										 cols->statement_exact);
	ddl.toplevel = pgdts_ddl_bool(values, isnull, cols->toplevel);
	if (cols->id >= 0 && !isnull[cols->id])
		ddl.id = DatumGetInt64(values[cols->id]);
	ddl.search_path = pgdts_ddl_text(values, isnull, cols->search_path);
	ddl.command_tag = pgdts_ddl_text(values, isnull, cols->command_tag);
	ddl.object_type = pgdts_ddl_text(values, isnull, cols->object_type);
	ddl.schema = pgdts_ddl_text(values, isnull, cols->schema_name);
	ddl.role = pgdts_ddl_name(values, isnull, cols->role);
	ddl.session_role = pgdts_ddl_name(values, isnull, cols->session_role);

	if (cols->object_identities >= 0 && !isnull[cols->object_identities])
	{
		ArrayType  *array = DatumGetArrayTypeP(values[cols->object_identities]);
		Datum	   *elems;
		bool	   *elemnulls;
		int			nelems;

		deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT,
						  &elems, &elemnulls, &nelems);
		ddl.object_identities = palloc(sizeof(char *) * Max(nelems, 1));
		for (i = 0; i < nelems; i++)
		{
			if (elemnulls[i])
				continue;
			ddl.object_identities[ddl.n_object_identities++] =
				pgdts_utf8(TextDatumGetCString(elems[i]));
		}
	}

	ddl.role_superuser = pgdts_ddl_bool(values, isnull, cols->role_superuser);

	npairs = pgdts_ddl_pairs(values, isnull, cols->settings,
							 &firsts, &seconds);
	if (npairs > 0)
	{
		Pgdts__Setting *settings = palloc(sizeof(Pgdts__Setting) * npairs);

		ddl.settings = palloc(sizeof(Pgdts__Setting *) * npairs);
		for (i = 0; i < npairs; i++)
		{
			pgdts__setting__init(&settings[i]);
			settings[i].name = firsts[i];
			settings[i].value = seconds[i];
			ddl.settings[i] = &settings[i];
		}
		ddl.n_settings = npairs;
	}

	npairs = pgdts_ddl_pairs(values, isnull, cols->resolved_relations,
							 &firsts, &seconds);
	if (npairs > 0)
	{
		Pgdts__ResolvedName *resolved = palloc(sizeof(Pgdts__ResolvedName) * npairs);

		ddl.resolved = palloc(sizeof(Pgdts__ResolvedName *) * npairs);
		for (i = 0; i < npairs; i++)
		{
			pgdts__resolved_name__init(&resolved[i]);
			resolved[i].name = firsts[i];
			resolved[i].schema = seconds[i];
			ddl.resolved[i] = &resolved[i];
		}
		ddl.n_resolved = npairs;
	}

	record.kind_case = PGDTS__RECORD__KIND_DDL;
	record.ddl = &ddl;
	pgdts_pack_record(out, &record, rel);
}
