// Running one statement sequence per side at the same time: the source's on
// a second thread, the destination's on the caller's. Each connection is
// used by one thread only.
#pragma once

#include <future>
#include <utility>

namespace pgdts::verify {

template <class SourceWork, class TargetWork>
auto on_both(SourceWork&& source_work, TargetWork&& target_work) {
  auto source = std::async(std::launch::async, std::forward<SourceWork>(source_work));
  // If the destination's side throws, the source's still finishes (the
  // future's destructor waits) before the exception leaves.
  auto target = target_work();
  return std::make_pair(source.get(), std::move(target));
}

}  // namespace pgdts::verify
