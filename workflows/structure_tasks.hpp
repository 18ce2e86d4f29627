// Task kinds every workflow kind may use to bring a structure into the graph.
//   build_bulk  a built-in prototype (params {phase}) or a structure read from a file when the
//               workflow was loaded (params {structure (JSON form), source}); output {structure,
//               formula}
#pragma once

#include "engine/task_kind.hpp"

namespace interphase::workflows {

inline constexpr const char* kBuildBulk = "build_bulk";

nlohmann::json build_bulk(const engine::Task& task, const engine::Inputs& inputs);
engine::TaskKind build_bulk_kind();

}  // namespace interphase::workflows
