// Runs a task graph to completion: in-process tasks (builds, expressions) in the engine,
// calculations through a calculator plugin and an executor under a core budget, force drivers
// (CI-NEB) with images on threads or as jobs. The runner knows tasks only through their kinds'
// registry entries (engine/task_kind.hpp); the workflow kinds (workflows/) build the graph.
// Every state change goes to the RunStore first, so a killed run resumes where it stopped:
// finished tasks are reused by hash, interrupted ones start again.
#pragma once

#include <chrono>
#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>

#include <functional>

#include "engine/graph.hpp"
#include "engine/run_settings.hpp"

namespace interphase::engine {

struct RunOptions {
    std::filesystem::path run_dir;  ///< created if missing; reused (resume) if it exists
    int cores = 0;                  ///< core budget of the local executor; 0 = all online cores
    bool quiet = false;             ///< no progress lines
    /// Shared result cache (`--cache`); overrides the workflow's `cache:`; INTERPHASE_CACHE otherwise.
    std::optional<std::filesystem::path> cache;
    /// `--executor` ("local", "slurm"); empty = what the run folder recorded, else local.
    std::string executor{};
    /// `--cluster-profile` for batch executors (docs/cluster.md); empty = the recorded one.
    std::filesystem::path cluster_profile{};
    /// `--force`: continue a run folder that holds another workflow's run with this workflow
    /// (without it that is refused: the folder's tasks and results would be replaced).
    bool adopt = false;
};

struct RunSummary {
    std::size_t total = 0, done = 0, reused = 0, failed = 0, blocked = 0;
    std::size_t from_cache = 0;   ///< of `reused`: taken from the shared cache
    std::size_t retried = 0;      ///< failed attempts that were started again
    double wall_seconds = 0;
    bool interrupted = false;
    bool ok() const { return !interrupted && failed == 0 && blocked == 0 && done == total; }
};

/// The run folder used when none is given: "runs/<workflow name>" under the current directory.
std::filesystem::path default_run_dir(const std::string& workflow_name);

class RunStore;

/// Thrown by long work at the end of a run (the results writer) when the run is interrupted.
struct Interrupted {};

/// What a workflow kind hands the runner: the shared settings, the graph, and how its results
/// are written when every task has finished.
struct RunPlan {
    RunSettings settings;
    TaskGraph graph;
    /// Writes results.h5 (the path given) from the finished run's store and returns the table
    /// printed at the end of the log; empty function: no results file. It asks `interrupted`
    /// as it goes and throws Interrupted when it says yes (SIGTERM while a large file is written:
    /// the run still stops at once, and a resume writes the file).
    std::function<std::string(const RunStore&, const std::filesystem::path&, const std::function<bool()>& interrupted)>
        write_results;
};

/// Runs (or resumes) the graph. Validation happens before the run folder is touched, so a bad
/// workflow or a missing executable never alters an existing run. Progress goes to `log`.
/// Writes RUN_DIR/results.h5 when every task finished.
RunSummary run_graph(const RunPlan& plan, const RunOptions& options, std::ostream& log);

enum class CancelOutcome { NotRunning, Stopped, StillRunning };
/// Stops the engine working on `run_dir` (SIGTERM to the process that holds RUN_DIR/.lock; it
/// stops its calculations and records them as interrupted) and waits up to `wait` for it to
/// exit. `interphase resume` continues the run later.
CancelOutcome cancel_run(const std::filesystem::path& run_dir, std::chrono::seconds wait = std::chrono::seconds(60));

/// The folder of a task inside RUN_DIR/tasks: a readable slug of the name (at most 80 bytes of
/// [A-Za-z0-9()+-_.], '/' as '.') and 12 hex digits of the name's SHA-256, so that names that
/// differ never share a folder ("α-M(100)" and "γ-M(100)", or "A B" and "A_B").
std::string task_folder_name(const std::string& task);

/// Stops what a killed engine left running in a calculation folder: the process group recorded in
/// its `process_group` file, if it still exists and still works in that folder (so a recycled
/// process id is never touched). Used for tasks and for NEB images.
void stop_orphaned_calculation(const std::filesystem::path& folder);

}  // namespace interphase::engine
