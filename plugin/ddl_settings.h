/*-------------------------------------------------------------------------
 *
 * ddl_settings.h
 *		Settings that change how a DDL command's text parses
 *
 * IDENTIFICATION
 *		plugin/ddl_settings.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGDTS_DDL_SETTINGS_H
#define PGDTS_DDL_SETTINGS_H

#include "nodes/pg_list.h"

extern List *pgdts_parse_settings(void);

#endif							/* PGDTS_DDL_SETTINGS_H */
