/*-------------------------------------------------------------------------
 *
 * ddl_objects.h
 *		The objects a DDL command touched, as event triggers tell them
 *
 * IDENTIFICATION
 *		plugin/ddl_objects.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGDTS_DDL_OBJECTS_H
#define PGDTS_DDL_OBJECTS_H

#include "commands/event_trigger.h"
#include "nodes/pg_list.h"

/* The event a command is recorded at */
typedef enum PgdtsEvent
{
	PGDTS_AT_START,				/* ddl_command_start: commands that write rows
								 * (CREATE TABLE AS and the like) */
	PGDTS_AT_SQL_DROP,			/* sql_drop: commands that dropped objects */
	PGDTS_AT_END				/* ddl_command_end: all others */
} PgdtsEvent;

/* What a command touched, and the main object of its row. */
typedef struct PgdtsObjects
{
	List	   *identities;		/* distinct object identities, in order */
	char	   *object_type;	/* of the main object */
	char	   *schema_name;
	int			main_rank;		/* how good a main object it is */
	int			nreplayable;	/* objects neither temporary nor pgdts' own */
} PgdtsObjects;

extern bool pgdts_read_objects(EventTriggerData *trigdata, PgdtsEvent event,
							   PgdtsObjects *objects);

#endif							/* PGDTS_DDL_OBJECTS_H */
