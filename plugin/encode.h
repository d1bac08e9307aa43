/*-------------------------------------------------------------------------
 *
 * encode.h
 *		Encoding of pgdts change records as protobuf messages
 *
 * The output plugin callbacks (pgdts.c) decide what to send; the functions
 * declared here decide how: they turn transactions, relations and tuples
 * into Record messages of proto/pgdts.proto written into the output
 * buffer.  Everything they allocate lives in the caller's current memory
 * context, which the caller resets after each change.
 *
 * IDENTIFICATION
 *		plugin/encode.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGDTS_ENCODE_H
#define PGDTS_ENCODE_H

#include "access/htup.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "replication/reorderbuffer.h"
#include "utils/relcache.h"

#include "pgdts.pb-c.h"

/* The one format version this plugin speaks, taken from the contract. */
#define PGDTS_FORMAT_VERSION	PGDTS__FORMAT_VERSION__FORMAT_VERSION

/* Prefix of the logical messages that are sent downstream. */
#define PGDTS_MESSAGE_PREFIX	"pgdts"

/*
 * A tuple as the reorder buffer hands it over; PostgreSQL 17 passes a plain
 * HeapTuple where older releases wrap it in a ReorderBufferTupleBuf.
 */
#if PG_VERSION_NUM >= 170000
#define PGDTS_CHANGE_TUPLE(buf) (buf)
#else
#define PGDTS_CHANGE_TUPLE(buf) ((buf) ? &(buf)->tuple : NULL)
#endif

/* How the values of one column travel (see message Value). */
typedef enum PgdtsValueKind
{
	PGDTS_VALUE_INT2,			/* int_value */
	PGDTS_VALUE_INT4,			/* int_value */
	PGDTS_VALUE_INT8,			/* int_value */
	PGDTS_VALUE_FLOAT4,			/* float_value, widened */
	PGDTS_VALUE_FLOAT8,			/* float_value */
	PGDTS_VALUE_BOOL,			/* bool_value */
	PGDTS_VALUE_BYTEA,			/* binary_value, raw bytes */
	PGDTS_VALUE_TEXTLIKE,		/* text_value: the varlena's bytes, which is
								 * exactly what textout/bpcharout would say */
	PGDTS_VALUE_UUID,			/* text_value, written as uuid_out writes it */
	PGDTS_VALUE_OUTPUT			/* text_value from the type output function */
} PgdtsValueKind;

/* One column that is sent, with what encoding its values needs. */
typedef struct PgdtsColumn
{
	int			attoff;			/* offset in the relation's tuple descriptor */
	PgdtsValueKind kind;
	bool		is_key;			/* part of the replica identity key */
	bool		is_varlena;		/* typlen == -1: may be TOASTed */
	FmgrInfo	output;			/* for PGDTS_VALUE_OUTPUT only */
} PgdtsColumn;

/*
 * Where the fields of a Ddl record are found in a row of dts_ddl_command:
 * attribute offsets, or -1 when the column does not exist.
 */
typedef struct PgdtsDdlColumns
{
	int			id;
	int			statement;
	int			statement_exact;
	int			toplevel;
	int			search_path;
	int			role;
	int			session_role;
	int			command_tag;
	int			object_type;
	int			schema_name;
	int			object_identities;
	int			role_superuser; /* extension version 0.2 on */
	int			settings;
	int			resolved_relations;
} PgdtsDdlColumns;

/* A column value ready to be written (encode.c). */
typedef struct PgdtsWireValue PgdtsWireValue;

/*
 * What encoding a relation's tuples needs, computed once per relation
 * definition so that the per-change path does no catalog lookups, and the
 * scratch space that encoding a change of the relation uses, so that it
 * allocates nothing per change.
 */
typedef struct PgdtsRelationInfo
{
	char		replident;		/* pg_class.relreplident */
	TupleDesc	desc;			/* of the rows sent when column expressions
								 * add columns after the relation's own
								 * (transform.c); NULL: the relation's */
	int			ncolumns;		/* non-dropped columns, in attnum order */
	int			nkeys;			/* how many of them are key columns */
	PgdtsColumn *columns;
	PgdtsDdlColumns ddl;		/* valid for dts_ddl_command only */
	int			maxatts;		/* room in datums and isnull */
	Datum	   *datums;			/* a row deformed */
	bool	   *isnull;
	PgdtsWireValue *wire;		/* 2 * ncolumns: an old row's, then a new
								 * row's values */
} PgdtsRelationInfo;

extern void pgdts_relation_info_build(Relation rel, TupleDesc desc,
									  bool is_ddl_table,
									  PgdtsRelationInfo *info);

extern TupleDesc pgdts_sent_desc(Relation rel, PgdtsRelationInfo *info);
extern void pgdts_check_wire_fields(void);

extern void pgdts_write_begin(StringInfo out, ReorderBufferTXN *txn);
extern void pgdts_write_commit(StringInfo out, ReorderBufferTXN *txn,
							   XLogRecPtr commit_lsn);
extern void pgdts_write_relation(StringInfo out, Relation rel,
								 PgdtsRelationInfo *info);
extern void pgdts_write_insert(StringInfo out, Relation rel,
							   PgdtsRelationInfo *info,
							   HeapTuple newtuple);
extern void pgdts_write_insert_values(StringInfo out, Relation rel,
									  PgdtsRelationInfo *info,
									  Datum *values, bool *isnull);
extern void pgdts_write_update(StringInfo out, Relation rel,
							   PgdtsRelationInfo *info,
							   HeapTuple oldtuple, HeapTuple newtuple);
extern void pgdts_write_delete(StringInfo out, Relation rel,
							   PgdtsRelationInfo *info,
							   HeapTuple oldtuple);
extern void pgdts_write_truncate(StringInfo out, int nrelids, const Oid *relids,
								 bool restart_identity, bool cascade);
extern void pgdts_write_message(StringInfo out, XLogRecPtr lsn,
								bool transactional, const char *prefix,
								Size size, const char *content);
extern void pgdts_write_ddl(StringInfo out, Relation rel,
							PgdtsRelationInfo *info, HeapTuple newtuple);

#endif							/* PGDTS_ENCODE_H */
