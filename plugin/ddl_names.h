/*-------------------------------------------------------------------------
 *
 * ddl_names.h
 *		How the source resolved the unqualified relation names of a command
 *
 * IDENTIFICATION
 *		plugin/ddl_names.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGDTS_DDL_NAMES_H
#define PGDTS_DDL_NAMES_H

#include "nodes/pg_list.h"
#include "nodes/nodes.h"

/* A relation name written without a schema, and the schema it meant */
typedef struct PgdtsResolvedName
{
	char	   *name;
	char	   *schema;			/* "pg_temp" for the session's temporary
								 * schema */
} PgdtsResolvedName;

extern List *pgdts_resolve_names(Node *parsetree);

#endif							/* PGDTS_DDL_NAMES_H */
