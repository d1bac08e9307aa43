/*
 * Record batches: see record_batch.h.
 */
#include "postgres.h"

#include "record_batch.h"

#include "replication/logical.h"

/*
 * After a batch this large (a huge row) is sent, its buffer is given back
 * rather than kept for the rest of the session.
 */
#define PGDTS_BATCH_KEEP_BYTES (1024 * 1024)

static void
pgdts_batch_varint(StringInfo buf, uint64 value)
{
	while (value >= 0x80)
	{
		appendStringInfoCharMacro(buf, (char) ((value & 0x7f) | 0x80));
		value >>= 7;
	}
	appendStringInfoCharMacro(buf, (char) value);
}

void
pgdts_batch_init(PgdtsBatch *batch, MemoryContext context)
{
	MemoryContext oldcxt = MemoryContextSwitchTo(context);

	initStringInfo(&batch->buf);
	MemoryContextSwitchTo(oldcxt);
	batch->context = context;
	batch->last_lsn = InvalidXLogRecPtr;
	batch->length_at = -1;
}

/*
 * Starts a frame for a record at lsn and returns the buffer to write the
 * record into.  LSNs only grow inside a batch (records of one transaction in
 * decoding order), so the difference is never negative.
 */
StringInfo
pgdts_batch_open_record(PgdtsBatch *batch, XLogRecPtr lsn)
{
	static const char no_length[4] = {0, 0, 0, 0};

	Assert(batch->length_at < 0);
	if (lsn < batch->last_lsn)
		elog(ERROR, "pgdts: record at %X/%X follows one at %X/%X in a batch",
			 LSN_FORMAT_ARGS(lsn), LSN_FORMAT_ARGS(batch->last_lsn));
	pgdts_batch_varint(&batch->buf, lsn - batch->last_lsn);
	batch->last_lsn = lsn;
	batch->length_at = batch->buf.len;
	appendBinaryStringInfo(&batch->buf, no_length, sizeof(no_length));
	return &batch->buf;
}

void
pgdts_batch_close_record(PgdtsBatch *batch)
{
	uint32		length;
	unsigned char *at;

	Assert(batch->length_at >= 0);
	length = (uint32) (batch->buf.len - batch->length_at - 4);
	at = (unsigned char *) batch->buf.data + batch->length_at;
	at[0] = (unsigned char) length;
	at[1] = (unsigned char) (length >> 8);
	at[2] = (unsigned char) (length >> 16);
	at[3] = (unsigned char) (length >> 24);
	batch->length_at = -1;
}

bool
pgdts_batch_full(const PgdtsBatch *batch)
{
	return batch->buf.len >= PGDTS_BATCH_BYTES;
}

/* Sends what the batch holds as one message, and empties it. */
void
pgdts_batch_send(LogicalDecodingContext *ctx, PgdtsBatch *batch,
				 bool last_write)
{
	Assert(batch->length_at < 0);
	if (batch->buf.len == 0)
		return;
	OutputPluginPrepareWrite(ctx, last_write);
	appendBinaryStringInfo(ctx->out, batch->buf.data, batch->buf.len);
	OutputPluginWrite(ctx, last_write);

	if (batch->buf.maxlen > PGDTS_BATCH_KEEP_BYTES)
	{
		pfree(batch->buf.data);
		pgdts_batch_init(batch, batch->context);
	}
	else
	{
		resetStringInfo(&batch->buf);
		batch->last_lsn = InvalidXLogRecPtr;
	}
}
