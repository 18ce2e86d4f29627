// The results of `workflow: binding_energy`: per host the adsorbate binding energy at every site
// (and the lowest), per pair ΔE with the migration barriers beside it. Its ResultSection writes
// /binding_energy and /delta_e of results.h5 (docs/results-hdf5.md) and their tables.
#pragma once

#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace interphase::workflows {
struct ResultSection;
}

namespace interphase::workflows::binding_energy {

struct SiteResult {
    std::string site;
    double total_energy = 0;     ///< eV, relaxed host + adsorbate
    double binding_energy = 0;   ///< eV
    bool geometry_converged = false;
};

struct HostResult {
    std::string host;            ///< e.g. "Al(111)", or "Al|Cu[A]" for side A of an interface host
    std::string kind = "surface";  ///< "surface" | "bulk" | "interface" | "molecule" (HostKind)
    /// The crystal the host is cut from ("Al"; an interface side: that side's crystal).
    std::string phase;
    /// An interface host's side: the interface's name and its crystals; else empty.
    std::string interface, phase_a, phase_b;
    std::string adsorbate;
    std::string reference;       ///< "isolated_atom" | "bulk"
    double mu = 0;               ///< eV per adsorbate atom of the reference
    double host_energy = 0;      ///< eV, relaxed clean host (slab, bulk supercell, interface, molecule box)
    double binding_energy = 0;   ///< eV, lowest over sites
    std::string best_site;
    std::vector<SiteResult> sites;
    nlohmann::json slab_info;    ///< the built host's info: Miller index, termination, area...
    nlohmann::json relaxed_host; ///< structure JSON of the relaxed clean host
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
    /// True for the in-situ row of an interface host (A and B are its two sides).
    bool in_situ = false;
    /// The interface whose barrier this row carries: for an in-situ row its own interface; for
    /// a pair of separate hosts an interface host between the same two crystals (the one with
    /// the lowest converged barrier); else "". Its lowest converged barrier A → B and B → A (eV).
    std::string interface;
    double interface_barrier = std::numeric_limits<double>::quiet_NaN();
    double interface_barrier_reverse = std::numeric_limits<double>::quiet_NaN();
};

/// /binding_energy and /delta_e (hosts, pairs and the barriers beside ΔE).
ResultSection results_section();

}  // namespace interphase::workflows::binding_energy
