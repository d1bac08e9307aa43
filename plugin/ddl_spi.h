/*-------------------------------------------------------------------------
 *
 * ddl_spi.h
 *		SPI plans the DDL capture keeps for the session
 *
 * IDENTIFICATION
 *		plugin/ddl_spi.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef PGDTS_DDL_SPI_H
#define PGDTS_DDL_SPI_H

#include "executor/spi.h"

/* Prepare query into *plan once per session. */
static inline SPIPlanPtr
pgdts_keep_plan(SPIPlanPtr *plan, const char *query, int nargs,
				Oid *argtypes)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	new_plan = SPI_prepare(query, nargs, argtypes);

		if (new_plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s",
				 query, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(new_plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*plan = new_plan;
	}
	return *plan;
}

#endif							/* PGDTS_DDL_SPI_H */
