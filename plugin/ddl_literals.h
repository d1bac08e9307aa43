/*-------------------------------------------------------------------------
 *
 * ddl_literals.h
 *		A captured statement's text as it reads with
 *		standard_conforming_strings = on
 *
 * IDENTIFICATION
 *		plugin/ddl_literals.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGDTS_DDL_LITERALS_H
#define PGDTS_DDL_LITERALS_H

#include "nodes/nodes.h"

extern char *pgdts_conforming_text(const char *text, Node *parsetree,
								   const char **unknown_detail);

#endif							/* PGDTS_DDL_LITERALS_H */
