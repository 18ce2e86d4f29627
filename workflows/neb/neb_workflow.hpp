// `workflow: neb` (what `interphase neb` runs): CI-NEB between two structure files taken as
// given. Tasks: "start" and "end" (build_bulk from the files), "band/path", "band/neb".
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "workflows/neb/band.hpp"
#include "workflows/workflow_kind.hpp"

namespace interphase::workflows::neb {

struct Spec : KindSpec {
    nlohmann::json start, end;            ///< the end points (JSON form), taken as given
    std::string start_source, end_source;
    BandSettings band;                    ///< path and driver settings (`neb:`)
};

WorkflowKind workflow_kind();

}  // namespace interphase::workflows::neb
