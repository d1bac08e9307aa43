/*-------------------------------------------------------------------------
 *
 * inspect.c
 *		pgdts.record_json(): a pgdts change record rendered as JSON
 *
 * For DBAs reading a slot with pg_logical_slot_peek_binary_changes(), and
 * for the regression tests.  Each value shows its kind: {"int": 5},
 * {"float": "NaN"}, {"text": "..."}, {"bytes": "\\x00ff"}, {"bool": true},
 * null, "unchanged-toast".
 *
 * With stable = true, what changes from run to run (transaction ids, LSNs,
 * commit times, oids of objects that are not built in, ids of captured DDL
 * commands) prints as "*", so that regression output is deterministic.
 *
 * IDENTIFICATION
 *		plugin/inspect.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/transam.h"
#include "common/shortest_dec.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

#include "pgdts.pb-c.h"

PG_FUNCTION_INFO_V1(pgdts_record_json);

/* Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01). */
#define PGDTS_UNIX_EPOCH_OFFSET \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY)

static void *pgdts_protobuf_alloc(void *allocator_data, size_t size);
static void pgdts_protobuf_free(void *allocator_data, void *pointer);

/* protobuf-c allocates the unpacked record in the current memory context */
static ProtobufCAllocator pgdts_allocator = {
	pgdts_protobuf_alloc,
	pgdts_protobuf_free,
	NULL
};

static void json_key(StringInfo buf, const char *key, bool first);
static void json_string(StringInfo buf, const char *str);
static void json_utf8(StringInfo buf, const char *str);
static void json_utf8_key(StringInfo buf, const char *key, bool first);
static void json_hex(StringInfo buf, const ProtobufCBinaryData *bin);
static bool is_valid_text(const ProtobufCBinaryData *bin);
static void json_text_or_bytes(StringInfo buf, const ProtobufCBinaryData *bin);
static void json_volatile_uint(StringInfo buf, uint64 value, bool stable);
static void json_oid(StringInfo buf, Oid oid, bool stable);
static void json_lsn(StringInfo buf, uint64 lsn, bool stable);
static void json_time(StringInfo buf, int64 unix_usec, bool stable);
static void json_value(StringInfo buf, const Pgdts__Value *value);
static void json_tuple(StringInfo buf, const Pgdts__Tuple *tuple);
static const char *old_image_name(Pgdts__OldImage image);
static const char *replica_identity_name(Pgdts__ReplicaIdentity ident);
static void json_record(StringInfo buf, const Pgdts__Record *record,
						bool stable);

static void *
pgdts_protobuf_alloc(void *allocator_data, size_t size)
{
	return palloc_extended(size, MCXT_ALLOC_HUGE);
}

static void
pgdts_protobuf_free(void *allocator_data, void *pointer)
{
	if (pointer != NULL)
		pfree(pointer);
}

static void
json_key(StringInfo buf, const char *key, bool first)
{
	if (!first)
		appendStringInfoString(buf, ", ");
	escape_json(buf, key);
	appendStringInfoString(buf, ": ");
}

static void
json_string(StringInfo buf, const char *str)
{
	escape_json(buf, str ? str : "");
}

/*
 * A protobuf string field (UTF-8) as a JSON string.  protobuf-c does not
 * check UTF-8: the conversion does, and refuses bytes that are not.
 */
static void
json_utf8(StringInfo buf, const char *str)
{
	if (str == NULL)
		str = "";
	json_string(buf, pg_any_to_server(str, strlen(str), PG_UTF8));
}

/*
 * A protobuf string field as a JSON key, checked like json_utf8: taken as
 * is, a key that is not UTF-8 put bytes into the text result that are not
 * of the database encoding (found by test/integration/test_fuzz_plugin.py).
 */
static void
json_utf8_key(StringInfo buf, const char *key, bool first)
{
	if (key == NULL)
		key = "";
	json_key(buf, pg_any_to_server(key, strlen(key), PG_UTF8), first);
}

/* Bytes as a JSON string in bytea's hex format: "\\x00ff". */
static void
json_hex(StringInfo buf, const ProtobufCBinaryData *bin)
{
	static const char hex[] = "0123456789abcdef";
	size_t		i;

	appendStringInfoString(buf, "\"\\\\x");
	for (i = 0; i < bin->len; i++)
	{
		appendStringInfoChar(buf, hex[bin->data[i] >> 4]);
		appendStringInfoChar(buf, hex[bin->data[i] & 0x0f]);
	}
	appendStringInfoChar(buf, '"');
}

/* Can these bytes be shown as text of the database encoding? */
static bool
is_valid_text(const ProtobufCBinaryData *bin)
{
	if (bin->len > 0 && memchr(bin->data, '\0', bin->len) != NULL)
		return false;
	return pg_verifymbstr((const char *) bin->data, (int) bin->len, true);
}

/* {"text": "..."} when the bytes are text, {"bytes": "\\x..."} otherwise. */
static void
json_text_or_bytes(StringInfo buf, const ProtobufCBinaryData *bin)
{
	if (is_valid_text(bin))
	{
		appendStringInfoString(buf, "{\"text\": ");
		json_string(buf, pnstrdup((const char *) bin->data, bin->len));
	}
	else
	{
		appendStringInfoString(buf, "{\"bytes\": ");
		json_hex(buf, bin);
	}
	appendStringInfoChar(buf, '}');
}

static void
json_volatile_uint(StringInfo buf, uint64 value, bool stable)
{
	if (stable)
		appendStringInfoString(buf, "\"*\"");
	else
		appendStringInfo(buf, UINT64_FORMAT, value);
}

/* Oids of built-in objects are the same everywhere; others are not. */
static void
json_oid(StringInfo buf, Oid oid, bool stable)
{
	if (stable && oid >= FirstNormalObjectId)
		appendStringInfoString(buf, "\"*\"");
	else
		appendStringInfo(buf, "%u", oid);
}

static void
json_lsn(StringInfo buf, uint64 lsn, bool stable)
{
	if (stable)
		appendStringInfoString(buf, "\"*\"");
	else
		appendStringInfo(buf, "\"%X/%X\"", (uint32) (lsn >> 32), (uint32) lsn);
}

static void
json_time(StringInfo buf, int64 unix_usec, bool stable)
{
	if (stable)
		appendStringInfoString(buf, "\"*\"");
	else
		json_string(buf,
					timestamptz_to_str(unix_usec - PGDTS_UNIX_EPOCH_OFFSET));
}

static void
json_value(StringInfo buf, const Pgdts__Value *value)
{
	switch (value->kind_case)
	{
		case PGDTS__VALUE__KIND_IS_NULL:
			appendStringInfoString(buf, "null");
			break;
		case PGDTS__VALUE__KIND_UNCHANGED_TOAST:
			appendStringInfoString(buf, "\"unchanged-toast\"");
			break;
		case PGDTS__VALUE__KIND_INT_VALUE:
			appendStringInfo(buf, "{\"int\": " INT64_FORMAT "}",
							 (int64) value->int_value);
			break;
		case PGDTS__VALUE__KIND_FLOAT_VALUE:
			appendStringInfoString(buf, "{\"float\": ");
			if (isnan(value->float_value))
				appendStringInfoString(buf, "\"NaN\"");
			else if (isinf(value->float_value))
				appendStringInfoString(buf, value->float_value > 0 ?
									   "\"Infinity\"" : "\"-Infinity\"");
			else
			{
				char		num[DOUBLE_SHORTEST_DECIMAL_LEN];

				/* shortest exact form; "-0" and "1e+100" are JSON numbers */
				double_to_shortest_decimal_buf(value->float_value, num);
				appendStringInfoString(buf, num);
			}
			appendStringInfoChar(buf, '}');
			break;
		case PGDTS__VALUE__KIND_BOOL_VALUE:
			appendStringInfo(buf, "{\"bool\": %s}",
							 value->bool_value ? "true" : "false");
			break;
		case PGDTS__VALUE__KIND_BINARY_VALUE:
			appendStringInfoString(buf, "{\"bytes\": ");
			json_hex(buf, &value->binary_value);
			appendStringInfoChar(buf, '}');
			break;
		case PGDTS__VALUE__KIND_TEXT_VALUE:
			if (is_valid_text(&value->text_value))
			{
				appendStringInfoString(buf, "{\"text\": ");
				json_string(buf, pnstrdup((const char *) value->text_value.data,
										  value->text_value.len));
			}
			else
			{
				/* not text of this database's encoding: show the bytes */
				appendStringInfoString(buf, "{\"text_bytes\": ");
				json_hex(buf, &value->text_value);
			}
			appendStringInfoChar(buf, '}');
			break;
		default:
			/* a kind this version does not know */
			appendStringInfoString(buf, "{}");
			break;
	}
}

static void
json_tuple(StringInfo buf, const Pgdts__Tuple *tuple)
{
	size_t		i;

	if (tuple == NULL)
	{
		appendStringInfoString(buf, "null");
		return;
	}
	appendStringInfoChar(buf, '[');
	for (i = 0; i < tuple->n_values; i++)
	{
		if (i > 0)
			appendStringInfoString(buf, ", ");
		json_value(buf, tuple->values[i]);
	}
	appendStringInfoChar(buf, ']');
}

static const char *
old_image_name(Pgdts__OldImage image)
{
	switch (image)
	{
		case PGDTS__OLD_IMAGE__OLD_IMAGE_NONE:
			return "none";
		case PGDTS__OLD_IMAGE__OLD_IMAGE_KEY:
			return "key";
		case PGDTS__OLD_IMAGE__OLD_IMAGE_FULL:
			return "full";
		default:
			return "unknown";
	}
}

static const char *
replica_identity_name(Pgdts__ReplicaIdentity ident)
{
	switch (ident)
	{
		case PGDTS__REPLICA_IDENTITY__REPLICA_IDENTITY_DEFAULT:
			return "default";
		case PGDTS__REPLICA_IDENTITY__REPLICA_IDENTITY_NOTHING:
			return "nothing";
		case PGDTS__REPLICA_IDENTITY__REPLICA_IDENTITY_FULL:
			return "full";
		case PGDTS__REPLICA_IDENTITY__REPLICA_IDENTITY_INDEX:
			return "index";
		default:
			return "unknown";
	}
}

static void
json_record(StringInfo buf, const Pgdts__Record *record, bool stable)
{
	size_t		i;

	switch (record->kind_case)
	{
		case PGDTS__RECORD__KIND_BEGIN:
			{
				const Pgdts__Begin *m = record->begin;

				appendStringInfoString(buf, "{\"begin\": {");
				json_key(buf, "format_version", true);
				appendStringInfo(buf, "%u", m->format_version);
				json_key(buf, "xid", false);
				json_volatile_uint(buf, m->xid, stable);
				json_key(buf, "final_lsn", false);
				json_lsn(buf, m->final_lsn, stable);
				json_key(buf, "commit_time", false);
				json_time(buf, m->commit_time, stable);
				json_key(buf, "origin_id", false);
				appendStringInfo(buf, "%u", m->origin_id);
				appendStringInfoString(buf, "}}");
			}
			break;

		case PGDTS__RECORD__KIND_COMMIT:
			{
				const Pgdts__Commit *m = record->commit;

				appendStringInfoString(buf, "{\"commit\": {");
				json_key(buf, "xid", true);
				json_volatile_uint(buf, m->xid, stable);
				json_key(buf, "commit_lsn", false);
				json_lsn(buf, m->commit_lsn, stable);
				json_key(buf, "end_lsn", false);
				json_lsn(buf, m->end_lsn, stable);
				json_key(buf, "commit_time", false);
				json_time(buf, m->commit_time, stable);
				appendStringInfoString(buf, "}}");
			}
			break;

		case PGDTS__RECORD__KIND_RELATION:
			{
				const Pgdts__Relation *m = record->relation;

				appendStringInfoString(buf, "{\"relation\": {");
				json_key(buf, "oid", true);
				json_oid(buf, m->oid, stable);
				json_key(buf, "schema", false);
				json_utf8(buf, m->schema);
				json_key(buf, "name", false);
				json_utf8(buf, m->name);
				json_key(buf, "replica_identity", false);
				json_string(buf, replica_identity_name(m->replica_identity));
				json_key(buf, "columns", false);
				appendStringInfoChar(buf, '[');
				for (i = 0; i < m->n_columns; i++)
				{
					const Pgdts__Column *c = m->columns[i];

					if (i > 0)
						appendStringInfoString(buf, ", ");
					appendStringInfoChar(buf, '{');
					json_key(buf, "name", true);
					json_utf8(buf, c->name);
					json_key(buf, "type_oid", false);
					json_oid(buf, c->type_oid, stable);
					json_key(buf, "type_modifier", false);
					appendStringInfo(buf, "%d", c->type_modifier);
					json_key(buf, "type_name", false);
					json_utf8(buf, c->type_name);
					json_key(buf, "is_key", false);
					appendStringInfoString(buf, c->is_key ? "true" : "false");
					appendStringInfoChar(buf, '}');
				}
				appendStringInfoString(buf, "]}}");
			}
			break;

		case PGDTS__RECORD__KIND_INSERT:
			appendStringInfoString(buf, "{\"insert\": {");
			json_key(buf, "relation_oid", true);
			json_oid(buf, record->insert->relation_oid, stable);
			json_key(buf, "new_tuple", false);
			json_tuple(buf, record->insert->new_tuple);
			appendStringInfoString(buf, "}}");
			break;

		case PGDTS__RECORD__KIND_UPDATE:
			appendStringInfoString(buf, "{\"update\": {");
			json_key(buf, "relation_oid", true);
			json_oid(buf, record->update->relation_oid, stable);
			json_key(buf, "old_image", false);
			json_string(buf, old_image_name(record->update->old_image));
			if (record->update->old_tuple != NULL)
			{
				json_key(buf, "old_tuple", false);
				json_tuple(buf, record->update->old_tuple);
			}
			json_key(buf, "new_tuple", false);
			json_tuple(buf, record->update->new_tuple);
			appendStringInfoString(buf, "}}");
			break;

		case PGDTS__RECORD__KIND_DELETE:
			appendStringInfoString(buf, "{\"delete\": {");
			json_key(buf, "relation_oid", true);
			json_oid(buf, record->delete_->relation_oid, stable);
			json_key(buf, "old_image", false);
			json_string(buf, old_image_name(record->delete_->old_image));
			if (record->delete_->old_tuple != NULL)
			{
				json_key(buf, "old_tuple", false);
				json_tuple(buf, record->delete_->old_tuple);
			}
			appendStringInfoString(buf, "}}");
			break;

		case PGDTS__RECORD__KIND_TRUNCATE:
			{
				const Pgdts__Truncate *m = record->truncate;

				appendStringInfoString(buf, "{\"truncate\": {");
				json_key(buf, "relation_oids", true);
				appendStringInfoChar(buf, '[');
				for (i = 0; i < m->n_relation_oids; i++)
				{
					if (i > 0)
						appendStringInfoString(buf, ", ");
					json_oid(buf, m->relation_oids[i], stable);
				}
				appendStringInfoChar(buf, ']');
				json_key(buf, "restart_identity", false);
				appendStringInfoString(buf, m->restart_identity ? "true" : "false");
				json_key(buf, "cascade", false);
				appendStringInfoString(buf, m->cascade ? "true" : "false");
				appendStringInfoString(buf, "}}");
			}
			break;

		case PGDTS__RECORD__KIND_MESSAGE:
			{
				const Pgdts__Message *m = record->message;

				appendStringInfoString(buf, "{\"message\": {");
				json_key(buf, "transactional", true);
				appendStringInfoString(buf, m->transactional ? "true" : "false");
				json_key(buf, "prefix", false);
				json_utf8(buf, m->prefix);
				json_key(buf, "content", false);
				json_text_or_bytes(buf, &m->content);
				json_key(buf, "lsn", false);
				json_lsn(buf, m->lsn, stable);
				appendStringInfoString(buf, "}}");
			}
			break;

		case PGDTS__RECORD__KIND_DDL:
			{
				const Pgdts__Ddl *m = record->ddl;

				appendStringInfoString(buf, "{\"ddl\": {");
				json_key(buf, "id", true);
				json_volatile_uint(buf, (uint64) m->id, stable);
				json_key(buf, "statement", false);
				json_text_or_bytes(buf, &m->statement);
				json_key(buf, "statement_exact", false);
				appendStringInfoString(buf, m->statement_exact ? "true" : "false");
				json_key(buf, "toplevel", false);
				appendStringInfoString(buf, m->toplevel ? "true" : "false");
				json_key(buf, "search_path", false);
				json_utf8(buf, m->search_path);
				json_key(buf, "role", false);
				json_utf8(buf, m->role);
				json_key(buf, "session_role", false);
				json_utf8(buf, m->session_role);
				json_key(buf, "command_tag", false);
				json_utf8(buf, m->command_tag);
				json_key(buf, "object_identities", false);
				appendStringInfoChar(buf, '[');
				for (i = 0; i < m->n_object_identities; i++)
				{
					if (i > 0)
						appendStringInfoString(buf, ", ");
					json_utf8(buf, m->object_identities[i]);
				}
				appendStringInfoChar(buf, ']');
				json_key(buf, "object_type", false);
				json_utf8(buf, m->object_type);
				json_key(buf, "schema", false);
				json_utf8(buf, m->schema);
				json_key(buf, "role_superuser", false);
				appendStringInfoString(buf, m->role_superuser ? "true" : "false");
				json_key(buf, "settings", false);
				appendStringInfoChar(buf, '{');
				for (i = 0; i < m->n_settings; i++)
				{
					json_utf8_key(buf, m->settings[i]->name, i == 0);
					json_utf8(buf, m->settings[i]->value);
				}
				appendStringInfoChar(buf, '}');
				json_key(buf, "resolved", false);
				appendStringInfoChar(buf, '[');
				for (i = 0; i < m->n_resolved; i++)
				{
					if (i > 0)
						appendStringInfoString(buf, ", ");
					appendStringInfoChar(buf, '{');
					json_key(buf, "name", true);
					json_utf8(buf, m->resolved[i]->name);
					json_key(buf, "schema", false);
					json_utf8(buf, m->resolved[i]->schema);
					appendStringInfoChar(buf, '}');
				}
				appendStringInfoChar(buf, ']');
				appendStringInfoString(buf, "}}");
			}
			break;

		default:
			/* a record kind this version does not know */
			appendStringInfoString(buf, "{\"unknown\": {}}");
			break;
	}
}

/*
 * pgdts.record_json(data bytea, stable boolean DEFAULT false) RETURNS text
 */
Datum
pgdts_record_json(PG_FUNCTION_ARGS)
{
	bytea	   *data = PG_GETARG_BYTEA_PP(0);
	bool		stable = PG_GETARG_BOOL(1);
	Pgdts__Record *record;
	StringInfoData buf;

	record = pgdts__record__unpack(&pgdts_allocator, VARSIZE_ANY_EXHDR(data),
								   (const uint8_t *) VARDATA_ANY(data));
	if (record == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_BINARY_REPRESENTATION),
				 errmsg("invalid pgdts change record"),
				 errdetail("The %zu bytes given do not decode as a pgdts Record message.",
						   (size_t) VARSIZE_ANY_EXHDR(data))));

	initStringInfo(&buf);
	json_record(&buf, record, stable);

	PG_RETURN_TEXT_P(cstring_to_text_with_len(buf.data, buf.len));
}
