/*-------------------------------------------------------------------------
 *
 * ddl_settings.c
 *		Settings that change how a DDL command's text parses
 *
 * A statement's text does not say everything it means: the scanner, the
 * grammar, parse analysis and the input functions of its constants (run
 * at parse analysis, when a literal gets its type) read some settings of
 * the session.  The destination must replay the text under the same ones,
 * so the capture records their values as the command ran.  Each entry
 * says where PostgreSQL reads it.
 *
 * Not listed: standard_conforming_strings (the text no longer depends on
 * it, see ddl_literals.c; recording it would invite replaying under "off"
 * a text written for "on"), search_path (a field of its own, and names
 * are resolved by the source, see ddl_names.c), escape_string_warning (a
 * WARNING only), and settings that act only when a value is computed or
 * printed rather than parsed (extra_float_digits, bytea_output, xmlbinary,
 * lc_numeric, lc_time, default_text_search_config): a default or check
 * expression is evaluated under the settings of the session that inserts,
 * on either side.  Settings that change what a command creates rather
 * than how its text reads (default_tablespace,
 * default_table_access_method, default_toast_compression) are not either.
 *
 * IDENTIFICATION
 *		plugin/ddl_settings.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "utils/guc.h"

#include "ddl_settings.h"

static const char *const pgdts_parse_setting_names[] = {
	/*
	 * scan.l: whether \' is accepted in an escape string literal (E'...',
	 * which is every literal with a backslash once captured).
	 */
	"backslash_quote",

	/*
	 * parse_expr.c (transformAExprOp): "expr = NULL" becomes "expr IS NULL".
	 */
	"transform_null_equals",

	/*
	 * date_in, timestamp_in, timestamptz_in (datetime.c DecodeDateTime): the
	 * order of day, month and year in '01/02/03'.
	 */
	"DateStyle",

	/*
	 * interval_in (datetime.c DecodeInterval): with sql_standard, a leading
	 * sign applies to every field of '-1 2:03:04'.
	 */
	"IntervalStyle",

	/*
	 * timestamptz_in, timetz_in: the zone of a value written without one; the
	 * special values 'now', 'today', 'tomorrow' of date and timestamp types
	 * are computed at parse time in it.
	 */
	"TimeZone",

	/* datetime.c: which zone abbreviations ('EST', 'IST') exist and mean */
	"timezone_abbreviations",

	/* array_in: an unquoted NULL element is a null, or the string "NULL" */
	"array_nulls",

	/* xml_in: whether '...'::xml must be a DOCUMENT or may be CONTENT */
	"xmloption",

	/*
	 * cash_in: the currency symbol, decimal point and thousands separator of
	 * a money constant come from this locale.
	 */
	"lc_monetary",
};

/*
 * The settings as the current command runs under them: a list of names
 * and values, alternating, in a fixed order.
 */
List *
pgdts_parse_settings(void)
{
	List	   *settings = NIL;
	int			i;

	for (i = 0; i < lengthof(pgdts_parse_setting_names); i++)
	{
		const char *name = pgdts_parse_setting_names[i];
		const char *value = GetConfigOption(name, true, false);

		if (value == NULL)		/* not in this PostgreSQL version */
			continue;
		settings = lappend(settings, pstrdup(name));
		settings = lappend(settings, pstrdup(value));
	}
	return settings;
}
