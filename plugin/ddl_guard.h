/*-------------------------------------------------------------------------
 *
 * ddl_guard.h
 *		Catalog reads of the DDL capture that must not fail the user's
 *		command
 *
 * IDENTIFICATION
 *		plugin/ddl_guard.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGDTS_DDL_GUARD_H
#define PGDTS_DDL_GUARD_H

typedef void (*PgdtsGuardedRead) (void *arg);

extern bool pgdts_guarded_read(PgdtsGuardedRead read, void *arg,
							   const char *what, const char *tag,
							   const char *hint);

#endif							/* PGDTS_DDL_GUARD_H */
