// Neighbour pairs for the in-process potentials: every pair of atoms (including periodic
// images, and an atom with its own images in small cells) closer than a cutoff, each pair
// once. Built with a cell list over the atoms and the periodic images that lie within the
// cutoff of the cell, so the cost grows linearly with the number of atoms; directions with
// pbc false get no images (slabs: (T,T,F); molecules in a box: (F,F,F)).
#pragma once

#include <Eigen/Dense>
#include <array>
#include <cstddef>
#include <vector>

#include "plugins/potential.hpp"
#include "structures/structure.hpp"

namespace interphase::plugins::builtin {

/// One neighbour pair: atom i and an image of atom j (possibly i itself).
struct NeighborPair {
    std::size_t i = 0;
    std::size_t j = 0;
    std::array<int, 3> image{0, 0, 0};  ///< lattice translation of j, relative to the stored positions
    Eigen::Vector3d d{0, 0, 0};         ///< Å, from atom i to the image of j
    double r = 0;                       ///< Å, |d|
};

/// All pairs with r <= cutoff, each unordered pair once (i < j, or i == j with a positive
/// image). Throws StructureError for a singular lattice, non-finite coordinates, two atoms
/// at the same place, or a cell so thin along a periodic direction that the images needed
/// would number in the tens of millions.
std::vector<NeighborPair> neighbor_pairs(const structures::Structure& s, double cutoff);

/// What a pair potential contributes for one pair: its energy and `g`, the gradient of that
/// energy with respect to d = r_j - r_i, which is the force on atom i (and minus it on j).
struct PairTerm {
    double energy = 0;
    Eigen::Vector3d g{0, 0, 0};
};

/// Energy, forces and (periodic structures) stress of a pair potential: `term(pair)` gives each
/// pair's PairTerm within `cutoff`; the stress is the virial sum of g dᵀ over the cell volume.
template <class Term>
EnergyForces sum_pair_terms(const structures::Structure& s, double cutoff, Term term) {
    EnergyForces out;
    out.forces.assign(s.size(), Eigen::Vector3d::Zero());
    Eigen::Matrix3d virial = Eigen::Matrix3d::Zero();
    for (const auto& pr : neighbor_pairs(s, cutoff)) {
        const PairTerm t = term(pr);
        out.energy += t.energy;
        out.forces[pr.i] += t.g;
        out.forces[pr.j] -= t.g;
        virial += t.g * pr.d.transpose();
    }
    const auto& pbc = s.pbc();
    out.has_stress = pbc[0] || pbc[1] || pbc[2];
    if (out.has_stress) out.stress = virial / s.volume();
    return out;
}

}  // namespace interphase::plugins::builtin
