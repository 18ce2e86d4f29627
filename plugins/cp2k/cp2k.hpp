// The CP2K calculator plugin: maps a code-agnostic CalculationRequest onto a CP2K Quickstep
// input (GPW, GTH pseudopotentials, MOLOPT basis sets), describes how to run cp2k.psmp, and
// parses its text output back into Interphase units (Å, eV, eV/Å), classifying failures
// (SCF or geometry not converged, crash, truncated or missing output) as CalculationError.
//
// The pieces are exposed separately so they can be tested without running CP2K: the input
// text is a pure function of (request, settings) — golden-file testable — and the output
// parser is a pure function of the output text. docs/plugins/cp2k.md documents the protocol
// mapping, the configuration keys and the error classification.
#pragma once

#include <array>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "plugins/calculator.hpp"

namespace interphase::plugins::cp2k {

/// Version of the input generation; part of every task hash. Bump it whenever write_input()
/// changes what CP2K computes.
inline constexpr const char* kPluginVersion = "cp2k-plugin/4";

/// The `calculator:` block of a workflow (minus `code`), validated.
struct Settings {
    std::string executable = "cp2k.psmp";
    std::string launcher = "mpirun";            ///< "none" | "mpirun"; default measured (docs)
    std::filesystem::path data_dir = "/usr/share/cp2k";
    std::string basis_file;                     ///< "" = the protocol's; relative names resolve in data_dir
    std::string potential_file;                 ///< "" = the protocol's
    std::string basis_set;                      ///< override for every element ("" = protocol's)
    std::map<std::string, std::string> element_basis_sets;  ///< per-element overrides
    std::optional<double> cutoff;               ///< Ry, overrides the protocol's
    std::optional<double> rel_cutoff;           ///< Ry, overrides the protocol's

    /// A data file name as CP2K will open it: relative names resolve in data_dir.
    std::filesystem::path resolve(const std::string& file) const;

    /// Throws InputError naming `source` and the field ("calculator.<key>"), with a
    /// "did you mean" for unknown keys.
    static Settings from_json(const nlohmann::json& config, const std::string& source);
    nlohmann::json to_json() const;
};

/// Numerical settings that follow from the protocol's precision and the overrides
/// (docs/protocols.md has the table and the measured errors).
struct Numerics {
    std::string basis_set;             ///< default basis for elements without a per-element override
    bool basis_valence_suffix = false; ///< append "-qN" (the element's GTH valence): the UZH sets
    std::string basis_file;            ///< as named (BASIS_MOLOPT, BASIS_MOLOPT_UZH, or the override)
    std::string potential_file;        ///< GTH_POTENTIALS, POTENTIAL_UZH, or the override
    double cutoff = 0;                 ///< Ry, finest grid
    double rel_cutoff = 0;             ///< Ry, Gaussian-to-grid mapping
    int ngrids = 4;                    ///< MGRID/NGRIDS
    double eps_default = 0;            ///< QS/EPS_DEFAULT
    std::filesystem::path basis_path;      ///< basis_file resolved in the data folder
    std::filesystem::path potential_path;  ///< potential_file resolved in the data folder
};
/// Throws InputError for an unknown precision.
Numerics numerics(const Protocol& protocol, const Settings& settings);

/// Monkhorst-Pack mesh n_i = max(1, ceil(|b_i| / spacing)), b_i the reciprocal vectors
/// including 2π (Å^-1); 1 along non-periodic directions.
std::array<int, 3> kpoint_mesh(const structures::Structure& s, double spacing);

/// Valence electrons of `element` for the GTH pseudopotential that matches `basis_set`: read
/// from the "-qN" alias of the basis entry in `basis_file`, or from a built-in table of the
/// GTH-PBE defaults when the file cannot be read. Throws InputError when the file has no such
/// basis for the element.
int valence_electrons(const std::string& element, const std::string& basis_set,
                      const std::filesystem::path& basis_file);

/// The complete cp2k.inp text for `request`. Deterministic: the same request and settings
/// give the same bytes. Throws InputError for impossible requests (unknown functional, spin
/// multiplicity inconsistent with the electron count, empty structure...).
/// `wavefunction_restart`, when not empty, is a wavefunction file of an earlier run of the same
/// system (cp2k-RESTART.wfn or .kp): the SCF starts from it (SCF_GUESS RESTART).
std::string write_input(const CalculationRequest& request, const Settings& settings,
                        const std::string& wavefunction_restart = "");
/// The input text and what it asks CP2K to compute (basis and potential per element, cutoffs,
/// k-mesh, smearing, spin treatment, dipole correction, dispersion, fixed atoms): the
/// `physics` record stored with every result.
struct InputPlan {
    std::string text;
    nlohmann::json physics;
};
InputPlan plan_input(const CalculationRequest& request, const Settings& settings,
                     const std::string& wavefunction_restart = "");

/// Everything the parser reads from one CP2K output text (cp2k.out). Energies in Hartree and
/// forces in Hartree/Bohr, as printed: conversion happens in Calculator::parse.
struct Cp2kOutput {
    std::string version;                         ///< "CP2K version 2023.1"
    std::string run_type;                        ///< "ENERGY_FORCE", "GEO_OPT" (GLOBAL| Run type)
    std::vector<double> energies;                ///< every ENERGY| Total FORCE_EVAL line, Hartree
    /// Every "Electronic entropic energy:" line (Hartree): −TS of the smeared occupations,
    /// included in the total (free) energy. Empty without smearing.
    std::vector<double> entropic_energies;
    /// Last "Integrated absolute spin density" (electrons), UKS only.
    std::optional<double> absolute_spin_density;
    std::vector<Eigen::Vector3d> forces;         ///< last ATOMIC FORCES block, Hartree/Bohr
    std::vector<bool> scf_converged;             ///< one entry per SCF run, in order
    std::vector<int> scf_steps;                  ///< steps of each converged SCF run (0 if not)
    int optimization_steps = 0;                  ///< last "OPTIMIZATION STEP: N"
    bool geometry_completed = false;             ///< "GEOMETRY OPTIMIZATION COMPLETED"
    bool max_steps_reached = false;              ///< "MAXIMUM NUMBER OF OPTIMIZATION STEPS REACHED"
    std::vector<std::string> aborts;             ///< message of every [ABORT] box (with location)
    bool program_ended = false;                  ///< "PROGRAM ENDED AT" present

    bool final_scf_converged() const { return !scf_converged.empty() && scf_converged.back(); }
    /// Last total energy in eV (0 when there is none).
    double final_energy_ev() const;
};

/// Parses the text of a CP2K output. Only the last run in the text is read (cp2k -o appends
/// to an existing file). Never throws for incomplete text: classification is the caller's.
/// `source` names the text in ParseError messages (malformed numbers).
Cp2kOutput parse_output(const std::string& text, const std::string& source);

/// The last frame of a CP2K XYZ trajectory (cp2k-pos-1.xyz): species and Cartesian Å.
struct XyzFrame {
    std::vector<std::string> species;
    std::vector<Eigen::Vector3d> positions;
};
/// Throws ParseError (file, line) on malformed text or when there is no complete frame.
XyzFrame parse_last_xyz_frame(const std::string& text, const std::string& source);

/// Throws the CalculationError that the output calls for, in this order: Crashed (an ABORT
/// box; ScfNotConverged when the abort is CP2K refusing an unconverged SCF), Truncated (no
/// PROGRAM ENDED AT), Crashed (no energy), ScfNotConverged (the final SCF run),
/// GeometryNotConverged (a relaxation without GEOMETRY OPTIMIZATION COMPLETED). `file` names
/// the output in every message.
void check_output(const CalculationRequest& request, const Cp2kOutput& out, const std::string& file);

/// check_output, then the result in eV and eV/Å. `final_positions` (Cartesian Å), when given,
/// replace the request's positions (relaxations); the request's atom order, tags and cell are
/// kept. Throws ParseError when the forces (or positions) do not match the atom count.
CalculationResult make_result(const CalculationRequest& request, const Cp2kOutput& out, const std::string& file,
                              const std::vector<Eigen::Vector3d>* final_positions = nullptr);

/// Whether `file` is a complete CP2K wavefunction restart file: every Fortran record whole
/// and, for Γ-point .wfn files, exactly the records its header announces (spins × orbitals).
/// A SIGTERM while CP2K rewrites the file leaves it empty or cut short.
bool wavefunction_complete(const std::filesystem::path& file);

/// The newest complete wavefunction a stopped run left in `dir`: cp2k-RESTART.wfn, else its
/// backups cp2k-RESTART.wfn.bak-N (CP2K renames the old file before writing the new one), then
/// the same for .kp (k-points). nullopt when there is none.
std::optional<std::filesystem::path> last_complete_wavefunction(const std::filesystem::path& dir);

/// The CP2K calculator (registered as "cp2k").
class Cp2kCalculator final : public Calculator {
public:
    explicit Cp2kCalculator(Settings settings) : settings_(std::move(settings)) {}
    std::string name() const override { return "cp2k"; }
    std::string plugin_version() const override { return kPluginVersion; }
    nlohmann::json hashed_settings() const override;
    void check_available() const override;
    void write_inputs(const CalculationRequest& request, const std::filesystem::path& dir) const override;
    LaunchSpec launch(const std::filesystem::path& dir, int cores) const override;
    CalculationResult parse(const CalculationRequest& request, const std::filesystem::path& dir) const override;
    /// Continues a run stopped at its time limit: a relaxation restarts from the last frame of
    /// cp2k-pos-1.xyz (with a fresh optimizer), the SCF from the last complete wavefunction
    /// (last_complete_wavefunction); the stopped
    /// run's cp2k.out and trajectory are kept as cp2k.out.part-N and trajectory.part-N.xyz.
    bool prepare_restart(const CalculationRequest& request, const std::filesystem::path& dir) const override;
    const Settings& settings() const noexcept { return settings_; }

    static constexpr const char* kInputFile = "cp2k.inp";
    static constexpr const char* kOutputFile = "cp2k.out";
    static constexpr const char* kTrajectoryFile = "cp2k-pos-1.xyz";

private:
    Settings settings_;
};

/// Registry entry: name "cp2k", capabilities, factory from the JSON config.
CalculatorInfo registration();

}  // namespace interphase::plugins::cp2k
