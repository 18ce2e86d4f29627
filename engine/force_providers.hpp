// Force providers: how a force driver's images (engine/task_kind.hpp, TaskKind::Runs::ForceDriver;
// CI-NEB today) get their energies and forces. The engine gives a driver one of two:
// `parallel_in_process` for builtin potentials (images on parallel threads, results identical to
// a serial evaluation), or `executor_forces` for external codes (one single-point job per image,
// each in its own folder under the task folder, run in parallel by the executor under the core
// budget, a finished image reused after a crash).
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "cluster/executor.hpp"
#include "engine/drivers/forces.hpp"
#include "engine/task_kind.hpp"
#include "plugins/calculator.hpp"

namespace interphase::engine {

/// Images of a batch evaluated on up to `threads` threads; each image is computed by itself,
/// so the results do not depend on the number of threads.
drivers::ForceProvider parallel_in_process(const plugins::Potential& potential, int threads);

/// What executor_forces needs from the engine.
struct ExecutorForces {
    const plugins::Calculator* calculator = nullptr;
    cluster::Executor* executor = nullptr;
    plugins::Protocol protocol;
    int cores_per_image = 1;
    std::filesystem::path folder;            ///< the driver task's folder; images go to folder/images/<id>
    std::string task;                        ///< the driver task's name (job ids: "<task>#<id>")
    /// Outcomes of other jobs that finish while the NEB waits for its images (the engine's own
    /// calculations): handed back to the engine.
    std::function<void(const cluster::JobOutcome&)> foreign;
    std::function<bool()> interrupted;       ///< true: stop waiting, throw DriverInterrupted
    std::function<void(const std::string&, const std::filesystem::path&)> started;  ///< job id, folder
    /// What the images' system is (the NEB task's host): k-points, dipole correction, spin.
    plugins::Electronic electronic = plugins::Electronic::Unknown;
    bool slab = false;
    plugins::SpinTreatment spin = plugins::SpinTreatment::Auto;
};

/// A ForceProvider that runs every structure of a batch as a single-point job of an external
/// code. The folder of an image is named by the content hash of its structure, so a finished
/// image (result.json written) is reused after a crash instead of running again.
drivers::ForceProvider executor_forces(ExecutorForces spec);

}  // namespace interphase::engine
