// Lattice utilities that keep the Cartesian frame of the input (unlike spglib's standardisation,
// which may rotate the cell): the pure translations of a crystal and its primitive cell.
#pragma once

#include <vector>

#include "structures/structure.hpp"

namespace interphase::structures {

/// Fractional translations t in [0,1)^3 (including 0) that map the structure onto itself,
/// species by species, within `tolerance` Å.
std::vector<Eigen::Vector3d> pure_translations(const Structure& s, double tolerance = 1e-3);

/// A primitive cell of `s` in the same Cartesian frame: shortest reduced vectors spanning the
/// lattice of pure translations. Tags are dropped; species and positions kept.
Structure primitive_of(const Structure& s, double tolerance = 1e-3);

}  // namespace interphase::structures
