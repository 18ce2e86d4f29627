// NEB inside the engine: the task kinds of a migration barrier (docs/workflow.md, `hops:`).
//
//   build_hop_endpoint  the adatom on site `from` (initial) or on the copy of site `to` nearest to
//                       it (final) of a relaxed slab; both end points are then relaxed as
//                       ordinary calculation tasks
//   build_neb_path      the initial band between the relaxed end points (structures/neb_path.hpp:
//                       linear or IDPP, minimum image)
//   neb                 CI-NEB on that band (engine/drivers/neb.hpp); its output is the energy
//                       profile, both barriers, the saddle, force calls, iterations, converged
//
// The neb task asks a ForceProvider for each iteration's images. The engine gives it one of two:
// `parallel_in_process` for builtin potentials (images on parallel threads, results identical to
// a serial evaluation), or `executor_forces` for external codes (one single-point job per image,
// each in its own folder under the task folder, run in parallel by the executor under the core
// budget). The band is saved after every evaluation (TASK_FOLDER/neb_state.json, atomically), so
// an engine killed in the middle of an NEB resumes from the last band, and image calculations of
// an external code that had finished are not run again.
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "cluster/executor.hpp"
#include "engine/drivers/forces.hpp"
#include "engine/graph.hpp"
#include "engine/task_kinds.hpp"
#include "plugins/calculator.hpp"

namespace interphase::engine {

/// build_hop_endpoint: params {from, to, species, end: "initial"|"final"}, input "slab".
nlohmann::json build_hop_endpoint(const Task& task, const Inputs& inputs);

/// build_neb_path: params {images, method, mic}, inputs "initial" and "final" (outputs with a
/// "structure"). Output: {"images": [structure...], "method", "idpp": {...}, "min_distance"}.
nlohmann::json build_neb_path(const Task& task, const Inputs& inputs);

/// Thrown by a ForceProvider when the run is interrupted (SIGINT/SIGTERM) while an NEB waits
/// for its images: the task is neither done nor failed, a resume continues it.
struct NebInterrupted {};

/// Runs a neb task: params {options (NebOptions JSON), host, hop, from, to}, input "path".
/// `hash` identifies the task; a state file in `folder` with the same hash is resumed.
/// `say` receives progress lines.
nlohmann::json run_neb_task(const Task& task, const Inputs& inputs, const std::string& hash,
                            const drivers::ForceProvider& forces, const std::filesystem::path& folder,
                            const std::function<void(const std::string&)>& say);

/// Images of a batch evaluated on up to `threads` threads; each image is computed by itself,
/// so the results do not depend on the number of threads.
drivers::ForceProvider parallel_in_process(const plugins::Potential& potential, int threads);

/// What executor_forces needs from the engine.
struct ExecutorForces {
    const plugins::Calculator* calculator = nullptr;
    cluster::Executor* executor = nullptr;
    plugins::Protocol protocol;
    int cores_per_image = 1;
    std::filesystem::path folder;            ///< the neb task's folder; images go to folder/images/<id>
    std::string task;                        ///< the neb task's name (job ids: "<task>#<id>")
    /// Outcomes of other jobs that finish while the NEB waits for its images (the engine's own
    /// calculations): handed back to the engine.
    std::function<void(const cluster::JobOutcome&)> foreign;
    std::function<bool()> interrupted;       ///< true: stop waiting, throw NebInterrupted
    std::function<void(const std::string&, const std::filesystem::path&)> started;  ///< job id, folder
};

/// A ForceProvider that runs every structure of a batch as a single-point job of an external
/// code. The folder of an image is named by the content hash of its structure, so a finished
/// image (result.json written) is reused after a crash instead of running again.
drivers::ForceProvider executor_forces(ExecutorForces spec);

}  // namespace interphase::engine
