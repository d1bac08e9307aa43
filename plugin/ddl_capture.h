/*-------------------------------------------------------------------------
 *
 * ddl_capture.h
 *		Capture of DDL commands into pgdts.dts_ddl_command
 *
 * The event trigger functions of the extension live in ddl_capture.c; the
 * module's _PG_init (pgdts.c) installs the ProcessUtility hook they rely
 * on.  The output plugin sends the rows they insert as Ddl records.
 *
 * IDENTIFICATION
 *		plugin/ddl_capture.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGDTS_DDL_CAPTURE_H
#define PGDTS_DDL_CAPTURE_H

/* The extension, its schema (fixed: the extension is not relocatable) */
#define PGDTS_EXTENSION_NAME	"pgdts"
#define PGDTS_SCHEMA_NAME		"pgdts"

/* The table the event triggers insert DDL commands into */
#define PGDTS_DDL_TABLE			"dts_ddl_command"

/* Name prefix of the replication slots of pgdts tasks */
#define PGDTS_SLOT_PREFIX		"dts_sync_"

extern void pgdts_ddl_capture_init(void);

#endif							/* PGDTS_DDL_CAPTURE_H */
