// Crystal symmetry through spglib: space-group analysis of a Structure, standardized
// (primitive or conventional) cells, and the space-group operations of spglib's database
// of the 530 Hall settings. The phase prototypes expand their Wyckoff sites with these
// operations and the slab builder uses the conventional cell and the dataset.
//
// spglib's C API hands out malloc'ed datasets and reports failures through a global error
// code; this wrapper owns every dataset in a unique_ptr, serialises calls with a mutex
// (that global is not thread-safe in spglib 2.0) and turns each failure into StructureError.
// Species go to spglib as atomic numbers (structures/elements.hpp), so an unknown symbol
// fails early with the element table's message.
#pragma once

#include <Eigen/Dense>
#include <string>
#include <utility>
#include <vector>

#include "structures/structure.hpp"

namespace interphase::structures {

/// What spglib finds for a Structure: a copy of SpglibDataset in Eigen/std types.
struct SymmetryDataset {
    int number = 0;                 ///< space-group number 1..230
    std::string international;      ///< short Hermann–Mauguin symbol, e.g. "Fm-3m"
    std::string hall;               ///< Hall symbol, e.g. "-F 4 2 3"
    int hall_number = 0;            ///< 1..530, spglib's setting of the standardized cell
    std::string pointgroup;         ///< international point-group symbol, e.g. "m-3m"
    /// Operations of the input cell (fractional): x' = R x + t. Includes pure translations
    /// when the input is a supercell or a centred conventional cell.
    std::vector<Eigen::Matrix3i> rotations;
    std::vector<Eigen::Vector3d> translations;
    /// Wyckoff letter of each input atom ("a", "c"...) in the standardized setting; the
    /// multiplicity is not part of it because spglib 2.0 does not report it.
    std::vector<std::string> wyckoffs;
    /// Index of the first symmetry-equivalent atom for each atom (orbit representative).
    std::vector<int> equivalent_atoms;
    /// (P, p) of spglib: (a_s b_s c_s) = (a b c) P^-1 and x_s = P x + p, relating the input
    /// basis to the standardized one.
    Eigen::Matrix3d transformation = Eigen::Matrix3d::Identity();
    Eigen::Vector3d origin_shift = Eigen::Vector3d::Zero();
};

/// Space group of `s` found by spglib with distance tolerance `symprec` (Å). Treats the
/// cell as periodic in all three directions (slabs with vacuum work: the vacuum is periodic
/// too). Throws StructureError for an empty structure or when spglib fails.
SymmetryDataset analyze_symmetry(const Structure& s, double symprec = 1e-3);

/// spglib's standardized cell (spg_standardize_cell). to_primitive selects the primitive
/// cell, otherwise the conventional one. The cell is idealized (no_idealize = 0): the lattice
/// is rotated to the standard orientation and made exactly symmetric, and positions are
/// symmetrized, so lengths move by at most ~symprec and Cartesian directions may change.
/// Species are kept; per-atom tags (fixed, layer, label) are dropped because atoms are
/// re-created; title and info are copied, with info["cell"] = "primitive" | "conventional".
/// Throws StructureError when spglib cannot standardize.
Structure standardize(const Structure& s, bool to_primitive, double symprec = 1e-3);

inline Structure primitive_cell(const Structure& s, double symprec = 1e-3) {
    return standardize(s, true, symprec);
}
inline Structure conventional_cell(const Structure& s, double symprec = 1e-3) {
    return standardize(s, false, symprec);
}

/// All operations (R, t) of the space-group setting `hall_number` (1..530) from spglib's
/// database, centring translations included, so they generate the full conventional cell.
/// Throws InputError for a Hall number outside 1..530.
std::vector<std::pair<Eigen::Matrix3i, Eigen::Vector3d>> space_group_operations(int hall_number);

/// spglib's default setting of a space group (the first Hall number with that number:
/// origin choice 1, hexagonal axes for R groups, unique axis b). Throws InputError outside 1..230.
int default_hall_number(int space_group_number);

/// One of spglib's 530 space-group settings (spg_get_spacegroup_type).
struct HallSetting {
    int hall_number = 0;
    int number = 0;              ///< space-group number 1..230
    std::string international;   ///< short symbol, e.g. "Fd-3m"
    std::string hall_symbol;     ///< e.g. "-F 4vw 2vw 3"
    std::string choice;          ///< "" or origin choice "1"/"2", "H"/"R" axes, unique axis "b"...
};
/// Throws InputError for a Hall number outside 1..530.
HallSetting hall_setting(int hall_number);

}  // namespace interphase::structures
