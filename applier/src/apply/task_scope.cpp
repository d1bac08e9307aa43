#include "apply/task_scope.h"

namespace pgdts::apply {

void TaskScope::adjust(stream::Relation& rel) const {
  model::TableName source{rel.source_schema, rel.source_name};
  rel.in_task = tables.count(source) > 0 || selection.includes(source);
  if (auto it = copied_at.find(source); it != copied_at.end()) rel.copied_at = it->second;
  rel.copying = copying.count(source) > 0;
  if (names.is_identity()) return;
  model::TableName dest = names.table(source);
  rel.schema = dest.schema;
  rel.name = dest.name;
  for (auto& column : rel.columns) column.name = names.column(source, column.name);
  rel.display_name = model::display_name(source) + " (as " + model::display_name(dest) + ")";
}

}  // namespace pgdts::apply
