// The results of CI-NEB bands (`hops:` of a binding-energy workflow, or `workflow: neb`): barriers,
// profile, saddle and end points. Its ResultSection writes /neb of results.h5
// (docs/results-hdf5.md) and the hop table.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace interphase::workflows {
struct ResultSection;
}

namespace interphase::workflows::neb {

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

/// /neb: every band with its profile and structures.
ResultSection results_section();

}  // namespace interphase::workflows::neb
