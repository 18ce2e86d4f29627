// Convergence studies: the same binding-energy workflow run once per value of one numerical
// setting (k-point spacing, cutoff, smearing, vacuum, slab thickness, supercell, basis, reference
// box), every run through one shared result cache, and the binding energy of every host and the
// ΔE of every pair reported against the setting with the tolerance each value reaches. This is
// how a user proves that a protocol's numbers are converged (docs/convergence.md); it is a study
// *over* a workflow, not a workflow kind: each value is an ordinary run folder that `results`,
// `status` and `resume` understand.
#pragma once

#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "engine/runner.hpp"

namespace interphase::workflows::convergence {

/// Where in the workflow file a setting lives.
enum class Scope { Protocol, Calculator, SurfaceHosts, Workflow };

/// One setting a study may vary: its name on the command line, where it is written in the
/// workflow, its unit, and what it means.
struct Setting {
    std::string name;
    Scope scope;
    std::string unit;
    std::string meaning;
};

/// Every setting a study may vary (docs/convergence.md lists them with their meaning).
const std::vector<Setting>& settings();
/// Throws InputError naming `--setting` (with "did you mean") for an unknown name.
const Setting& setting(const std::string& name);

struct StudyOptions {
    std::filesystem::path workflow;  ///< the workflow file studied
    std::string setting;             ///< a name from settings()
    /// The values, loosest first and tightest last: the last is the reference. Each is YAML
    /// ("0.25", "[3, 3]", "DZVP-MOLOPT-SR-GTH").
    std::vector<std::string> values;
    double tolerance = 0.01;          ///< eV: |E_b − E_b(reference)| and |ΔE − ΔE(reference)|
    std::filesystem::path out_dir;    ///< one run folder per value, the cache, convergence.json/.csv
    std::optional<std::filesystem::path> cache;  ///< default: the workflow's `cache:`, else OUT_DIR/cache.sqlite
    int cores = 0;
    bool quiet = false;
    std::string executor{};
    std::filesystem::path cluster_profile{};
};

/// What one value gave.
struct Point {
    std::string value;                  ///< as given (YAML text)
    std::filesystem::path run_dir;
    bool ok = false;                    ///< the run finished every task
    std::string state = "not run";      ///< "done", "incomplete" (failed or blocked tasks), "interrupted"
    std::string protocol;               ///< the run's protocol (JSON text, from its store)
    std::vector<std::pair<std::string, double>> binding_energies;  ///< host → E_b (best site), eV
    std::vector<std::pair<std::string, double>> delta_e;           ///< "A − B" → ΔE, eV
    /// eV, largest |difference| from the reference over all numbers; NaN until compared (the
    /// reference has not finished), +inf when this value lacks a number the reference has.
    double max_deviation = std::numeric_limits<double>::quiet_NaN();
};

struct Study {
    std::string workflow_name, setting, unit;
    std::string reference;              ///< the last value asked for (the tightest)
    double tolerance = 0;
    std::vector<Point> points;
    /// The first value from which every later value (the reference included) stays within the
    /// tolerance of the reference; empty when none does or the reference did not finish.
    std::optional<std::string> converged_from;
    bool interrupted = false;
    bool all_ok() const;
};

/// The workflow text with `setting` set to `value` (YAML), for the run of one value; throws
/// InputError naming the workflow file and the setting when it cannot be written there.
std::string workflow_with(const std::string& yaml_text, const std::filesystem::path& source, const Setting& setting,
                          const std::string& value);

/// Runs (or continues: finished tasks are reused) every value, then compares them. Progress goes
/// to `log`. Writes OUT_DIR/convergence.json and OUT_DIR/convergence.csv.
Study run_study(const StudyOptions& options, std::ostream& log);

/// The table a person reads: one row per value, one column per host E_b and pair ΔE, the
/// deviation from the reference, and where the tolerance is reached.
std::string format_study(const Study& study);
nlohmann::json study_json(const Study& study);
std::string study_csv(const Study& study);

}  // namespace interphase::workflows::convergence
