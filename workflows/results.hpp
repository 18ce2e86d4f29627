// The science a run produced, gathered from the store: per host the adsorbate binding energy
// at every site (and the lowest), per pair ΔE, per hop its band; written to results.h5 (layout
// in docs/results-hdf5.md), printed as a table, or exported as CSV/JSON. Each workflow kind's
// part is its ResultSection (results_section.hpp, in the kind's folder); this file is the frame:
// the file's attributes, the user tasks and the provenance of every task.
#pragma once

#include <filesystem>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "workflows/binding_energy/results.hpp"
#include "workflows/neb/results.hpp"

namespace interphase::engine {
class RunStore;
}

namespace interphase::workflows {

using engine::RunStore;

using binding_energy::HostResult;
using binding_energy::PairResult;
using binding_energy::SiteResult;
using neb::HopResult;

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

/// What one electronic-structure calculation was (docs/protocols.md, "Provenance"): its task,
/// the energy used (σ→0 where smeared), the free energy, and the code's physics record.
struct CalculationRecord {
    std::string task;
    double energy = 0;                 ///< eV
    double free_energy = 0;            ///< eV; NaN without smearing
    nlohmann::json physics;
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
    std::vector<CalculationRecord> calculations;  ///< done calculations with a physics record
};

/// Reads every finished task of the run through the registered result sections, then links them.
// `interrupted` is asked once per task: reading 10^5 task outputs takes seconds, and SIGTERM
// (interphase cancel, a batch system's time limit) must not wait for it.
RunResults collect_results(const RunStore& store, const std::function<bool()>& interrupted = {});
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
