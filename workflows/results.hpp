// The science a run produced, gathered from the store: per host the adsorbate binding energy
// at every site (and the lowest), per pair ΔE; written to results.h5 (layout in
// docs/results-hdf5.md), printed as a table, or exported as CSV/JSON.
#pragma once

#include <filesystem>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace interphase::engine {
class RunStore;
}

namespace interphase::workflows {

using engine::RunStore;

struct SiteResult {
    std::string site;
    double total_energy = 0;     ///< eV, relaxed slab + adsorbate
    double binding_energy = 0;   ///< eV
    bool geometry_converged = false;
};

struct HostResult {
    std::string host;            ///< e.g. "Al(111)"
    std::string kind = "surface";  ///< "surface" | "bulk" (binding_energy::HostKind)
    std::string adsorbate;
    std::string reference;       ///< "isolated_atom" | "bulk"
    double mu = 0;               ///< eV per adsorbate atom of the reference
    double host_energy = 0;      ///< eV, relaxed clean host (slab or bulk supercell)
    double binding_energy = 0;   ///< eV, lowest over sites
    std::string best_site;
    std::vector<SiteResult> sites;
    nlohmann::json slab_info;    ///< Miller index, termination, area... of the slab
    nlohmann::json relaxed_host; ///< structure JSON of the relaxed clean slab
    nlohmann::json relaxed_best; ///< structure JSON of the relaxed complex at the best site
};

struct PairResult {
    std::string a, b;
    double binding_energy_a = 0, binding_energy_b = 0;
    double delta_e = 0;          ///< E_b(A) − E_b(B), eV
    std::string reference;
    /// Lowest forward barrier of each host's own converged surface hops (eV); NaN when none.
    double surface_barrier_a = std::numeric_limits<double>::quiet_NaN();
    double surface_barrier_b = std::numeric_limits<double>::quiet_NaN();
    /// Lowest forward barrier of each bulk host's own converged vacancy/interstitial hops (eV).
    double bulk_barrier_a = std::numeric_limits<double>::quiet_NaN();
    double bulk_barrier_b = std::numeric_limits<double>::quiet_NaN();
    /// The in-situ row of an interface host (A = its side A, B = its side B): the interface's
    /// name and the lowest converged barrier across it, A → B and B → A (eV); else "" and NaN.
    std::string interface;
    double interface_barrier = std::numeric_limits<double>::quiet_NaN();
    double interface_barrier_reverse = std::numeric_limits<double>::quiet_NaN();
};

/// One CI-NEB band (a `hops:` entry, or the band of `interphase neb`).
struct HopResult {
    std::string task;            ///< e.g. "Al(100)/hop/4fold_hollow-4fold_hollow/neb"
    std::string host;            ///< empty for `workflow: neb`
    std::string hop;             ///< "<from>-<to>"
    std::string from, to;
    std::string method, optimizer;
    bool climb = true;
    std::vector<double> reaction_coordinate;  ///< Å, cumulative path length from the initial state
    std::vector<double> energy;               ///< eV, relative to the initial state
    std::vector<double> total_energy;         ///< eV
    double forward_barrier = 0, reverse_barrier = 0;  ///< eV
    std::size_t saddle_index = 0;
    nlohmann::json saddle;       ///< structure JSON of the highest (climbing) image
    nlohmann::json initial, final;  ///< structure JSON of the band's end points (relaxed)
    bool across_interface = false;  ///< a hop across an interface host (not on a surface)
    std::string mechanism;       ///< "" (adsorbate hop on a surface), "vacancy" or "interstitial" (in a bulk host)
    bool converged = false;
    double fmax = 0;             ///< eV/Å, final NEB force
    int iterations = 0;
    long force_calls = 0;
};

/// The value of a user task (`tasks:` in the workflow: expression or aggregate).
struct UserValue {
    std::string task, kind;
    double value = 0;
    std::string unit;
    std::string definition;   ///< the formula, or "op(field) over N tasks"
    std::string detail;       ///< JSON text: the variables with their values, or the members
};

struct TaskProvenance {
    std::string task, kind, hash, state;
    bool reused = false;
    std::string reused_from;  ///< "this run", "cache FILE: RUN_DIR task NAME", or empty
    double wall_seconds = 0;
};

struct RunResults {
    std::string workflow;
    std::string interphase_version;
    std::string calculator;
    std::string code_version;
    std::string protocol;        ///< JSON text
    std::vector<HostResult> hosts;
    std::vector<PairResult> pairs;
    std::vector<HopResult> hops;  ///< NEB bands, in task order
    std::vector<UserValue> user_values;
    std::vector<TaskProvenance> tasks;
};

/// Reads every finished binding-energy and ΔE task of the run.
RunResults collect_results(const RunStore& store);
/// Writes results.h5 atomically (temporary file + rename).
/// `interrupted` (optional) is asked per host and per band: when it says yes the writer throws
/// engine::Interrupted and leaves no file behind.
void write_results_h5(const std::filesystem::path& path, const RunResults& results,
                      const std::function<bool()>& interrupted = {});
/// Human-readable table: phase, site, E_b (eV), reference, ΔE.
std::string format_table(const RunResults& results);
std::string format_csv(const RunResults& results);
nlohmann::json results_json(const RunResults& results);

}  // namespace interphase::workflows
