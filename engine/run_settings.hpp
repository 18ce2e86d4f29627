// What every run shares whatever its science: the workflow's name and file, the calculator and
// its settings, the protocol, the core budget per calculation, the retry policy and the shared
// cache. A workflow kind (workflows/) reads them from the workflow file beside its own keys and
// hands them to the runner with its task graph (engine/runner.hpp).
#pragma once

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "plugins/calculator.hpp"

namespace interphase::engine {

/// Which failed calculations are tried again, and how often (`retries:` in the workflow).
struct RetryPolicy {
    int max_attempts = 2;  ///< attempts in total, the first included; 1 = never retry
    /// Failure reasons that are retried: "killed" (the process died from a signal, e.g. a node
    /// or OOM kill), "crashed", "truncated_output", "missing_output", "scf_not_converged",
    /// "geometry_not_converged" (CalculationError reasons). Default: the transient ones.
    std::vector<std::string> on{"killed", "crashed", "truncated_output", "missing_output"};
    bool retries(const std::string& reason, int attempts_made) const;
};

struct RunSettings {
    std::filesystem::path source;         ///< the workflow file
    std::string yaml_text;                ///< its text, saved in the run folder for `resume`
    std::string name;
    std::string description;
    std::string kind;                     ///< the workflow kind (workflows/registry.cpp)
    std::string calculator_code;          ///< registry name, e.g. "cp2k"
    nlohmann::json calculator_config = nlohmann::json::object();  ///< passed to the plugin
    int cores_per_task = 0;               ///< 0 = all cores of the executor
    plugins::Protocol protocol;
    /// Result cache shared across runs (`cache:`, relative to the workflow file); see engine/cache.hpp.
    std::optional<std::filesystem::path> cache;
    RetryPolicy retry;
    /// Every structure file the workflow names (as resolved against the workflow's folder); the
    /// run keeps a copy of each in RUN_DIR/inputs, which `resume` reads instead of the originals.
    std::vector<std::filesystem::path> input_files;
    std::filesystem::path input_copies;   ///< where they were read from on a resume, else empty
    /// Recorded in the run store's metadata (`interphase status`), e.g. {"reference": "bulk"}.
    std::map<std::string, std::string> metadata;
};

/// Where a run keeps its copy of the input file `file`: COPIES/<16 hex of the absolute path's
/// SHA-256>/<file name> (the name is kept: formats are recognised by it).
std::filesystem::path input_copy_path(const std::filesystem::path& copies, const std::filesystem::path& file);

}  // namespace interphase::engine
