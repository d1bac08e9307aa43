/*-------------------------------------------------------------------------
 *
 * ddl_rewrite.h
 *		Rows written again after ADD COLUMN with a volatile default
 *
 * IDENTIFICATION
 *		plugin/ddl_rewrite.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGDTS_DDL_REWRITE_H
#define PGDTS_DDL_REWRITE_H

#include "nodes/parsenodes.h"

extern void pgdts_rewrite_volatile_columns(AlterTableStmt *stmt);

#endif							/* PGDTS_DDL_REWRITE_H */
