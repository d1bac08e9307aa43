/*-------------------------------------------------------------------------
 *
 * encode.c
 *		Encoding of pgdts change records as protobuf messages
 *
 * This file decides how a change travels: which Value kind each column
 * uses, how tuples, relations and transactions become Record messages of
 * proto/pgdts.proto, and how a record is written into the output buffer.
 * The callbacks in pgdts.c decide what is sent.
 *
 * The records of every change (BEGIN, COMMIT, INSERT, UPDATE, DELETE) are
 * written in protobuf's wire format directly, from the decoded tuples'
 * values, with nothing allocated per value (see "The wire format of the
 * change records" below); the rare ones are built as protobuf-c messages
 * on the stack or in the caller's current memory context (the per-change
 * context, reset after each change) and packed.  Either way values are
 * read in place wherever they can be instead of copied.  The per-column
 * decisions that need catalog lookups (value kind, output function) are
 * taken once per relation definition by pgdts_relation_info_build, so that
 * encoding a change does none.
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
#include "utils/uuid.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

#include "encode.h"

/* Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01). */
#define PGDTS_UNIX_EPOCH_OFFSET \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

/* One column value of a row, ready to be written as a Value message. */
struct PgdtsWireValue
{
	uint8		key;			/* key of the oneof member it is sent as */
	uint64		scalar;			/* a varint member's value, a double's bits */
	const char *data;			/* a length-delimited member's bytes, or with
								 * uuid the 16 bytes of a uuid */
	bool		uuid;			/* data is written as uuid_out's text */
	size_t		len;			/* and their length */
	size_t		size;			/* of the Value message */
};

/* The values of a row, ready to be written as a Tuple message. */
typedef struct PgdtsWireTuple
{
	PgdtsWireValue *values;
	int			nvalues;
	size_t		size;			/* of the Tuple message */
} PgdtsWireTuple;

static char *pgdts_utf8(const char *str);
static PgdtsValueKind pgdts_value_kind(Oid typid);
static char *pgdts_type_name(Oid typid, int32 typmod);
static Pgdts__ReplicaIdentity pgdts_replica_identity(char replident);
static int	pgdts_ddl_column(TupleDesc desc, const char *name, Oid typid);
static struct varlena *pgdts_varlena(Datum datum);
static char *pgdts_ddl_text(Datum *values, bool *isnull, int off);
static char *pgdts_ddl_name(Datum *values, bool *isnull, int off);
static bool pgdts_ddl_bool(Datum *values, bool *isnull, int off);
static int	pgdts_ddl_pairs(Datum *values, bool *isnull, int off,
							char ***firsts, char ***seconds);
static void pgdts_check_record_size(StringInfo out, size_t size,
									Relation rel);
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
		case UUIDOID:
			return PGDTS_VALUE_UUID;
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

	info->maxatts = Max(desc->natts, 1);
	info->datums = palloc(sizeof(Datum) * info->maxatts);
	info->isnull = palloc(sizeof(bool) * info->maxatts);
	info->wire = palloc(sizeof(PgdtsWireValue) * 2 * Max(info->ncolumns, 1));

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
 * Raise an error unless a record of size bytes fits in out after what it
 * holds: one message of the replication protocol.  rel, when given, is
 * named in the error.
 */
static void
pgdts_check_record_size(StringInfo out, size_t size, Relation rel)
{
	if (size < (size_t) (MaxAllocSize - out->len))
		return;
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

/*
 * Pack a record built as a protobuf-c message at the end of out.  The
 * record is sized first so that it is packed in place, without an
 * intermediate buffer.  rel, when given, is named in the error raised for
 * a record too large for one message.
 */
static void
pgdts_pack_record(StringInfo out, const Pgdts__Record *record, Relation rel)
{
	size_t		size = pgdts__record__get_packed_size(record);
	size_t		packed;

	pgdts_check_record_size(out, size, rel);
	enlargeStringInfo(out, (int) size);
	packed = pgdts__record__pack(record, (uint8_t *) out->data + out->len);
	Assert(packed == size);
	out->len += (int) packed;
	out->data[out->len] = '\0';
}

/*
 * The wire format of the change records
 *
 * The records of every change (BEGIN, COMMIT, INSERT, UPDATE, DELETE) are
 * written here straight into the output buffer in protobuf's wire format,
 * not built as protobuf-c messages and packed: that would cost a
 * Pgdts__Value and a pointer per column, and two generic walks of the
 * message descriptors (sizing, then packing) per change.  The bytes are the
 * ones protobuf-c writes for the same message, so the format is unchanged:
 * fields in field number order, minimal varints, proto3 scalar fields left
 * out when zero, a oneof's member written whatever its value, a present
 * sub-message written even when empty.  The rare records (RELATION,
 * TRUNCATE, MESSAGE, DDL) go through protobuf-c (pgdts_pack_record).
 *
 * A length-delimited field's length comes before its bytes, so a row is
 * written in two passes over its columns: pgdts_wire_values finds each
 * value's bytes (detoasted, or from the output function) and its size, which
 * makes the Tuple's, the change's and the Record's sizes known; the record
 * is then written at once into space reserved with one enlargeStringInfo.
 * The per-column state lives in scratch arrays of the relation's
 * PgdtsRelationInfo, allocated when it is built.
 */

/* Wire types (the low three bits of a field's key) */
#define PGDTS_WIRE_VARINT	0
#define PGDTS_WIRE_FIXED64	1
#define PGDTS_WIRE_LEN		2

#define PGDTS_KEY(field, wiretype)	((uint8) (((field) << 3) | (wiretype)))

/*
 * Field numbers of proto/pgdts.proto.  Those of the oneofs Record.kind and
 * Value.kind are protobuf-c's PGDTS__RECORD__KIND_* and PGDTS__VALUE__KIND_*.
 */
#define PGDTS_BEGIN_FORMAT_VERSION	1
#define PGDTS_BEGIN_XID				2
#define PGDTS_BEGIN_FINAL_LSN		3
#define PGDTS_BEGIN_COMMIT_TIME		4
#define PGDTS_BEGIN_ORIGIN_ID		5
#define PGDTS_COMMIT_XID			1
#define PGDTS_COMMIT_COMMIT_LSN		2
#define PGDTS_COMMIT_END_LSN		3
#define PGDTS_COMMIT_COMMIT_TIME	4
#define PGDTS_TUPLE_VALUES			1
#define PGDTS_CHANGE_RELATION_OID	1	/* of Insert, Update and Delete */
#define PGDTS_INSERT_NEW_TUPLE		2
#define PGDTS_CHANGE_OLD_IMAGE		2	/* of Update and Delete */
#define PGDTS_CHANGE_OLD_TUPLE		3
#define PGDTS_UPDATE_NEW_TUPLE		4


/*
 * Each field the change records are written with, as encode.c knows it,
 * checked against the descriptors protobuf-c generated from the .proto
 * this library was built from (pgdts_check_wire_fields): a field renumbered
 * or retyped there, or one added to a message written here, would
 * otherwise be written wrongly or never.
 */
typedef struct PgdtsWireField
{
	const ProtobufCMessageDescriptor *message;
	const char *name;
	int			number;
	ProtobufCType type;
} PgdtsWireField;

#define PGDTS_WIRE_FIELD(message, field, number, type) \
	{&pgdts__##message##__descriptor, #field, number, PROTOBUF_C_TYPE_##type}

static const PgdtsWireField pgdts_wire_fields[] = {
	PGDTS_WIRE_FIELD(record, begin, PGDTS__RECORD__KIND_BEGIN, MESSAGE),
	PGDTS_WIRE_FIELD(record, commit, PGDTS__RECORD__KIND_COMMIT, MESSAGE),
	PGDTS_WIRE_FIELD(record, insert, PGDTS__RECORD__KIND_INSERT, MESSAGE),
	PGDTS_WIRE_FIELD(record, update, PGDTS__RECORD__KIND_UPDATE, MESSAGE),
	PGDTS_WIRE_FIELD(record, delete, PGDTS__RECORD__KIND_DELETE, MESSAGE),
	PGDTS_WIRE_FIELD(begin, format_version, PGDTS_BEGIN_FORMAT_VERSION, UINT32),
	PGDTS_WIRE_FIELD(begin, xid, PGDTS_BEGIN_XID, UINT32),
	PGDTS_WIRE_FIELD(begin, final_lsn, PGDTS_BEGIN_FINAL_LSN, UINT64),
	PGDTS_WIRE_FIELD(begin, commit_time, PGDTS_BEGIN_COMMIT_TIME, INT64),
	PGDTS_WIRE_FIELD(begin, origin_id, PGDTS_BEGIN_ORIGIN_ID, UINT32),
	PGDTS_WIRE_FIELD(commit, xid, PGDTS_COMMIT_XID, UINT32),
	PGDTS_WIRE_FIELD(commit, commit_lsn, PGDTS_COMMIT_COMMIT_LSN, UINT64),
	PGDTS_WIRE_FIELD(commit, end_lsn, PGDTS_COMMIT_END_LSN, UINT64),
	PGDTS_WIRE_FIELD(commit, commit_time, PGDTS_COMMIT_COMMIT_TIME, INT64),
	PGDTS_WIRE_FIELD(tuple, values, PGDTS_TUPLE_VALUES, MESSAGE),
	PGDTS_WIRE_FIELD(value, is_null, PGDTS__VALUE__KIND_IS_NULL, BOOL),
	PGDTS_WIRE_FIELD(value, unchanged_toast, PGDTS__VALUE__KIND_UNCHANGED_TOAST, BOOL),
	PGDTS_WIRE_FIELD(value, int_value, PGDTS__VALUE__KIND_INT_VALUE, SINT64),
	PGDTS_WIRE_FIELD(value, float_value, PGDTS__VALUE__KIND_FLOAT_VALUE, DOUBLE),
	PGDTS_WIRE_FIELD(value, bool_value, PGDTS__VALUE__KIND_BOOL_VALUE, BOOL),
	PGDTS_WIRE_FIELD(value, binary_value, PGDTS__VALUE__KIND_BINARY_VALUE, BYTES),
	PGDTS_WIRE_FIELD(value, text_value, PGDTS__VALUE__KIND_TEXT_VALUE, BYTES),
	PGDTS_WIRE_FIELD(insert, relation_oid, PGDTS_CHANGE_RELATION_OID, UINT32),
	PGDTS_WIRE_FIELD(insert, new_tuple, PGDTS_INSERT_NEW_TUPLE, MESSAGE),
	PGDTS_WIRE_FIELD(update, relation_oid, PGDTS_CHANGE_RELATION_OID, UINT32),
	PGDTS_WIRE_FIELD(update, old_image, PGDTS_CHANGE_OLD_IMAGE, ENUM),
	PGDTS_WIRE_FIELD(update, old_tuple, PGDTS_CHANGE_OLD_TUPLE, MESSAGE),
	PGDTS_WIRE_FIELD(update, new_tuple, PGDTS_UPDATE_NEW_TUPLE, MESSAGE),
	PGDTS_WIRE_FIELD(delete, relation_oid, PGDTS_CHANGE_RELATION_OID, UINT32),
	PGDTS_WIRE_FIELD(delete, old_image, PGDTS_CHANGE_OLD_IMAGE, ENUM),
	PGDTS_WIRE_FIELD(delete, old_tuple, PGDTS_CHANGE_OLD_TUPLE, MESSAGE),
};

/*
 * Check pgdts_wire_fields against the generated descriptors, once per
 * process: every field as listed, and no field more in the messages written
 * here whole (all but Record, whose other kinds protobuf-c packs).  A
 * mismatch is a build made from an edited .proto without editing this
 * file.
 */
void
pgdts_check_wire_fields(void)
{
	static bool checked = false;
	int			i;

	if (checked)
		return;
	for (i = 0; i < lengthof(pgdts_wire_fields); i++)
	{
		const PgdtsWireField *wf = &pgdts_wire_fields[i];
		const ProtobufCFieldDescriptor *field;
		int			nlisted = 0;
		int			j;

		field = protobuf_c_message_descriptor_get_field_by_name(wf->message,
																wf->name);
		if (field == NULL || (int) field->id != wf->number ||
			field->type != wf->type)
			elog(ERROR, "field %s.%s of proto/pgdts.proto is not the one plugin/encode.c writes",
				 wf->message->name, wf->name);
		if (wf->message == &pgdts__record__descriptor)
			continue;
		for (j = 0; j < lengthof(pgdts_wire_fields); j++)
			if (pgdts_wire_fields[j].message == wf->message)
				nlisted++;
		if ((int) wf->message->n_fields != nlisted)
			elog(ERROR, "message %s of proto/pgdts.proto has fields plugin/encode.c does not write",
				 wf->message->name);
	}
	checked = true;
}

/* Bytes of the varint of v. */
static inline size_t
pgdts_varint_size(uint64 v)
{
	size_t		n = 1;

	while (v >= 0x80)
	{
		v >>= 7;
		n++;
	}
	return n;
}

static inline char *
pgdts_put_varint(char *p, uint64 v)
{
	while (v >= 0x80)
	{
		*p++ = (char) (v | 0x80);
		v >>= 7;
	}
	*p++ = (char) v;
	return p;
}

/* Bytes of a varint field holding v; 0 when v is 0 (proto3 leaves it out). */
static inline size_t
pgdts_scalar_field_size(uint64 v)
{
	return v == 0 ? 0 : 1 + pgdts_varint_size(v);
}

static inline char *
pgdts_put_scalar_field(char *p, int field, uint64 v)
{
	if (v == 0)
		return p;
	*p++ = (char) PGDTS_KEY(field, PGDTS_WIRE_VARINT);
	return pgdts_put_varint(p, v);
}

/* Bytes of a length-delimited field of size bytes. */
static inline size_t
pgdts_len_field_size(size_t size)
{
	return 1 + pgdts_varint_size(size) + size;
}

/* A sint64's varint (zigzag: small magnitudes take few bytes). */
static inline uint64
pgdts_zigzag(int64 v)
{
	return ((uint64) v << 1) ^ (uint64) (v >> 63);
}

/* Length of a uuid's text: 32 hexadecimal digits and 4 hyphens. */
#define PGDTS_UUID_TEXT_LEN	36

/*
 * Write the text of a uuid as uuid_out does (lower-case digits, grouped
 * 8-4-4-4-12), without its palloc and function call per value.
 */
static char *
pgdts_put_uuid(char *p, const uint8 *uuid)
{
	static const char hex[] = "0123456789abcdef";
	int			i;

	for (i = 0; i < UUID_LEN; i++)
	{
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[uuid[i] >> 4];
		*p++ = hex[uuid[i] & 0x0F];
	}
	return p;
}

/*
 * Reserve room at the end of out for a Record whose oneof member kind (one
 * of PGDTS__RECORD__KIND_*) is a message of body bytes, write the Record's
 * own header, and return where the body goes; out->len already counts the
 * whole record.  rel, when given, is named in the error raised for a
 * record too large for one message.
 */
static char *
pgdts_reserve_record(StringInfo out, int kind, size_t body, Relation rel)
{
	size_t		size = pgdts_len_field_size(body);
	char	   *p;

	pgdts_check_record_size(out, size, rel);
	enlargeStringInfo(out, (int) size);
	p = out->data + out->len;
	out->len += (int) size;
	out->data[out->len] = '\0';

	*p++ = (char) PGDTS_KEY(kind, PGDTS_WIRE_LEN);
	return pgdts_put_varint(p, body);
}

/*
 * Find how one column value travels and its size as a Value message.
 * Variable-length values whose bytes are what is sent (bytea, text-like
 * types) are used in place where they can be, see pgdts_varlena.
 */
static void
pgdts_wire_value(PgdtsWireValue *wv, PgdtsColumn *col, Datum datum,
				 bool isnull)
{
	wv->data = NULL;
	wv->uuid = false;
	wv->scalar = 1;

	if (isnull)
	{
		wv->key = PGDTS_KEY(PGDTS__VALUE__KIND_IS_NULL, PGDTS_WIRE_VARINT);
		wv->size = 2;
		return;
	}

	/*
	 * A value stored out of line whose TOAST data is not part of the change:
	 * the row kept it unchanged, and decoding cannot see it.
	 */
	if (col->is_varlena && VARATT_IS_EXTERNAL_ONDISK(DatumGetPointer(datum)))
	{
		wv->key = PGDTS_KEY(PGDTS__VALUE__KIND_UNCHANGED_TOAST,
							PGDTS_WIRE_VARINT);
		wv->size = 2;
		return;
	}

	switch (col->kind)
	{
		case PGDTS_VALUE_INT2:
			wv->scalar = pgdts_zigzag(DatumGetInt16(datum));
			break;
		case PGDTS_VALUE_INT4:
			wv->scalar = pgdts_zigzag(DatumGetInt32(datum));
			break;
		case PGDTS_VALUE_INT8:
			wv->scalar = pgdts_zigzag(DatumGetInt64(datum));
			break;
		case PGDTS_VALUE_FLOAT4:
		case PGDTS_VALUE_FLOAT8:
			{
				/* float4, infinities included, widens exactly */
				double		d = col->kind == PGDTS_VALUE_FLOAT4 ?
				(double) DatumGetFloat4(datum) : DatumGetFloat8(datum);

				memcpy(&wv->scalar, &d, sizeof(d));
				wv->key = PGDTS_KEY(PGDTS__VALUE__KIND_FLOAT_VALUE,
									PGDTS_WIRE_FIXED64);
				wv->size = 9;
			}
			return;
		case PGDTS_VALUE_BOOL:
			wv->key = PGDTS_KEY(PGDTS__VALUE__KIND_BOOL_VALUE,
								PGDTS_WIRE_VARINT);
			wv->scalar = DatumGetBool(datum) ? 1 : 0;
			wv->size = 2;
			return;
		case PGDTS_VALUE_BYTEA:
		case PGDTS_VALUE_TEXTLIKE:
			{
				struct varlena *v = pgdts_varlena(datum);

				wv->key = PGDTS_KEY(col->kind == PGDTS_VALUE_BYTEA ?
									PGDTS__VALUE__KIND_BINARY_VALUE :
									PGDTS__VALUE__KIND_TEXT_VALUE,
									PGDTS_WIRE_LEN);
				wv->data = VARDATA_ANY(v);
				wv->len = VARSIZE_ANY_EXHDR(v);
				wv->size = pgdts_len_field_size(wv->len);
			}
			return;
		case PGDTS_VALUE_UUID:
			wv->key = PGDTS_KEY(PGDTS__VALUE__KIND_TEXT_VALUE, PGDTS_WIRE_LEN);
			wv->data = (const char *) DatumGetUUIDP(datum)->data;
			wv->uuid = true;
			wv->len = PGDTS_UUID_TEXT_LEN;
			wv->size = pgdts_len_field_size(wv->len);
			return;
		case PGDTS_VALUE_OUTPUT:
			wv->key = PGDTS_KEY(PGDTS__VALUE__KIND_TEXT_VALUE, PGDTS_WIRE_LEN);
			wv->data = OutputFunctionCall(&col->output, datum);
			wv->len = strlen(wv->data);
			wv->size = pgdts_len_field_size(wv->len);
			return;
	}

	/* the integers */
	wv->key = PGDTS_KEY(PGDTS__VALUE__KIND_INT_VALUE, PGDTS_WIRE_VARINT);
	wv->size = 1 + pgdts_varint_size(wv->scalar);
}

/*
 * Prepare the deformed values of a row of a relation: every column sent,
 * or with keys_only just the replica identity key columns, in column order,
 * into wt, whose values array has room for every column.
 */
static void
pgdts_wire_values(PgdtsRelationInfo *info, Datum *datums, bool *isnull,
				  bool keys_only, PgdtsWireTuple *wt)
{
	int			i;

	wt->nvalues = 0;
	wt->size = 0;
	for (i = 0; i < info->ncolumns; i++)
	{
		PgdtsColumn *col = &info->columns[i];
		PgdtsWireValue *wv = &wt->values[wt->nvalues];

		if (keys_only && !col->is_key)
			continue;
		pgdts_wire_value(wv, col, datums[col->attoff], isnull[col->attoff]);
		wt->size += pgdts_len_field_size(wv->size);
		wt->nvalues++;
	}
}

/*
 * Prepare a tuple of a relation, see pgdts_wire_values.  The tuple is
 * deformed into the relation's scratch arrays when they are large enough
 * (the descriptor is read at each change and could have grown).
 */
static void
pgdts_wire_tuple(PgdtsRelationInfo *info, TupleDesc desc, HeapTuple tuple,
				 bool keys_only, PgdtsWireTuple *wt)
{
	Datum	   *datums = info->datums;
	bool	   *isnull = info->isnull;

	if (desc->natts > info->maxatts)
	{
		datums = palloc(sizeof(Datum) * desc->natts);
		isnull = palloc(sizeof(bool) * desc->natts);
	}
	heap_deform_tuple(tuple, desc, datums, isnull);
	pgdts_wire_values(info, datums, isnull, keys_only, wt);
}

/*
 * Prepare the old image of an UPDATE or DELETE: the whole old row under
 * REPLICA IDENTITY FULL, its key columns otherwise, nothing when
 * PostgreSQL logged no old row (the key did not change, or the table has
 * no identity).
 */
static Pgdts__OldImage
pgdts_wire_old_image(PgdtsRelationInfo *info, TupleDesc desc,
					 HeapTuple oldtuple, PgdtsWireTuple *wt)
{
	wt->values = info->wire;
	wt->nvalues = 0;
	wt->size = 0;
	if (oldtuple == NULL)
		return PGDTS__OLD_IMAGE__OLD_IMAGE_NONE;
	if (info->replident == REPLICA_IDENTITY_FULL)
	{
		pgdts_wire_tuple(info, desc, oldtuple, false, wt);
		return PGDTS__OLD_IMAGE__OLD_IMAGE_FULL;
	}
	pgdts_wire_tuple(info, desc, oldtuple, true, wt);
	return PGDTS__OLD_IMAGE__OLD_IMAGE_KEY;
}

/* Write a prepared row as the Tuple message in field "field". */
static char *
pgdts_put_tuple(char *p, int field, const PgdtsWireTuple *wt)
{
	int			i;

	*p++ = (char) PGDTS_KEY(field, PGDTS_WIRE_LEN);
	p = pgdts_put_varint(p, wt->size);
	for (i = 0; i < wt->nvalues; i++)
	{
		const PgdtsWireValue *wv = &wt->values[i];

		*p++ = (char) PGDTS_KEY(PGDTS_TUPLE_VALUES, PGDTS_WIRE_LEN);
		p = pgdts_put_varint(p, wv->size);
		*p++ = (char) wv->key;
		switch (wv->key & 7)
		{
			case PGDTS_WIRE_VARINT:
				p = pgdts_put_varint(p, wv->scalar);
				break;
			case PGDTS_WIRE_FIXED64:
				{
					int			b;

					/* little-endian, as protobuf's fixed64 */
					for (b = 0; b < 8; b++)
						*p++ = (char) (wv->scalar >> (8 * b));
				}
				break;
			default:
				p = pgdts_put_varint(p, wv->len);
				if (wv->uuid)
					p = pgdts_put_uuid(p, (const uint8 *) wv->data);
				else
				{
					memcpy(p, wv->data, wv->len);
					p += wv->len;
				}
				break;
		}
	}
	return p;
}

void
pgdts_write_begin(StringInfo out, ReorderBufferTXN *txn)
{
	uint64		commit_time = (uint64) (txn->xact_time.commit_time +
										PGDTS_UNIX_EPOCH_OFFSET);
	size_t		body;
	char	   *p;

	body = pgdts_scalar_field_size(PGDTS_FORMAT_VERSION) +
		pgdts_scalar_field_size(txn->xid) +
		pgdts_scalar_field_size(txn->final_lsn) +
		pgdts_scalar_field_size(commit_time) +
		pgdts_scalar_field_size(txn->origin_id);
	p = pgdts_reserve_record(out, PGDTS__RECORD__KIND_BEGIN, body, NULL);
	p = pgdts_put_scalar_field(p, PGDTS_BEGIN_FORMAT_VERSION,
							   PGDTS_FORMAT_VERSION);
	p = pgdts_put_scalar_field(p, PGDTS_BEGIN_XID, txn->xid);
	p = pgdts_put_scalar_field(p, PGDTS_BEGIN_FINAL_LSN, txn->final_lsn);
	p = pgdts_put_scalar_field(p, PGDTS_BEGIN_COMMIT_TIME, commit_time);
	p = pgdts_put_scalar_field(p, PGDTS_BEGIN_ORIGIN_ID, txn->origin_id);
	Assert(p == out->data + out->len);
}

void
pgdts_write_commit(StringInfo out, ReorderBufferTXN *txn,
				   XLogRecPtr commit_lsn)
{
	uint64		commit_time = (uint64) (txn->xact_time.commit_time +
										PGDTS_UNIX_EPOCH_OFFSET);
	size_t		body;
	char	   *p;

	body = pgdts_scalar_field_size(txn->xid) +
		pgdts_scalar_field_size(commit_lsn) +
		pgdts_scalar_field_size(txn->end_lsn) +
		pgdts_scalar_field_size(commit_time);
	p = pgdts_reserve_record(out, PGDTS__RECORD__KIND_COMMIT, body, NULL);
	p = pgdts_put_scalar_field(p, PGDTS_COMMIT_XID, txn->xid);
	p = pgdts_put_scalar_field(p, PGDTS_COMMIT_COMMIT_LSN, commit_lsn);
	p = pgdts_put_scalar_field(p, PGDTS_COMMIT_END_LSN, txn->end_lsn);
	p = pgdts_put_scalar_field(p, PGDTS_COMMIT_COMMIT_TIME, commit_time);
	Assert(p == out->data + out->len);
}

/* Write an INSERT of a prepared row. */
static void
pgdts_put_insert(StringInfo out, Relation rel, const PgdtsWireTuple *new)
{
	Oid			relid = RelationGetRelid(rel);
	char	   *p;

	p = pgdts_reserve_record(out, PGDTS__RECORD__KIND_INSERT,
							 pgdts_scalar_field_size(relid) +
							 pgdts_len_field_size(new->size),
							 rel);
	p = pgdts_put_scalar_field(p, PGDTS_CHANGE_RELATION_OID, relid);
	p = pgdts_put_tuple(p, PGDTS_INSERT_NEW_TUPLE, new);
	Assert(p == out->data + out->len);
}

void
pgdts_write_insert(StringInfo out, Relation rel, PgdtsRelationInfo *info,
				   HeapTuple newtuple)
{
	PgdtsWireTuple new = {.values = info->wire + info->ncolumns};

	pgdts_wire_tuple(info, pgdts_sent_desc(rel, info), newtuple, false, &new);
	pgdts_put_insert(out, rel, &new);
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
	PgdtsWireTuple new = {.values = info->wire + info->ncolumns};

	pgdts_wire_values(info, values, isnull, false, &new);
	pgdts_put_insert(out, rel, &new);
}

void
pgdts_write_update(StringInfo out, Relation rel, PgdtsRelationInfo *info,
				   HeapTuple oldtuple, HeapTuple newtuple)
{
	TupleDesc	desc = pgdts_sent_desc(rel, info);
	Oid			relid = RelationGetRelid(rel);
	PgdtsWireTuple old;
	PgdtsWireTuple new = {.values = info->wire + info->ncolumns};
	Pgdts__OldImage image;
	size_t		body;
	char	   *p;

	image = pgdts_wire_old_image(info, desc, oldtuple, &old);
	pgdts_wire_tuple(info, desc, newtuple, false, &new);

	body = pgdts_scalar_field_size(relid) +
		pgdts_scalar_field_size(image) +
		(oldtuple != NULL ? pgdts_len_field_size(old.size) : 0) +
		pgdts_len_field_size(new.size);
	p = pgdts_reserve_record(out, PGDTS__RECORD__KIND_UPDATE, body, rel);
	p = pgdts_put_scalar_field(p, PGDTS_CHANGE_RELATION_OID, relid);
	p = pgdts_put_scalar_field(p, PGDTS_CHANGE_OLD_IMAGE, image);
	if (oldtuple != NULL)
		p = pgdts_put_tuple(p, PGDTS_CHANGE_OLD_TUPLE, &old);
	p = pgdts_put_tuple(p, PGDTS_UPDATE_NEW_TUPLE, &new);
	Assert(p == out->data + out->len);
}

void
pgdts_write_delete(StringInfo out, Relation rel, PgdtsRelationInfo *info,
				   HeapTuple oldtuple)
{
	Oid			relid = RelationGetRelid(rel);
	PgdtsWireTuple old;
	Pgdts__OldImage image;
	size_t		body;
	char	   *p;

	image = pgdts_wire_old_image(info, pgdts_sent_desc(rel, info), oldtuple,
								 &old);

	body = pgdts_scalar_field_size(relid) +
		pgdts_scalar_field_size(image) +
		(oldtuple != NULL ? pgdts_len_field_size(old.size) : 0);
	p = pgdts_reserve_record(out, PGDTS__RECORD__KIND_DELETE, body, rel);
	p = pgdts_put_scalar_field(p, PGDTS_CHANGE_RELATION_OID, relid);
	p = pgdts_put_scalar_field(p, PGDTS_CHANGE_OLD_IMAGE, image);
	if (oldtuple != NULL)
		p = pgdts_put_tuple(p, PGDTS_CHANGE_OLD_TUPLE, &old);
	Assert(p == out->data + out->len);
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
