// Lattice utilities that keep the Cartesian frame of the input (unlike spglib's standardisation,
// which may rotate the cell): the pure translations of a crystal and its primitive cell, and the
// distance between an atom and its own periodic images (a lone Li in a supercell must not feel
// its images, so NEB and defect cells are sized by it).
#pragma once

#include <array>
#include <vector>

#include "structures/structure.hpp"

namespace interphase::structures {

/// Fractional translations t in [0,1)^3 (including 0) that map the structure onto itself,
/// species by species, within `tolerance` Å.
std::vector<Eigen::Vector3d> pure_translations(const Structure& s, double tolerance = 1e-3);

/// A primitive cell of `s` in the same Cartesian frame: shortest reduced vectors spanning the
/// lattice of pure translations. Tags are dropped; species and positions kept.
Structure primitive_of(const Structure& s, double tolerance = 1e-3);

/// Length (Å) of the shortest nonzero lattice vector over the periodic directions of `s`: the
/// distance from any atom to its nearest periodic image. Exact for any cell, however skewed:
/// the basis is LLL-reduced, then every integer combination that could be shorter than the
/// shortest reduced vector is tried (coefficient i is bounded by |v|·|a_i*|, a_i* the dual
/// basis). Infinity when no direction is periodic. Throws StructureError for a singular lattice.
double min_image_distance(const Structure& s);

/// Diagonal repeats [na, nb, nc] (1..20; 1 along non-periodic directions) of the cell of `s`
/// whose supercell has min_image_distance >= `distance`, with the fewest atoms; ties go to the
/// most isotropic supercell (smallest ratio of its longest to its shortest cell vector), then to
/// the lexicographically smallest repeats. Throws InputError (source "supercell", field
/// "min_image_distance") for a distance that is not positive and finite, or that needs more
/// than 20 repeats along a direction.
std::array<int, 3> supercell_for_min_image_distance(const Structure& s, double distance);

}  // namespace interphase::structures
