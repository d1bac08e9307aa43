/*-------------------------------------------------------------------------
 *
 * ddl_names.c
 *		How the source resolved the unqualified relation names of a command
 *
 * A replayed statement must act on the objects the source's statement
 * acted on.  Its unqualified relation names were resolved through the
 * session's search_path, and the destination's search_path (or its set of
 * schemas) is not the source's: with search_path = a, b, where schema a is
 * not synced and b has a table of its own named base,
 *
 *		CREATE TABLE base (...); CREATE INDEX ON base (...);
 *
 * creates a.base and indexes it on the source, and would index b.base on
 * the destination.  So for every relation name written without a schema,
 * the schema the source resolved it to is recorded with the command:
 *
 * - a relation the command creates: its creation namespace
 *   (RangeVarGetCreationNamespace);
 * - any other relation: RangeVarGetRelid with missing_ok, at
 *   ddl_command_start, before the command runs (a RENAME or DROP has not
 *   removed the name yet); a name not found then that is the name of the
 *   relation being created (a self-referencing foreign key) is that one.
 *
 * The raw parse trees of the statement kinds the applier replays are walked
 * explicitly, one function per kind: CREATE TABLE (with PARTITION OF,
 * INHERITS, LIKE, REFERENCES in column and table constraints, identity
 * sequence names), CREATE FOREIGN TABLE, CREATE TABLE AS / SELECT INTO /
 * CREATE MATERIALIZED VIEW and CREATE VIEW (the new relation), ALTER TABLE,
 * ALTER INDEX and the like (the relation; ADD COLUMN and ADD CONSTRAINT
 * ... REFERENCES; ATTACH/DETACH PARTITION; INHERIT/NO INHERIT), ALTER ...
 * SET SCHEMA, CREATE INDEX (the table), RENAME of a relation or of its
 * column, constraint, trigger, policy or rule, CREATE/ALTER SEQUENCE (with
 * OWNED BY) and DROP of tables, indexes, sequences, views and materialized
 * views and foreign tables.  Relations named inside queries (a view's
 * SELECT, a CREATE TABLE AS query) are not.
 *
 * The same name may resolve to two schemas in one command (CREATE TABLE
 * base (LIKE base)); it is then listed twice, once with each.
 *
 * IDENTIFICATION
 *		plugin/ddl_names.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "utils/lsyscache.h"

#include "ddl_names.h"

/* What a walk found so far */
typedef struct PgdtsNameWalk
{
	List	   *resolved;		/* PgdtsResolvedName, each pair once */
	const char *created_name;	/* the relation the command creates */
	Oid			created_namespace;
	Oid			table_namespace;	/* of the table the command is about:
									 * where unqualified identity sequence
									 * names go */
} PgdtsNameWalk;

static void pgdts_add_resolved(PgdtsNameWalk *walk, const char *name,
							   const char *schema);
static void pgdts_add_resolved_namespace(PgdtsNameWalk *walk,
										 const char *name, Oid namespace);
static Oid	pgdts_resolve_existing(PgdtsNameWalk *walk, const RangeVar *rv);
static Oid	pgdts_resolve_created(PgdtsNameWalk *walk, const RangeVar *rv);
static void pgdts_walk_column(PgdtsNameWalk *walk, ColumnDef *column);
static void pgdts_walk_constraint(PgdtsNameWalk *walk, Constraint *constraint);
static void pgdts_walk_sequence_options(PgdtsNameWalk *walk, List *options);
static void pgdts_walk_create(PgdtsNameWalk *walk, CreateStmt *stmt);
static void pgdts_walk_create_as(PgdtsNameWalk *walk, CreateTableAsStmt *stmt);
static void pgdts_walk_alter_table(PgdtsNameWalk *walk, AlterTableStmt *stmt);
static void pgdts_walk_alter_table_cmd(PgdtsNameWalk *walk,
									   AlterTableCmd *cmd);
static void pgdts_walk_create_sequence(PgdtsNameWalk *walk,
									   CreateSeqStmt *stmt);
static void pgdts_walk_alter_sequence(PgdtsNameWalk *walk, AlterSeqStmt *stmt);
static void pgdts_walk_drop(PgdtsNameWalk *walk, DropStmt *stmt);

/*
 * The unqualified relation names of a command and the schemas the source
 * resolves them to, as a list of PgdtsResolvedName.  parsetree is the
 * command's raw parse tree at ddl_command_start.  Commands of other kinds
 * have none listed.
 */
List *
pgdts_resolve_names(Node *parsetree)
{
	PgdtsNameWalk walk;

	memset(&walk, 0, sizeof(walk));

	switch (nodeTag(parsetree))
	{
		case T_CreateStmt:
			pgdts_walk_create(&walk, (CreateStmt *) parsetree);
			break;
		case T_CreateForeignTableStmt:
			pgdts_walk_create(&walk, &((CreateForeignTableStmt *) parsetree)->base);
			break;
		case T_CreateTableAsStmt:
			pgdts_walk_create_as(&walk, (CreateTableAsStmt *) parsetree);
			break;
		case T_ViewStmt:
			(void) pgdts_resolve_created(&walk, ((ViewStmt *) parsetree)->view);
			break;
		case T_AlterTableStmt:
			pgdts_walk_alter_table(&walk, (AlterTableStmt *) parsetree);
			break;
		case T_IndexStmt:
			(void) pgdts_resolve_existing(&walk, ((IndexStmt *) parsetree)->relation);
			break;
		case T_RenameStmt:
			(void) pgdts_resolve_existing(&walk, ((RenameStmt *) parsetree)->relation);
			break;
		case T_AlterObjectSchemaStmt:
			(void) pgdts_resolve_existing(&walk, ((AlterObjectSchemaStmt *) parsetree)->relation);
			break;
		case T_CreateSeqStmt:
			pgdts_walk_create_sequence(&walk, (CreateSeqStmt *) parsetree);
			break;
		case T_AlterSeqStmt:
			pgdts_walk_alter_sequence(&walk, (AlterSeqStmt *) parsetree);
			break;
		case T_DropStmt:
			pgdts_walk_drop(&walk, (DropStmt *) parsetree);
			break;
		default:
			break;
	}

	return walk.resolved;
}

/* Record that name meant a relation of namespace. */
static void
pgdts_add_resolved_namespace(PgdtsNameWalk *walk, const char *name,
							 Oid namespace)
{
	const char *schema;

	if (isAnyTempNamespace(namespace))
		schema = "pg_temp";
	else
		schema = get_namespace_name(namespace);
	if (schema != NULL)
		pgdts_add_resolved(walk, name, schema);
}

/* Record that name meant a relation of schema, once. */
static void
pgdts_add_resolved(PgdtsNameWalk *walk, const char *name, const char *schema)
{
	PgdtsResolvedName *resolved;
	ListCell   *lc;

	foreach(lc, walk->resolved)
	{
		PgdtsResolvedName *seen = lfirst(lc);

		if (strcmp(seen->name, name) == 0 && strcmp(seen->schema, schema) == 0)
			return;
	}

	resolved = palloc(sizeof(PgdtsResolvedName));
	resolved->name = pstrdup(name);
	resolved->schema = pstrdup(schema);
	walk->resolved = lappend(walk->resolved, resolved);
}

/*
 * An existing relation the command names: where the source finds it now.
 * Returns its namespace, InvalidOid when not found.
 */
static Oid
pgdts_resolve_existing(PgdtsNameWalk *walk, const RangeVar *rv)
{
	Oid			relid;
	Oid			namespace;

	if (rv == NULL)
		return InvalidOid;
	relid = RangeVarGetRelid(rv, NoLock, true);
	if (OidIsValid(relid))
		namespace = get_rel_namespace(relid);
	else if (rv->schemaname == NULL && walk->created_name != NULL &&
			 strcmp(rv->relname, walk->created_name) == 0)
		namespace = walk->created_namespace;
	else
		return InvalidOid;

	if (rv->schemaname == NULL && OidIsValid(namespace))
		pgdts_add_resolved_namespace(walk, rv->relname, namespace);
	return namespace;
}

/*
 * The relation the command creates: in its creation namespace.  (Not
 * asked for a temporary relation: that could create the session's
 * temporary schema from inside the capture.)
 */
static Oid
pgdts_resolve_created(PgdtsNameWalk *walk, const RangeVar *rv)
{
	Oid			namespace;

	if (rv == NULL)
		return InvalidOid;
	if (rv->schemaname != NULL)
		namespace = get_namespace_oid(rv->schemaname, true);
	else if (rv->relpersistence == RELPERSISTENCE_TEMP)
	{
		pgdts_add_resolved(walk, rv->relname, "pg_temp");
		return InvalidOid;
	}
	else
		namespace = RangeVarGetCreationNamespace(rv);

	walk->created_name = rv->relname;
	walk->created_namespace = namespace;
	walk->table_namespace = namespace;
	if (rv->schemaname == NULL && OidIsValid(namespace))
		pgdts_add_resolved_namespace(walk, rv->relname, namespace);
	return namespace;
}

/* A column definition: its REFERENCES and identity sequence name. */
static void
pgdts_walk_column(PgdtsNameWalk *walk, ColumnDef *column)
{
	ListCell   *lc;

	foreach(lc, column->constraints)
	{
		Node	   *node = lfirst(lc);

		if (IsA(node, Constraint))
			pgdts_walk_constraint(walk, (Constraint *) node);
	}
}

/*
 * A constraint: the referenced table of a FOREIGN KEY; the sequence name
 * of an identity, which goes into the table's schema when unqualified
 * (parse_utilcmd.c's generateSerialSequence).
 */
static void
pgdts_walk_constraint(PgdtsNameWalk *walk, Constraint *constraint)
{
	if (constraint->contype == CONSTR_FOREIGN)
		(void) pgdts_resolve_existing(walk, constraint->pktable);
	else if (constraint->contype == CONSTR_IDENTITY)
	{
		ListCell   *lc;

		foreach(lc, constraint->options)
		{
			DefElem    *def = lfirst_node(DefElem, lc);
			List	   *names;

			if (strcmp(def->defname, "sequence_name") != 0 ||
				!IsA(def->arg, List))
				continue;
			names = (List *) def->arg;
			if (list_length(names) == 1 && OidIsValid(walk->table_namespace))
				pgdts_add_resolved_namespace(walk, strVal(linitial(names)),
											 walk->table_namespace);
		}
	}
}

/* OWNED BY table.column of CREATE/ALTER SEQUENCE */
static void
pgdts_walk_sequence_options(PgdtsNameWalk *walk, List *options)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *def = lfirst_node(DefElem, lc);
		List	   *names;

		if (strcmp(def->defname, "owned_by") != 0 || !IsA(def->arg, List))
			continue;
		names = (List *) def->arg;
		/* "NONE" alone; schema.table.column is qualified */
		if (list_length(names) == 2)
			(void) pgdts_resolve_existing(walk,
										  makeRangeVar(NULL,
													   strVal(linitial(names)),
													   -1));
	}
}

/*
 * CREATE TABLE: the new table; PARTITION OF and INHERITS parents; LIKE;
 * REFERENCES of column and table constraints.
 */
static void
pgdts_walk_create(PgdtsNameWalk *walk, CreateStmt *stmt)
{
	ListCell   *lc;

	(void) pgdts_resolve_created(walk, stmt->relation);

	foreach(lc, stmt->inhRelations)
		(void) pgdts_resolve_existing(walk, lfirst_node(RangeVar, lc));

	foreach(lc, stmt->tableElts)
	{
		Node	   *element = lfirst(lc);

		if (IsA(element, ColumnDef))
			pgdts_walk_column(walk, (ColumnDef *) element);
		else if (IsA(element, Constraint))
			pgdts_walk_constraint(walk, (Constraint *) element);
		else if (IsA(element, TableLikeClause))
			(void) pgdts_resolve_existing(walk,
										  ((TableLikeClause *) element)->relation);
	}
	foreach(lc, stmt->constraints)
		pgdts_walk_constraint(walk, lfirst_node(Constraint, lc));
}

/* CREATE TABLE AS, SELECT INTO, CREATE MATERIALIZED VIEW: the new relation */
static void
pgdts_walk_create_as(PgdtsNameWalk *walk, CreateTableAsStmt *stmt)
{
	if (stmt->into != NULL)
		(void) pgdts_resolve_created(walk, stmt->into->rel);
}

/* ALTER TABLE, ALTER INDEX, ALTER SEQUENCE ... (AlterTableStmt) */
static void
pgdts_walk_alter_table(PgdtsNameWalk *walk, AlterTableStmt *stmt)
{
	ListCell   *lc;

	walk->table_namespace = pgdts_resolve_existing(walk, stmt->relation);
	foreach(lc, stmt->cmds)
		pgdts_walk_alter_table_cmd(walk, lfirst_node(AlterTableCmd, lc));
}

static void
pgdts_walk_alter_table_cmd(PgdtsNameWalk *walk, AlterTableCmd *cmd)
{
	if (cmd->def == NULL)
		return;

	switch (cmd->subtype)
	{
		case AT_AddColumn:
		case AT_AddColumnRecurse:
		case AT_AddColumnToView:
			if (IsA(cmd->def, ColumnDef))
				pgdts_walk_column(walk, (ColumnDef *) cmd->def);
			break;
		case AT_AddConstraint:
		case AT_AddConstraintRecurse:
		case AT_AddIdentity:
			if (IsA(cmd->def, Constraint))
				pgdts_walk_constraint(walk, (Constraint *) cmd->def);
			break;
		case AT_AttachPartition:
		case AT_DetachPartition:
		case AT_DetachPartitionFinalize:
			if (IsA(cmd->def, PartitionCmd))
				(void) pgdts_resolve_existing(walk,
											  ((PartitionCmd *) cmd->def)->name);
			break;
		case AT_AddInherit:
		case AT_DropInherit:
			if (IsA(cmd->def, RangeVar))
				(void) pgdts_resolve_existing(walk, (RangeVar *) cmd->def);
			break;
		default:
			break;
	}
}

static void
pgdts_walk_create_sequence(PgdtsNameWalk *walk, CreateSeqStmt *stmt)
{
	(void) pgdts_resolve_created(walk, stmt->sequence);
	pgdts_walk_sequence_options(walk, stmt->options);
}

static void
pgdts_walk_alter_sequence(PgdtsNameWalk *walk, AlterSeqStmt *stmt)
{
	(void) pgdts_resolve_existing(walk, stmt->sequence);
	pgdts_walk_sequence_options(walk, stmt->options);
}

/* DROP TABLE, INDEX, SEQUENCE, VIEW, MATERIALIZED VIEW, FOREIGN TABLE */
static void
pgdts_walk_drop(PgdtsNameWalk *walk, DropStmt *stmt)
{
	ListCell   *lc;

	switch (stmt->removeType)
	{
		case OBJECT_TABLE:
		case OBJECT_INDEX:
		case OBJECT_SEQUENCE:
		case OBJECT_VIEW:
		case OBJECT_MATVIEW:
		case OBJECT_FOREIGN_TABLE:
			break;
		default:
			return;
	}

	foreach(lc, stmt->objects)
	{
		List	   *names = (List *) lfirst(lc);

		if (list_length(names) == 1)
			(void) pgdts_resolve_existing(walk,
										  makeRangeVar(NULL,
													   strVal(linitial(names)),
													   -1));
	}
}
