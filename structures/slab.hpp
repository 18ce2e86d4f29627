// Slabs: a bulk crystal cut along a Miller plane, with vacuum, layers tagged from the bottom and
// the bottom layers fixed for relaxations.
//
// The plane (hkl) is given in the basis of the structure as the user reads it (usually the
// conventional cell). The builder works on the primitive cell, so the in-plane cell is the
// smallest one (Al(111): one atom per layer), then repeats it with `supercell`.
// A termination is where the cut falls between two atomic planes; candidate cuts are the
// midpoints between consecutive planes of the oriented unit cell (as pymatgen's SlabGenerator
// shifts), listed with the gap they cut through.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "structures/structure.hpp"

namespace interphase::structures {

struct SlabSpec {
    std::array<int, 3> miller{1, 1, 1};
    int layers = 3;               ///< repeats of the interplanar period d_hkl (Al(111): atomic layers)
    double vacuum = 12.0;         ///< Å of vacuum between periodic images along the normal
    std::array<int, 2> supercell{1, 1};
    /// Which termination: index into terminations() (sorted by decreasing gap), or empty for 0.
    std::optional<int> termination_index;
    /// Alternatively the species that must form the top plane (e.g. "S"); overrides the index.
    std::optional<std::string> termination_species;
    int fix_bottom_layers = 0;    ///< atomic planes fixed from the bottom
    double fix_bottom = 0.0;      ///< or: Å from the lowest atom fixed (whichever fixes more)
    double plane_tolerance = 0.1; ///< Å, atoms closer than this along the normal share a plane
};

/// One way to cut the crystal along (hkl).
struct Termination {
    int index = 0;
    double shift = 0;          ///< cut position as a fraction of d_hkl in the oriented cell
    double gap = 0;            ///< Å, distance between the two planes the cut passes between
    std::string top_species;   ///< species of the topmost plane, e.g. "Li" or "Li,S"
    std::string bottom_species;
    std::string label() const { return top_species; }
};

/// The oriented unit cell: a1, a2 span the (hkl) plane, a3 completes a cell of the same volume.
struct OrientedCell {
    Structure cell;
    std::array<int, 3> miller_primitive{};
    Eigen::Matrix3i transformation;  ///< rows: a_i = sum_j T_ij p_j (p = primitive vectors)
    double d_spacing = 0;            ///< Å, height of a3 along the normal
};

/// Reduced Miller indices (divided by their gcd); throws InputError for (0,0,0).
std::array<int, 3> reduce_miller(const std::array<int, 3>& hkl);
/// Parses "1,1,1", "111", "1 1 -1" or a 4-index hexagonal "1,0,-1,0" (i = -(h+k) is dropped).
std::array<int, 3> parse_miller(const std::string& text, const std::string& source);

OrientedCell oriented_cell(const Structure& bulk, const std::array<int, 3>& miller);
/// All candidate terminations of (hkl), sorted by decreasing gap (the first cuts the widest gap).
std::vector<Termination> terminations(const Structure& bulk, const std::array<int, 3>& miller,
                                      double plane_tolerance = 0.1);
/// Builds the slab: normal along z, a1 along x, slab centred in the cell, Atom::layer from the
/// bottom (0), Atom::fixed per spec, pbc = (T, T, F), info: miller, termination, shift, area,
/// d_hkl, layers.
Structure build_slab(const Structure& bulk, const SlabSpec& spec);

/// Assigns Atom::layer by clustering heights along z (Cartesian) with `tolerance` Å; returns the
/// number of layers.
int assign_layers(Structure& slab, double tolerance);

}  // namespace interphase::structures
