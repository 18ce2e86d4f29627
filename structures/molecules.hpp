// Molecule hosts: a molecule in a non-periodic box and the Li sites around it.
//
// SCIENCE.md's P2S5 has no crystal structure we could verify, so it is modelled as the molecule
// it is made of, the P4S10 cage (Td), until a user supplies the crystal as a CIF. build_molecule
// builds the shipped molecules from bond lengths and angles; molecule_in_box puts any molecule
// (built in, or read from a file by the caller) in a cubic box that keeps its periodic images
// apart; find_molecule_sites lists the symmetry-unique places where one Li can bind, the way
// structures/sites.hpp does for slab faces; add_site_atom gives the Li–molecule complex.
//
// The point group is found here from the coordinates (molecule_symmetry): two reference atoms
// and their candidate images fix an orthogonal map, kept when it sends every atom onto an atom
// of its species. spglib is not used because a molecule's symmetry need not be compatible with
// its box (a C5 axis, or a Td cage turned away from the cube axes). The method and its
// conventions are documented in docs/sites-and-paths.md ("Sites around a molecule").
#pragma once

#include <Eigen/Dense>
#include <string>
#include <vector>

#include "structures/structure.hpp"

namespace interphase::structures {

/// Default smallest gap (Å) between the bounding boxes of a molecule's periodic images: enough
/// for the density of a neutral molecule to decay (about 5 Å is the usual rule for Γ-only
/// cluster calculations).
inline constexpr double kMinMoleculeClearance = 5.0;
/// Default box edge (Å) for a built-in molecule: P4S10 with a Li atom on any of its Li–S sites
/// still leaves 7.7 Å between images (the widest complex, Li atop a bridging S, is 7.2 Å wide).
inline constexpr double kDefaultMoleculeBox = 15.0;

/// Names of the built-in molecules, sorted ("P4S10").
std::vector<std::string> molecule_names();

/// A built-in molecule, case-insensitive name, centred in a non-periodic cubic box of edge
/// kDefaultMoleculeBox (molecule_in_box). Atoms carry labels naming their role ("P_cage",
/// "S_bridging", "S_terminal" for P4S10); info = {"kind": "molecule", "molecule", "citation",
/// "geometry"}. Unknown names throw InputError (field "molecule") with a did-you-mean and the
/// known names.
Structure build_molecule(const std::string& name);

/// The edges (Å) of the molecule's axis-aligned bounding box (Cartesian coordinates as given,
/// not wrapped).
Eigen::Vector3d molecule_extent(const Structure& molecule);

/// `molecule` (its atoms' Cartesian coordinates as given, not unwrapped across periodic
/// boundaries) with its bounding box centred in a cubic box of edge `box` Å, not periodic
/// (pbc false, false, false: the convention of isolated atoms and of XYZ files without a cell).
/// Species, labels and the fixed flag, title and info are kept; info gains "kind": "molecule",
/// "box" and "clearance". Throws InputError (field "box") for a non-finite or non-positive box
/// or one leaving less than `min_clearance` Å between the bounding boxes of neighbouring images
/// (the message gives the extent and the smallest box), InputError (field "molecule") for an
/// empty molecule, and StructureError for unknown species or overlapping atoms.
Structure molecule_in_box(const Structure& molecule, double box, double min_clearance = kMinMoleculeClearance);

/// The point group of a molecule: orthogonal maps r -> centre + R (r - centre) that send every
/// atom onto an atom of the same species within symprec Å.
struct MoleculeSymmetry {
    Eigen::Vector3d centre{0, 0, 0};          ///< centroid of the atoms (Cartesian, Å), fixed by every operation
    std::vector<Eigen::Matrix3d> operations;  ///< Cartesian rotation matrices, identity first
};

/// Point group of the atoms of `molecule` (Cartesian coordinates as given). Throws
/// StructureError for an empty molecule or a linear one (all atoms on a line through the
/// centre: its symmetry is continuous), InputError for a non-positive symprec.
MoleculeSymmetry molecule_symmetry(const Structure& molecule, double symprec = 1e-2);

enum class MoleculeSiteKind { Hollow, Bridge, Atop };
const char* to_string(MoleculeSiteKind k);

struct MoleculeSiteSearch {
    double bond_length = 2.4;   ///< Å, Li–atom distance to the defining atoms (≈ Li–S in Li2S, 2.47 Å)
    /// Å, candidates with any other atom closer than this are dropped (Li–P at 2.1 Å next to a
    /// bridge over a P4S10 cage edge is not a site).
    double min_distance = 2.2;
    /// Species Li binds to (the defining atoms of sites); empty: every species of the molecule.
    std::vector<std::string> species;
    double bond_factor = 1.2;   ///< covalent bond: distance ≤ factor × (sum of covalent radii)
    double shell_tolerance = 0.3;  ///< Å beyond bond_length still counted in `coordination`
    double symprec = 1e-2;      ///< Å, for the point group and for equivalent sites
};

/// One symmetry-unique Li site around a molecule.
struct MoleculeSite {
    std::string name;                          ///< "m1", "m2", ... in the order of find_molecule_sites
    MoleculeSiteKind kind = MoleculeSiteKind::Atop;
    Eigen::Vector3d position{0, 0, 0};         ///< Cartesian, Å, in the box
    std::vector<std::size_t> atoms;            ///< defining atoms (1, 2 or 3 indices, ascending)
    /// Species and counts of the atoms within bond_length + shell_tolerance, alphabetical:
    /// "S1" atop a S, "S2" bridging two S, "S3" hollow over three S, "P1S2"...
    std::string coordination;
    /// Å, to the nearest atom: bond_length, unless an atom other than the defining ones is closer
    /// (possible when min_distance < bond_length)
    double distance = 0;
    int multiplicity = 1;                      ///< symmetry-equivalent copies around the molecule
    std::vector<Eigen::Vector3d> equivalent_positions;  ///< Cartesian, all copies, this one first
};

/// Symmetry-unique Li sites around the molecule in `mol_in_box` (molecule_in_box's output, or
/// any structure whose atoms are one molecule in Cartesian coordinates). Candidates, each at
/// bond_length from its defining atoms (atoms of `species`):
///  - atop: beyond an atom, away from the centroid of its bonded neighbours (from the molecule's
///    centre for an atom without neighbours);
///  - bridge: over two atoms closer than 2·bond_length, on the circle of points at bond_length
///    from both, on the side away from the molecule's centre;
///  - hollow: over three atoms whose circumradius is below bond_length, on the side of their
///    plane away from the molecule's centre.
/// Candidates with another atom closer than min_distance are dropped, then candidates within
/// symprec of a kept one, and the rest are grouped into orbits of molecule_symmetry. Each orbit
/// is reported by its member with the smallest defining atom indices; sites are ordered hollow,
/// bridge, atop, then by those indices, and named m1, m2, ... in that order, so the same input
/// always gives the same names. Throws InputError for non-positive or inconsistent parameters
/// (field named) or a `species` the molecule lacks, and StructureError as molecule_symmetry.
std::vector<MoleculeSite> find_molecule_sites(const Structure& mol_in_box, const MoleculeSiteSearch& search = {});

/// Looks a site up by name ("m2"); throws InputError (field "site") listing the names.
const MoleculeSite& select_molecule_site(const std::vector<MoleculeSite>& sites, const std::string& name);

/// JSON form of a site, for task outputs: name, kind, position, atoms, coordination, distance,
/// multiplicity, equivalent_positions (Å, Cartesian). molecule_site_from_json reads it back
/// (a later task builds the complex from a stored site) and throws InputError naming `source`
/// and the field for a missing or mistyped value.
nlohmann::json to_json(const MoleculeSite& site);
MoleculeSite molecule_site_from_json(const nlohmann::json& j, const std::string& source);

/// The complex: `mol_in_box` plus one `species` atom at the site, placed last and labelled
/// "adsorbate"; info["site"] records the site. Throws InputError (field "species") for an
/// unknown element and StructureError when the atom falls outside the box or the complex leaves
/// less than `min_clearance` Å between its periodic images (the message gives the box needed).
Structure add_site_atom(const Structure& mol_in_box, const MoleculeSite& site, const std::string& species = "Li",
                        double min_clearance = kMinMoleculeClearance);

}  // namespace interphase::structures
