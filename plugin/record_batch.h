/*
 * Several records in one message of the replication protocol.
 *
 * Every message the walsender sends costs a CopyData header (30 bytes) and,
 * when the reader keeps up, a send() of its own: the kernel's send path was
 * most of the walsender's CPU per change.  When the applier asks for it
 * (option "batch"), the records of a transaction travel together, in one
 * message per transaction or per PGDTS_BATCH_BYTES, each framed as
 *
 *	varint	lsn - lsn of the frame before (the first frame: lsn itself)
 *	fixed32	length of the record, little-endian
 *	bytes	the record (a pgdts.Record, as unbatched)
 *
 * so each record keeps the LSN the walsender's header would have given it
 * (docs/protocol.md, "Batches").  SQL peeks ask for nothing and keep one
 * record per row.
 */
#ifndef PGDTS_RECORD_BATCH_H
#define PGDTS_RECORD_BATCH_H

#include "postgres.h"

#include "access/xlogdefs.h"
#include "lib/stringinfo.h"
#include "replication/logical.h"

/* A batch is sent once it holds this much, even inside a transaction. */
#define PGDTS_BATCH_BYTES (64 * 1024)

typedef struct PgdtsBatch
{
	StringInfoData buf;			/* frames not yet sent */
	XLogRecPtr	last_lsn;		/* of the last frame in buf; 0 when empty */
	int			length_at;		/* offset of the open frame's length */
	MemoryContext context;		/* where buf lives */
} PgdtsBatch;

extern void pgdts_batch_init(PgdtsBatch *batch, MemoryContext context);
extern StringInfo pgdts_batch_open_record(PgdtsBatch *batch, XLogRecPtr lsn);
extern void pgdts_batch_close_record(PgdtsBatch *batch);
extern bool pgdts_batch_full(const PgdtsBatch *batch);
extern void pgdts_batch_send(LogicalDecodingContext *ctx, PgdtsBatch *batch,
							 bool last_write);

#endif
