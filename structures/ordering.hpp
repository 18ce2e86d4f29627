// Ordered models of disordered crystals. A DFT code needs every site either occupied by one
// atom or empty, while crystallographers publish argyrodites (Li on 48h half occupied, S/Cl
// sharing 4d) and many other phases with partial occupancies. This part turns such a
// structure into one ordered structure by a documented, deterministic rule (docs/prototypes.md):
//
//   1. the cell: the cell as given, a user supercell, or (auto) the smallest supercell of
//      the primitive cell in which every site group holds a whole number of atoms;
//   2. site groups: partially occupied sites with the same occupants and occupancies form a
//      group whose atom counts are fixed (occupancy × sites, which must be whole numbers);
//   3. the candidates: every arrangement of those counts, with arrangements related by a
//      space-group operation of the disordered cell (spglib) counted once. Up to
//      OrderingOptions::max_enumerated arrangements are enumerated exhaustively; above that a
//      documented deterministic search replaces enumeration (seeded starts, each relaxed by
//      swaps to a local minimum);
//   4. the choice: the lowest Ewald energy with formal oxidation states (structures/ewald.hpp),
//      ties (1e-6 eV) broken by the lexicographically smallest canonical occupation vector.
//
// Sites are put in a canonical order (group, then fractional coordinates) before anything
// else, and the chosen arrangement is reported in its canonical (lexicographically smallest)
// symmetry image, so the answer does not depend on the order of the atoms in the input file.
// The rule, the numbers of arrangements and candidates and the chosen energy are recorded in
// Structure::info["ordering"].
#pragma once

#include <Eigen/Dense>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "structures/structure.hpp"
#include "structures/symmetry.hpp"

namespace interphase::structures {

/// One species on a site with its occupancy (0, 1].
struct Occupant {
    std::string species;
    double occupancy = 1.0;
};

/// A site of a disordered structure: one position, one or more occupants whose occupancies
/// add up to at most 1 (the rest is vacancy).
struct DisorderedSite {
    Eigen::Vector3d frac{0, 0, 0};
    std::vector<Occupant> occupants;
    std::string label;  ///< e.g. the Wyckoff site "48h"; copied to the ordered atoms
};

struct DisorderedStructure {
    Eigen::Matrix3d lattice = Eigen::Matrix3d::Identity();  ///< rows a, b, c (Å)
    std::vector<DisorderedSite> sites;
    std::string title;
    nlohmann::json info = nlohmann::json::object();
    /// True when every site holds one species with occupancy 1.
    bool is_ordered() const;
};

/// A Structure read from a file, with info["occupancies"] (one per atom, as the CIF reader
/// keeps _atom_site_occupancy) marking partial occupancy; atoms of different species on the
/// same position (1e-3 fractional) become one mixed site. Without info["occupancies"] every
/// atom is a fully occupied site. Throws InputError (field "occupancies") for a list of the
/// wrong length, non-numeric or out-of-range values, or occupancies adding up to more than 1
/// on one position.
DisorderedStructure disordered_from_structure(const Structure& s, const std::string& source);

/// Space group of the disordered structure itself (its parent group): spglib sees each kind
/// of site (occupants, occupancies, label) as one atom type, so only operations that map
/// equally occupied sites onto each other count. Throws StructureError when spglib fails.
SymmetryDataset analyze_disordered_symmetry(const DisorderedStructure& d, double symprec = 1e-3);

/// Supercell with rows of `P` the new cell vectors in units of the old ones (ASE's
/// make_supercell convention); sites are replicated and wrapped. Throws InputError for a
/// singular matrix or one with more than 1000 cells.
DisorderedStructure make_supercell(const DisorderedStructure& d, const Eigen::Matrix3i& P);

struct OrderingOptions {
    /// Supercell of the cell as given (rows in units of its vectors). Empty: the cell as given.
    std::optional<Eigen::Matrix3i> supercell;
    /// Ignore `supercell` and use the smallest supercell of the primitive cell in which every
    /// site group holds whole numbers of atoms (the most compact of that size).
    bool auto_supercell = false;
    /// Charges replacing the formal oxidation states (species -> charge in e).
    std::map<std::string, double> charges;
    /// Largest number of arrangements enumerated exhaustively; above it the search runs.
    double max_enumerated = 2e5;
    /// Seeded starting arrangements of the search, for up to 64 partially occupied sites;
    /// above that scaled by (64/n)³ (at least 20), since one relaxation costs ~n³.
    int search_starts = 1000;
    std::uint64_t seed = 20240611;  ///< of the search's generator (std::mt19937_64)
    double symprec = 1e-3;         ///< Å, for spglib
};

/// Number of cells of `d` (as given) needed for every site group to hold whole numbers of
/// atoms: 1 when the counts are already whole. Throws InputError when no multiple up to
/// `max_cells` works (irrational-looking occupancies such as 0.4567).
int cells_for_whole_counts(const DisorderedStructure& d, const std::string& source, int max_cells = 1000);

/// The ordered model of `d` by the rule above. An already ordered structure is returned as
/// is (info["ordering"]["method"] = "none"). Throws InputError naming `source` when the site
/// counts are not whole numbers in the chosen cell (the message gives the number of cells that
/// would work), StructureError when spglib fails.
Structure order_structure(const DisorderedStructure& d, const OrderingOptions& options, const std::string& source);

}  // namespace interphase::structures
