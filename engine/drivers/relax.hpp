// Geometry relaxation: moves the free atoms of a structure downhill until every free atom
// feels a force below fmax. Code-agnostic: energies and forces come from a ForceProvider
// (forces.hpp), one structure per call, so the same driver relaxes with an in-process
// potential or with single points of an external code.
//
// Two optimizers, each a step-for-step port of ASE 3.22 so that results and force-call counts
// can be compared with ASE directly:
//  - FIRE (Bitzek et al., Phys. Rev. Lett. 97, 170201 (2006)) as ase.optimize.FIRE:
//    unit masses, velocity mixing and adaptive time step, the step capped on its whole norm;
//  - L-BFGS (Nocedal, Math. Comp. 35, 773 (1980)) as ase.optimize.LBFGS: two-loop recursion
//    with a constant initial inverse Hessian 1/alpha, no line search, the step scaled so the
//    atom that moves most moves at most maxstep.
// Fixed atoms (Atom::fixed) feel no force in the optimizer and never move (as ASE's FixAtoms).
//
// Every step is kept in the trajectory (structure, energy, fmax, forces), which can be written
// as multi-frame extended XYZ. The optimizer's memory after the last step is a RelaxState: with
// it, resume() continues exactly where the run stopped (after a max_steps stop, a crash of the
// engine, or a change of fmax); a trajectory file alone restarts from its last frame with a
// fresh optimizer. docs/drivers.md, section "Relaxation", documents both.
#pragma once

#include <Eigen/Dense>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/drivers/forces.hpp"
#include "plugins/calculator.hpp"
#include "structures/structure.hpp"

namespace interphase::engine::drivers {

enum class RelaxOptimizer { Fire, Lbfgs };
const char* to_string(RelaxOptimizer o);

/// ase.optimize.FIRE's defaults. dt is in ASE's FIRE units (unit masses: v += dt F, x += dt v).
struct FireParameters {
    double dt = 0.1;       ///< initial time step
    double maxstep = 0.2;  ///< Å, cap on the norm of the whole step (all atoms together), as ASE
    double dtmax = 1.0;    ///< largest time step
    int nmin = 5;          ///< downhill steps before dt may grow
    double finc = 1.1;     ///< dt growth factor
    double fdec = 0.5;     ///< dt reduction factor after an uphill step
    double astart = 0.1;   ///< velocity-mixing parameter after a restart of the dynamics
    double fa = 0.99;      ///< mixing decay per downhill step
};

/// ase.optimize.LBFGS's defaults.
struct LbfgsParameters {
    int memory = 100;      ///< (step, gradient change) pairs kept
    double damping = 1.0;  ///< the step is multiplied by this
    double alpha = 70.0;   ///< eV/Å², initial Hessian guess (the inverse Hessian starts at 1/alpha)
    double maxstep = 0.2;  ///< Å, largest displacement of any atom in one step
};

struct RelaxOptions {
    RelaxOptimizer optimizer = RelaxOptimizer::Fire;
    double fmax = 0.05;  ///< eV/Å, converged when every free atom feels less (strictly, as ASE)
    /// Optimizer steps, counted over restarts: a resumed run stops at the same step as an
    /// uninterrupted one. The start is step 0, so force calls <= max_steps + 1.
    int max_steps = 1000;
    FireParameters fire;
    LbfgsParameters lbfgs;

    /// Keys: "optimizer" ("fire" | "lbfgs"), "fmax", "max_steps", and "fire"/"lbfgs" objects
    /// with the parameter names above. Unknown keys and bad values throw InputError naming
    /// `source` and the field, with "did you mean".
    static RelaxOptions from_json(const nlohmann::json& j, const std::string& source);
    nlohmann::json to_json() const;
};

/// One evaluated geometry of the relaxation.
struct RelaxFrame {
    int step = 0;                        ///< 0 = the start
    structures::Structure structure;
    double energy = 0;                   ///< eV
    double fmax = 0;                     ///< eV/Å, largest force on a free atom
    std::vector<Eigen::Vector3d> forces; ///< eV/Å, as the ForceProvider returned them (fixed atoms included)
};

/// The optimizer's memory after a step, together with the last evaluated frame: everything
/// resume() needs to continue bit for bit. JSON-serialisable for the engine's store.
struct RelaxState {
    RelaxOptimizer optimizer = RelaxOptimizer::Fire;
    RelaxFrame last;       ///< the geometry the next step starts from, with its energy and forces
    int force_calls = 0;   ///< so far, over all restarts

    // FIRE (ASE names: v, dt, a, Nsteps)
    std::vector<Eigen::Vector3d> velocity;  ///< empty before the first step
    double dt = 0;
    double a = 0;
    int downhill_steps = 0;

    // L-BFGS (ASE names: iteration, s, y, rho, r0, f0)
    int iteration = 0;
    std::vector<Eigen::VectorXd> s;  ///< position changes, Å
    std::vector<Eigen::VectorXd> y;  ///< gradient changes, eV/Å
    std::vector<double> rho;         ///< 1 / (y·s)
    Eigen::VectorXd r0;              ///< positions of the previous step (Å)
    Eigen::VectorXd f0;              ///< masked forces of the previous step (eV/Å)

    nlohmann::json to_json() const;
    /// Throws InputError naming `source` and the field on malformed input.
    static RelaxState from_json(const nlohmann::json& j, const std::string& source);
};

struct RelaxResult {
    bool converged = false;
    int steps = 0;          ///< optimizer steps, counted over restarts
    int force_calls = 0;    ///< ForceProvider evaluations, counted over restarts
    structures::Structure structure;      ///< the final geometry
    double energy = 0;                    ///< eV
    double fmax = 0;                      ///< eV/Å, over free atoms
    std::vector<Eigen::Vector3d> forces;  ///< eV/Å at the final geometry
    /// This run's frames: from step 0 for relax(), from the first new step for resume(), so
    /// that appending a resumed run's trajectory to the file of the interrupted one gives the
    /// file of an uninterrupted run.
    std::vector<RelaxFrame> trajectory;
    RelaxState state;                     ///< to resume from the final geometry

    /// The result as a calculator result (code names the potential or program).
    plugins::CalculationResult to_calculation_result(const std::string& code) const;
};

/// Relaxes `start` from scratch. Throws StructureError for an empty structure,
/// CalculationError when the ForceProvider returns the wrong number of results or atoms, or
/// non-finite energies or forces; InputError for invalid options.
RelaxResult relax(const structures::Structure& start, const ForceProvider& forces, const RelaxOptions& options);

/// Continues a relaxation from its state (same optimizer; fmax and max_steps may change),
/// without evaluating the last frame again.
RelaxResult resume(const RelaxState& state, const ForceProvider& forces, const RelaxOptions& options);

/// Writes frames as multi-frame extended XYZ (ASE reads it with ase.io.read(path, ':')):
/// each frame's comment carries energy (eV, which ASE reads as the frame's energy), fmax
/// (eV/Å) and step. Atomic (temporary file + rename); append = true adds to an existing file.
void write_trajectory(const std::filesystem::path& path, const std::vector<RelaxFrame>& frames, bool append = false);

/// Reads a file written by write_trajectory: structure, step, energy and fmax of each frame
/// (forces are not stored). Throws ParseError naming the file and line.
std::vector<RelaxFrame> read_trajectory(const std::filesystem::path& path);

}  // namespace interphase::engine::drivers
