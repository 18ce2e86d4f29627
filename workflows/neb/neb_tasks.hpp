// The task kinds of a migration barrier, shared by `workflow: neb` (interphase neb) and the
// `hops:` of other workflow kinds:
//   build_neb_path  the initial band between two relaxed end points (structures/neb_path.hpp:
//                   linear or IDPP, minimum image); inputs "initial" and "final"
//   neb             CI-NEB on that band (engine/drivers/neb.hpp), a force driver: the runner
//                   gives it images on threads or as jobs (engine/force_providers.hpp). Its
//                   output is the energy profile, both barriers, the saddle, the band, force
//                   calls, iterations, converged. The band is saved after every evaluation
//                   (TASK_FOLDER/neb_state.json, atomically), so an engine killed in the middle
//                   of an NEB resumes from the last band, and image calculations of an external
//                   code that had finished are not run again.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/task_kind.hpp"

namespace interphase::workflows::neb {

inline constexpr const char* kBuildNebPath = "build_neb_path";
inline constexpr const char* kNeb = "neb";

/// build_neb_path: params {images, method, mic}, inputs "initial" and "final" (outputs with a
/// "structure"). Output: {"images": [structure...], "method", "idpp": {...}, "min_distance"}.
nlohmann::json build_neb_path(const engine::Task& task, const engine::Inputs& inputs);

/// Runs a neb task: params {options (NebOptions JSON), host, hop, from, to}, input "path".
/// A state file in the context's folder with the same hash is resumed.
nlohmann::json run_neb_task(const engine::Task& task, const engine::Inputs& inputs, const engine::DriverContext& context);

/// Registry entries of build_neb_path and neb.
engine::TaskKind build_neb_path_kind();
engine::TaskKind neb_kind();

}  // namespace interphase::workflows::neb
