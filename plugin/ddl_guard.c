/*-------------------------------------------------------------------------
 *
 * ddl_guard.c
 *		Catalog reads of the DDL capture that must not fail the user's
 *		command
 *
 * What the capture reads about a command (the objects it touched, how its
 * names resolved) is read in a subtransaction, which takes no
 * subtransaction id as long as it writes nothing: a failure there, a bug of
 * pgdts or of a function it calls, becomes a WARNING and the row goes
 * without what could not be read.  A cancel request still cancels.
 *
 * IDENTIFICATION
 *		plugin/ddl_guard.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/resowner.h"

#include "ddl_guard.h"

/*
 * Run read(arg) in a subtransaction.  Returns whether it succeeded; if not,
 * the session gets a WARNING "pgdts could not read <what> of this <tag>
 * command" with the error as its detail and hint as its hint.  What read
 * allocates in the current memory context stays.
 */
bool
pgdts_guarded_read(PgdtsGuardedRead read, void *arg, const char *what,
				   const char *tag, const char *hint)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool done = true;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);

	PG_TRY();
	{
		read(arg);

		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();

		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;

		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
			ReThrowError(edata);

		ereport(WARNING,
				(errmsg("pgdts could not read %s of this %s command",
						what, tag),
				 errdetail("%s", edata->message),
				 errhint("%s", hint)));
		FreeErrorData(edata);
		done = false;
	}
	PG_END_TRY();

	return done;
}
