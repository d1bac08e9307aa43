/*-------------------------------------------------------------------------
 *
 * ddl_identity.h
 *		REPLICA IDENTITY FULL for tables that join a task without a key
 *
 * IDENTIFICATION
 *		plugin/ddl_identity.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGDTS_DDL_IDENTITY_H
#define PGDTS_DDL_IDENTITY_H

#include "commands/event_trigger.h"

extern void pgdts_keep_replica_identity_full(EventTriggerData *trigdata);

#endif							/* PGDTS_DDL_IDENTITY_H */
