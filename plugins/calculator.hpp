// The code-agnostic contract between the engine and a DFT code (or an in-process potential).
//
// The engine hands a plugin a CalculationRequest (structure, kind, protocol); an external-code
// plugin writes its input files into the task folder, describes the command to run as a
// LaunchSpec (an argument vector, never a shell string), and after the run parses the outputs
// into a CalculationResult in Interphase units (Å, eV, eV/Å). A plugin never knows which
// executor runs the command; an executor never knows which code it runs.
#pragma once

#include <algorithm>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/registry.hpp"
#include "structures/structure.hpp"

namespace interphase::plugins {

class Potential;  // plugins/potential.hpp

/// Code-agnostic numerical settings; each plugin maps them to its own keywords (docs/protocols.md).
/// The named protocols and how far their numbers are from converged are in docs/protocols.md:
/// "plumbing" exists to test the machinery (its numbers are not science), "fast" is the cheapest
/// protocol whose numbers are meant to be read, "standard" what a paper reports, "precise" the
/// reference it is checked against.
struct Protocol {
    std::string name = "fast";
    std::string functional = "PBE";
    std::string precision = "fast";      ///< "plumbing" | "fast" | "standard" | "precise" (basis, cutoffs)
    double kpoint_spacing = 0.30;        ///< Å^-1 (2π included) for insulators and molecules
    double kpoint_spacing_metal = 0.20;  ///< Å^-1 for metals and metal|insulator interfaces
    double smearing = 0.03;              ///< eV, Fermi-Dirac electronic temperature; 0 = none
    double scf_tolerance = 1e-6;         ///< Hartree-scale energy/density convergence
    int max_scf = 200;
    double fmax = 0.05;                  ///< eV/Å, relaxation force threshold
    int max_relax_steps = 100;
    std::string dispersion = "none";     ///< "none" | "d3bj" (Grimme D3 with Becke-Johnson damping)

    /// The k-point spacing for a system of this electronic character.
    double kpoint_spacing_for(bool metallic) const { return metallic ? kpoint_spacing_metal : kpoint_spacing; }
    nlohmann::json to_json() const;
    /// The protocol as task hashes of in-process potentials (EMT...) saw it before the
    /// per-character k-spacing and dispersion existed: those calculators ignore both, and
    /// their earlier runs stay reusable.
    nlohmann::json identity_v1() const;
    /// Named protocol ("plumbing", "fast", "standard", "precise") with optional overrides;
    /// throws InputError naming the field.
    static Protocol from_json(const nlohmann::json& j, const std::string& source);
};

/// What a workflow knows about the system that an electronic-structure code needs and cannot
/// tell from the atoms: the electronic character of the host (k-point density, SCF mixing, the
/// automatic spin rule), whether the cell is a slab with vacuum along c (dipole correction), and
/// how spin is treated. In-process potentials ignore it.
enum class Electronic { Unknown, Metal, Insulator };
enum class SpinTreatment { Auto, Restricted, Unrestricted };
const char* to_string(Electronic e);
const char* to_string(SpinTreatment s);
/// Throws InputError naming `field` for an unknown name ("metal", "insulator"; "auto",
/// "restricted", "unrestricted").
Electronic electronic_from_string(const std::string& name, const std::string& source, const std::string& field);
SpinTreatment spin_from_string(const std::string& name, const std::string& source, const std::string& field);

enum class CalculationKind { SinglePoint, Relaxation };
const char* to_string(CalculationKind k);

struct CalculationRequest {
    structures::Structure structure;  ///< fixed atoms come from Atom::fixed
    CalculationKind kind = CalculationKind::SinglePoint;
    Protocol protocol;
    int charge = 0;
    int spin_multiplicity = 0;        ///< 0 = let the plugin decide (SpinTreatment); > 0 starts UKS there
    std::string label;                ///< human-readable, e.g. "Al(111)+Li fcc hollow"
    Electronic electronic = Electronic::Unknown;  ///< unknown counts as metal (denser k-points)
    bool slab = false;                ///< vacuum along c: a dipole correction along z
    SpinTreatment spin = SpinTreatment::Auto;
};

/// How to run a prepared calculation: the executor's only view of a DFT code.
struct LaunchSpec {
    std::vector<std::string> argv;          ///< argv[0] resolved through PATH by the executor
    std::filesystem::path workdir;
    int cores = 1;
    std::string stdout_file = "stdout.txt"; ///< relative to workdir
    std::string stderr_file = "stderr.txt";
    std::map<std::string, std::string> environment;  ///< added to the inherited environment
};

struct CalculationResult {
    /// eV, the energy of the final structure that binding energies and barriers use: with
    /// smearing the σ→0 estimate E0 = F − ½(−TS) (VASP's "energy(sigma->0)"), otherwise E.
    double energy = 0;
    std::optional<double> free_energy;               ///< eV, Mermin free energy F = E − TS (what forces belong to)
    /// What the calculation was, as the code was told and as it printed it (basis and potential per
    /// element, cutoffs, k-mesh, smearing, spin and final moment, dipole correction, dispersion,
    /// fixed atoms): stored with every result so that a reader can judge a number (docs/protocols.md).
    nlohmann::json physics = nlohmann::json::object();
    std::vector<Eigen::Vector3d> forces;             ///< eV/Å, per atom of final structure
    structures::Structure structure;                 ///< final (relaxed) structure
    bool scf_converged = false;
    bool geometry_converged = false;                 ///< true for single points
    int ionic_steps = 0;
    std::string code;                                ///< "cp2k"
    std::string code_version;                        ///< as printed by the code
    double max_force() const;                        ///< eV/Å over non-fixed atoms
    nlohmann::json to_json() const;
    static CalculationResult from_json(const nlohmann::json& j);
};

/// A calculator plugin. Instances are configured from the workflow's `calculator:` block.
class Calculator {
public:
    virtual ~Calculator() = default;
    virtual std::string name() const = 0;
    /// Version of the plugin's input generation; part of every task hash.
    virtual std::string plugin_version() const = 0;
    /// Settings that change results (executable flavour excluded); part of every task hash.
    virtual nlohmann::json hashed_settings() const = 0;
    /// Checks that the code can run here (executable on PATH, data files); throws ExecutionError.
    virtual void check_available() const = 0;

    /// Writes the input files for `request` into `dir` (which exists).
    virtual void write_inputs(const CalculationRequest& request, const std::filesystem::path& dir) const = 0;
    /// The command that runs the prepared calculation on `cores` cores.
    virtual LaunchSpec launch(const std::filesystem::path& dir, int cores) const = 0;
    /// Parses the finished run; throws CalculationError (unconverged, crashed) or ParseError.
    virtual CalculationResult parse(const CalculationRequest& request, const std::filesystem::path& dir) const = 0;
    /// After a batch system stopped the run in `dir` at its time limit: prepares `dir` so that
    /// launching the same command again continues the calculation (its last geometry, its last
    /// wavefunction) instead of starting over, and keeps the stopped run's output beside it.
    /// Returns false when there is nothing to continue from (the run then starts over).
    /// Throws ExecutionError when the folder cannot be prepared.
    virtual bool prepare_restart(const CalculationRequest& /*request*/, const std::filesystem::path& /*dir*/) const {
        return false;
    }
    /// Non-null for in-process calculators (plugins/builtin/): the engine evaluates this
    /// potential directly, with its own drivers, instead of writing inputs and launching.
    virtual const Potential* potential() const { return nullptr; }
};

using CalculatorFactory = std::function<std::unique_ptr<Calculator>(const nlohmann::json& config,
                                                                    const std::string& source)>;

struct CalculatorInfo {
    std::string name;
    std::string description;
    std::vector<std::string> capabilities;  ///< "single_point", "relaxation", "kpoints", ...
    CalculatorFactory create;

    bool has(const std::string& capability) const {
        return std::find(capabilities.begin(), capabilities.end(), capability) != capabilities.end();
    }
    /// An electronic-structure code (CP2K, QE, VASP): it takes k-points, so the workflow tells it
    /// the electronic character, the slab geometry and the spin treatment, gives slabs and atoms
    /// more vacuum, and it records the physics of each calculation. In-process potentials do none.
    bool electronic_structure() const { return has("kpoints"); }
};

/// Registry of calculator plugins; each plugin adds itself with one line in registry.cpp.
/// Lookup, names() (registration order) and the duplicate check come from Registry<Info>.
class CalculatorRegistry : public Registry<CalculatorInfo> {
public:
    static CalculatorRegistry& instance();
    /// Throws InputError (field "calculator.code") with a "did you mean" list for unknown names.
    std::unique_ptr<Calculator> create(const std::string& name, const nlohmann::json& config,
                                       const std::string& source) const;
    const CalculatorInfo& info(const std::string& name, const std::string& source) const;
private:
    CalculatorRegistry();
};

}  // namespace interphase::plugins
