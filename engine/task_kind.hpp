// Task kinds: what the engine needs to know to run a task it has never heard of. The engine
// owns the generic kinds (`calculation`, `expression`, `aggregate`); every other kind is
// registered by the workflow kind that uses it (workflows/<kind>/, docs/extending.md), each as
// one TaskKind entry that carries:
//   - how it runs: in the engine's process (builds, science expressions), as a calculation
//     through a calculator plugin and an executor, or as a force driver (CI-NEB: many force
//     calls, images on threads or as jobs) — the runner dispatches on this, never on a name;
//   - what its content hash covers beyond its kind, parameters and inputs (the calculator and
//     the protocol, when its numbers come from the calculator);
//   - whether its results are shared through the cross-run cache (the expensive ones);
//   - the numeric fields of its output that `tasks:` expressions may use;
//   - how it grows the graph when it finishes (a site finder adds one relaxation per site);
//   - the line the run log prints when it finishes.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/registry.hpp"
#include "engine/drivers/forces.hpp"
#include "engine/graph.hpp"
#include "structures/structure.hpp"

namespace interphase::engine {

/// The outputs of a task's inputs, by role.
using Inputs = std::map<std::string, nlohmann::json>;
/// Receives one line of the run log.
using Say = std::function<void(const std::string&)>;

/// The output of the task's input `role`; throws Error naming the task when it is missing.
const nlohmann::json& task_input(const Inputs& inputs, const std::string& role, const Task& task);
/// The structure in a task's output; throws Error naming `what` when there is none.
structures::Structure output_structure(const nlohmann::json& output, const std::string& what);

/// What a force-driver task gets from the runner besides its parameters and inputs.
struct DriverContext {
    std::string hash;                   ///< the task's content hash (a saved state with it is resumed)
    drivers::ForceProvider forces;      ///< images on threads (builtin) or as executor jobs
    std::filesystem::path folder;       ///< the task's folder under RUN_DIR/tasks
    Say say;                            ///< progress lines
};

/// Thrown by a ForceProvider when the run is interrupted (SIGINT/SIGTERM) while a driver waits
/// for its images: the task is neither done nor failed, a resume continues it.
struct DriverInterrupted {};

struct TaskKind {
    enum class Runs {
        InProcess,    ///< `run` in the engine's process
        Calculation,  ///< a calculator plugin through the executor (the engine's `calculation` kind)
        ForceDriver,  ///< `drive` asks the runner's ForceProvider for energies and forces
    };
    std::string name;
    std::string description;
    Runs runs = Runs::InProcess;
    std::function<nlohmann::json(const Task&, const Inputs&)> run;                          ///< InProcess
    std::function<nlohmann::json(const Task&, const Inputs&, const DriverContext&)> drive;  ///< ForceDriver
    /// Its numbers come from the calculator: the hash covers the calculator and the protocol.
    bool depends_on_calculator = false;
    /// Finished results go to the shared cache (expensive kinds); others are recomputed.
    bool shared_in_cache = false;
    /// Numeric output fields `tasks:` expressions may reference; nullopt = not declared (any
    /// field is accepted and checked when the expression runs), empty = produces no numbers.
    std::optional<std::vector<std::string>> numeric_fields;
    /// Adds the tasks a finished task brings (deterministic: a resume regrows the same ones);
    /// returns their names; tasks that exist already are left alone. Empty: never grows.
    std::function<std::vector<std::string>(TaskGraph&, const Task&, const nlohmann::json&)> grow;
    /// The end of the log line "done  TASK  ..." (e.g. "E_b = -0.851 eV (fcc_hollow)"); empty: none.
    std::function<std::string(const Task&, const nlohmann::json&)> done_line;
};

/// Every task kind the engine can run. The engine registers its own kinds here; workflow kinds
/// add theirs (workflows/registry.cpp) before a graph that uses them runs.
class TaskKindRegistry : public Registry<TaskKind> {
public:
    static TaskKindRegistry& instance();
    /// The kind of `task`; throws InputError naming the task for a kind nobody registered.
    const TaskKind& of(const Task& task) const;

private:
    TaskKindRegistry();
};

/// Evaluates an in-process task through its kind's entry; throws InputError for an unknown kind
/// and Error for a kind that does not run in process.
nlohmann::json run_in_process(const Task& task, const Inputs& inputs);
/// The tasks a finished task adds (TaskKind::grow); empty for kinds that never grow the graph.
std::vector<std::string> grow(TaskGraph& graph, const Task& finished, const nlohmann::json& output);
/// True if tasks of `kind` may add tasks when they finish.
bool grows_graph(const std::string& kind);

}  // namespace interphase::engine
