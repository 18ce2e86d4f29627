// Workflow files: a YAML description of a binding-energy screening (hosts, sites, reference,
// pairs for ΔE, calculator, protocol), validated before anything runs — errors name the file,
// line and field — and expanded into a TaskGraph. The reference is docs/workflow.md.
#pragma once

#include <array>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/graph.hpp"
#include "engine/user_tasks.hpp"
#include "plugins/calculator.hpp"

namespace interphase::engine {

/// One host surface on which the adsorbate's binding energy is computed.
struct HostSpec {
    std::string name;                     ///< unique label, e.g. "Al(111)"
    std::optional<std::string> phase;     ///< a built-in prototype...
    nlohmann::json bulk_structure;        ///< ...or a structure read from `structure:` (JSON form)
    std::string bulk_source;              ///< prototype name or file path (provenance)
    std::array<int, 3> miller{1, 1, 1};
    int layers = 3;
    double vacuum = 10.0;
    std::array<int, 2> supercell{1, 1};
    int fix_bottom_layers = 1;
    double fix_bottom = 0.0;
    std::optional<std::string> termination;  ///< top species ("S") or index ("0")
    std::vector<std::string> sites{"hollow"};
};

/// A migration hop (`hops:`): the adsorbate moves on `host` from site `from` to the nearest copy
/// of site `to`; both end points are relaxed, then CI-NEB runs on the band between them. For a
/// `workflow: neb` file the hop has no host and its end points are `WorkflowSpec::start`/`end`.
struct HopSpec {
    std::string host;
    std::string from, to;                 ///< site names as the site finder gives them
    int images = 5;                       ///< intermediate images
    std::string method = "idpp";          ///< initial path: "linear" | "idpp"
    bool mic = true;                      ///< minimum-image displacements between the end points
    /// NEB driver options (engine/drivers/neb.hpp, JSON form); `fmax` defaults to the protocol's.
    nlohmann::json options = nlohmann::json::object();
    std::string id() const { return from + "-" + to; }
};

enum class Reference { IsolatedAtom, BulkMetal };
const char* to_string(Reference r);

/// Which failed calculations are tried again, and how often (`retries:` in the workflow).
struct RetryPolicy {
    int max_attempts = 2;  ///< attempts in total, the first included; 1 = never retry
    /// Failure reasons that are retried: "killed" (the process died from a signal, e.g. a node
    /// or OOM kill), "crashed", "truncated_output", "missing_output", "scf_not_converged",
    /// "geometry_not_converged" (CalculationError reasons). Default: the transient ones.
    std::vector<std::string> on{"killed", "crashed", "truncated_output", "missing_output"};
    bool retries(const std::string& reason, int attempts_made) const;
};

struct WorkflowSpec {
    std::filesystem::path source;         ///< the YAML file
    std::string yaml_text;                ///< its text, saved in the run folder for `resume`
    std::string name;
    std::string description;
    std::string calculator_code;          ///< registry name, e.g. "cp2k"
    nlohmann::json calculator_config = nlohmann::json::object();  ///< passed to the plugin
    int cores_per_task = 0;               ///< 0 = all cores of the executor
    plugins::Protocol protocol;
    std::string adsorbate = "Li";
    Reference reference = Reference::IsolatedAtom;
    double reference_box = 10.0;          ///< Å, cubic box of the isolated atom
    std::vector<HostSpec> hosts;
    std::vector<std::array<std::string, 2>> pairs;
    /// Result cache shared across runs (`cache:`, relative to the workflow file); see engine/cache.hpp.
    std::optional<std::filesystem::path> cache;
    RetryPolicy retry;
    /// `tasks:` — expressions and aggregates over other tasks' results (engine/user_tasks.hpp).
    std::vector<UserTaskSpec> user_tasks;
    /// NEB hops of `workflow: binding_energy` (after the binding energies; docs/workflow.md).
    std::vector<HopSpec> hops;

    /// `workflow:` "binding_energy" (hosts, sites, pairs, hops), "calculation" (one structure:
    /// single point or relaxation; `interphase calc`) or "neb" (CI-NEB between two structures;
    /// `interphase neb`).
    std::string kind = "binding_energy";
    nlohmann::json structure;             ///< calculation: the structure (JSON form)
    std::string structure_source;         ///< its file
    bool relax = false;                   ///< calculation: relax instead of a single point
    nlohmann::json start, end;            ///< neb: the end points (JSON form), taken as given
    std::string start_source, end_source;
    HopSpec neb;                          ///< neb: path and driver settings (no host, no sites)
    /// Every structure file the workflow names (as resolved against the workflow's folder); the
    /// run keeps a copy of each in RUN_DIR/inputs, which `resume` reads instead of the originals.
    std::vector<std::filesystem::path> input_files;
    std::filesystem::path input_copies;   ///< where they were read from on a resume, else empty
};

/// Parses and validates a workflow file. Throws ParseError (YAML syntax, with line) or
/// InputError ("FILE:LINE: field 'hosts[0].phase': unknown phase 'Alx'; did you mean 'Al'?").
WorkflowSpec load_workflow(const std::filesystem::path& path);
/// `input_copies` (a run folder's inputs/): read each structure file from its copy there when
/// the copy exists (resume), else from the file itself.
WorkflowSpec parse_workflow(const std::string& yaml_text, const std::filesystem::path& source,
                            const std::filesystem::path& input_copies = {});

/// Where a run keeps its copy of the input file `file`: COPIES/<16 hex of the absolute path's
/// SHA-256>/<file name> (the name is kept: formats are recognised by it).
std::filesystem::path input_copy_path(const std::filesystem::path& copies, const std::filesystem::path& file);

/// The task graph of a binding-energy workflow (see docs/workflow.md for the task names).
TaskGraph expand_workflow(const WorkflowSpec& spec);

}  // namespace interphase::engine
