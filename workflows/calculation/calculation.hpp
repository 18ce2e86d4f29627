// `workflow: calculation` (what `interphase calc` runs): one structure file, a single point or a
// relaxation by the workflow's calculator. Tasks: "structure" (build_bulk from the file), then
// "structure/single_point" or "structure/relax" (the engine's calculation kind).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "workflows/workflow_kind.hpp"

namespace interphase::workflows::calculation {

struct Spec : KindSpec {
    nlohmann::json structure;             ///< the structure (JSON form)
    std::string structure_source;         ///< its file
    bool relax = false;                   ///< relax instead of a single point
};

WorkflowKind workflow_kind();

}  // namespace interphase::workflows::calculation
