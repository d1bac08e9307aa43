/*-------------------------------------------------------------------------
 *
 * ddl_record.h
 *		The row of a DDL command in pgdts.dts_ddl_command
 *
 * IDENTIFICATION
 *		plugin/ddl_record.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGDTS_DDL_RECORD_H
#define PGDTS_DDL_RECORD_H

#include "ddl_objects.h"

/* What a row says about a command */
typedef struct PgdtsDdlRow
{
	const char *tag;			/* command tag */
	const char *statement;		/* exact text; NULL: unknown */
	bool		toplevel;
	PgdtsObjects *objects;		/* NULL: could not be read */
	List	   *settings;		/* names and values, alternating */
	bool		names_known;	/* resolved could be read */
	List	   *resolved;		/* PgdtsResolvedName */
} PgdtsDdlRow;

extern void pgdts_insert_row(const PgdtsDdlRow *row);

#endif							/* PGDTS_DDL_RECORD_H */
