// Climbing-image nudged elastic band (CI-NEB): the minimum-energy path between two relaxed
// states and its saddle point, the migration barrier of SCIENCE.md. Code-agnostic: the driver
// owns the band and the optimizer, and asks a ForceProvider for energies and forces of all
// images of an iteration in ONE batch, so the engine can run them as parallel tasks of any code.
//
// Forces follow Henkelman & Jónsson, J. Chem. Phys. 113, 9978 (2000) (improved tangent, spring
// force along the tangent from the spring lengths) and Henkelman, Uberuaga & Jónsson, J. Chem.
// Phys. 113, 9901 (2000) (climbing image: full force with the tangential part inverted). The
// definitions are those of ASE 3.22's NEB(method='improvedtangent', climb=True), so the band
// optimizers (FIRE and BFGS with ASE's semantics, acting on the whole band as one vector, and a
// global L-BFGS) can be compared call for call with ASE; see docs/drivers.md, section "NEB".
#pragma once

#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/drivers/forces.hpp"
#include "structures/structure.hpp"

namespace interphase::engine::drivers {

/// How the band moves downhill in the NEB force. All act on the concatenated free coordinates
/// of the moving images (as ASE's optimizers act on an NEB object).
enum class BandOptimizer {
    Fire,   ///< FIRE (Bitzek et al. 2006) exactly as ase.optimize.FIRE (step cap on the whole band)
    Bfgs,   ///< dense BFGS as ase.optimize.BFGS (fixed initial Hessian alpha, per-atom step cap) + a curvature guard
    Lbfgs,  ///< global L-BFGS (Sheppard, Terrell & Henkelman 2008): scaled initial Hessian, uphill reset
};
const char* to_string(BandOptimizer o);
/// "fire", "bfgs", "lbfgs" (case-insensitive); InputError naming `source` and `field` otherwise.
BandOptimizer parse_band_optimizer(const std::string& name, const std::string& source, const std::string& field);

/// Every knob of the driver, in Interphase units. Defaults follow ASE's NEB and optimizers.
struct NebOptions {
    double spring = 0.1;     ///< spring constant k between neighbouring images, eV/Å²
    double fmax = 0.05;      ///< converged when every free atom of every moving image feels an NEB force below this, eV/Å
    bool climb = true;       ///< use a climbing image (the highest-energy moving image)
    /// The climbing image switches on once the band's NEB fmax falls below this (eV/Å); the
    /// default `kClimbFromStart` climbs from the first iteration, as ASE's climb=True.
    double climb_after = std::numeric_limits<double>::infinity();
    BandOptimizer optimizer = BandOptimizer::Lbfgs;
    int max_iterations = 1000;  ///< optimizer steps of this call (band evaluations after the first one)
    double max_step = 0.2;      ///< Å; FIRE: on the whole band step (as ASE), BFGS/L-BFGS: per atom

    // FIRE, as ase.optimize.FIRE's defaults (dt in ASE's FIRE units: positions += dt * v, v += dt * F).
    double fire_dt = 0.1;
    double fire_dt_max = 1.0;
    int fire_n_min = 5;
    double fire_f_inc = 1.1;
    double fire_f_dec = 0.5;
    double fire_alpha_start = 0.1;
    double fire_f_alpha = 0.99;

    double bfgs_alpha = 70.0;   ///< eV/Å²: BFGS's initial Hessian; L-BFGS's first and steepest-descent steps are f/alpha
    int lbfgs_memory = 20;      ///< stored (step, force change) pairs of L-BFGS
};

/// `climb_after` value for climbing from the first iteration.
inline constexpr double kClimbFromStart = std::numeric_limits<double>::infinity();

/// Options from a JSON (or YAML-converted) mapping: "spring", "fmax", "climb", "climb_after"
/// (eV/Å or "start"), "optimizer", "max_iterations", "max_step", and the blocks "fire" {dt, dtmax,
/// nmin, finc, fdec, astart, fa}, "bfgs" {alpha}, "lbfgs" {memory} (the relaxation driver's
/// spelling). Unknown keys ("did you mean") and bad values throw InputError naming `source` and
/// the key, e.g. "fire.dt".
NebOptions neb_options_from_json(const nlohmann::json& j, const std::string& source);
nlohmann::json to_json(const NebOptions& o);

/// The band after a run, converged or not: profile, barriers, saddle, and what it cost.
struct NebResult {
    std::vector<structures::Structure> images;  ///< the last band, endpoints included (restart point)
    std::vector<double> energies;               ///< eV, one per image
    std::vector<double> reaction_coordinate;    ///< Å, cumulative minimum-image path length from images[0]
    std::vector<double> image_fmax;             ///< eV/Å, largest NEB force per image (0 for endpoints)
    double fmax = 0;                            ///< eV/Å, largest NEB force of the band (the convergence measure)
    double forward_barrier = 0;                 ///< eV, max image energy - energy of images[0]
    double reverse_barrier = 0;                 ///< eV, max image energy - energy of images.back()
    std::size_t saddle_index = 0;               ///< the highest moving image (the climbing image when climbing)
    bool climbing = false;                      ///< whether the climbing image was on at the end
    bool converged = false;
    int iterations = 0;                         ///< optimizer steps, summed over restarts
    long force_calls = 0;                       ///< single-structure evaluations asked of the provider, summed over restarts

    const structures::Structure& saddle() const { return images.at(saddle_index); }
};

/// Called after every band evaluation with the current state (a valid restart point).
using NebObserver = std::function<void(const NebResult&)>;

/// Runs CI-NEB from `path` (images including both endpoints, all with the same atoms in the
/// same order, the same lattice and pbc; fixed atoms at the same place in every image). The
/// first batch holds every image (endpoint energies are needed by the improved tangent), every
/// later batch the moving images only. Not converging within max_iterations is not an error:
/// the result says converged = false. Throws InputError (source "neb", the field named) for a
/// bad path or options; provider errors propagate.
NebResult run_neb(const std::vector<structures::Structure>& path, const NebOptions& options,
                  const ForceProvider& forces, const NebObserver& observer = {});

/// Continues from a previous result's band (e.g. read back with neb_result_from_json after a
/// crash, or with a tighter fmax): endpoint energies are reused, so every batch holds only the
/// moving images. The optimizer memory starts afresh; counts add to the previous ones.
NebResult resume_neb(const NebResult& previous, const NebOptions& options, const ForceProvider& forces,
                     const NebObserver& observer = {});

/// Lossless JSON of a result (images in the structure JSON form), for the store and restarts.
nlohmann::json to_json(const NebResult& r);
/// Inverse of to_json; InputError naming `source` and the field on malformed input.
NebResult neb_result_from_json(const nlohmann::json& j, const std::string& source);

}  // namespace interphase::engine::drivers
