// Slabs: a bulk crystal cut along a Miller plane, with vacuum, layers tagged from the bottom and
// the bottom layers fixed for relaxations — with the semantics of pymatgen's SlabGenerator
// (pymatgen 2022.11, core/surface.py), so that the terminations and atom counts are the ones
// a pymatgen user expects, computed in microseconds instead of seconds.
//
// The plane (hkl) is given in the basis of the structure as the user reads it (usually the
// conventional cell). The builder works on the primitive cell, so the in-plane cell is the
// smallest one (Al(111): one atom per layer, as pymatgen's `primitive=True`), then repeats it
// with `supercell`. Along the normal the crystal is a stack of atomic planes (heights clustered
// by single linkage within `plane_tolerance`, as pymatgen's fcluster with ftol); a cut falls at
// the midpoint between two consecutive planes (pymatgen's candidate shifts). Two cuts give the
// same slab when a symmetry operation of the bulk that maps the surface normal onto ±itself
// maps one cut onto the other: the unique terminations are the orbits of the cuts under these
// operations (crystal_operations). pymatgen groups its slabs with a StructureMatcher instead;
// the counts agree (tests/structures/test_slab_pymatgen.cpp). docs/slabs.md defines every
// parameter and the pymatgen correspondence.
#pragma once

#include <array>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "structures/structure.hpp"

namespace interphase::structures {

struct SlabSpec {
    std::array<int, 3> miller{1, 1, 1};
    int layers = 3;               ///< repeats of the interplanar period d_hkl (Al(111): atomic layers)
    /// pymatgen's min_slab_size: when set, overrides `layers` and the slab holds ceil(thickness/h)
    /// of pymatgen's oriented unit cells (h = their height along the normal), i.e. at least
    /// `thickness` Å of crystal periods (or `thickness` planes d_hkl of the input cell with
    /// in_unit_planes). Same atoms per slab as pymatgen with primitive=True.
    std::optional<double> thickness;
    /// pymatgen's in_unit_planes: thickness and vacuum count planes d_hkl of the input cell.
    bool in_unit_planes = false;
    double vacuum = 12.0;         ///< Å (exact) of vacuum between the top atoms and the next image's bottom atoms
    std::array<int, 2> supercell{1, 1};
    /// Which termination: index into terminations() (sorted by decreasing gap), or empty for 0.
    std::optional<int> termination_index;
    /// Alternatively the species that must form the top plane (e.g. "S") or a termination label
    /// ("S|Li"); overrides the index. A cut whose two faces differ is turned over if needed.
    std::optional<std::string> termination_species;
    /// Add atomic planes at the bottom until the bottom face is the image of the top face by a
    /// bulk operation that flips the normal (inversion, mirror, 2-fold axis in the plane...):
    /// both surfaces equivalent, as pymatgen's symmetrize (which removes atoms instead).
    bool symmetric = false;
    int fix_bottom_layers = 0;    ///< atomic planes fixed from the bottom
    double fix_bottom = 0.0;      ///< or: Å from the lowest atom fixed (whichever fixes more)
    double plane_tolerance = 0.1; ///< Å, atoms closer than this along the normal share a plane (pymatgen ftol)
    double symprec = 0.01;        ///< Å, spglib tolerance for the bulk symmetry that groups cuts
    double bond_scale = 1.2;      ///< a bond: distance < (r_cov,i + r_cov,j) * bond_scale (broken-bond count)
    /// Formal charges (e) for the dipole; empty = formal_charges(bulk).
    std::map<std::string, double> charges;
};

/// One unique way to cut the crystal along (hkl): an orbit of cuts under the bulk symmetry.
struct Termination {
    int index = 0;
    double shift = 0;          ///< cut position as a fraction of d_hkl in the oriented cell
    double gap = 0;            ///< Å, distance between the two planes the cut passes between
    std::string top_species;   ///< species of the plane below the cut: the slab's top face
    std::string bottom_species;///< species of the plane above the cut: the slab's bottom face
    std::string name;          ///< unique label "TOP|BOTTOM", e.g. "S|Li" (a "#2" suffix if repeated)
    int multiplicity = 1;      ///< equivalent cuts per d_hkl period (pymatgen shifts grouped together)
    bool symmetric = false;    ///< the two faces of the cut are equivalent (the slab is symmetric)
    double broken_bonds = 0;   ///< bonds crossing the cut per primitive surface cell
    double broken_bonds_per_area = 0;  ///< the same per Å² of surface
    /// Every cut of the orbit (fractions of d_hkl); the first is `shift`.
    std::vector<double> equivalent_shifts;
    std::string label() const { return name; }
};

/// The oriented unit cell: a1, a2 span the (hkl) plane, a3 completes a cell of the same volume.
struct OrientedCell {
    Structure cell;
    std::array<int, 3> miller_primitive{};
    Eigen::Matrix3i transformation;  ///< rows: a_i = sum_j T_ij p_j (p = primitive vectors)
    double d_spacing = 0;            ///< Å, height of a3 along the normal (d_hkl of the crystal)
    Eigen::Vector3d normal{0, 0, 1}; ///< unit normal in the input frame (a3 · normal = d_spacing)
    /// pymatgen's slab_scale_factor for the input cell (rows: its oriented cell in the input
    /// basis), the height h of its c vector and d_hkl of the input lattice (for in_unit_planes).
    Eigen::Matrix3i pymatgen_scale;
    double pymatgen_height = 0;      ///< Å, signed: c · normal of pymatgen's oriented cell
    double input_d_hkl = 0;          ///< Å, 1/|G_hkl| of the input lattice
};

/// Reduced Miller indices (divided by their gcd); throws InputError for (0,0,0).
std::array<int, 3> reduce_miller(const std::array<int, 3>& hkl);
/// Parses "1,1,1", "111", "1 1 -1" or a 4-index hexagonal "1,0,-1,0" (i = -(h+k) is dropped).
std::array<int, 3> parse_miller(const std::string& text, const std::string& source);

/// The oriented unit cell of (hkl) on the primitive cell of `bulk` (pure translations found
/// within `symprec` Å, as pymatgen's get_primitive_structure with its tolerance).
OrientedCell oriented_cell(const Structure& bulk, const std::array<int, 3>& miller, double symprec = 0.01);

/// pymatgen's SlabGenerator slab_scale_factor for `miller` in the basis of `lattice` (rows are
/// the cell vectors): in-plane rows from zero indices and lcm combinations, c = the lattice
/// vector most parallel to the normal, all rows negated if the determinant is negative.
Eigen::Matrix3i pymatgen_slab_scale_factor(const Eigen::Matrix3d& lattice, const std::array<int, 3>& miller);

/// The space-group operations of a crystal as Cartesian maps r -> W r + w in its own frame,
/// translations modulo the lattice (one per point operation for a primitive cell), found
/// directly from the lattice metric and the atoms within `symprec` Å. The same operations spglib finds, without its
/// standardisation: spglib 2.0 takes tens of ms per call even for a 2-atom cell, more than
/// all the rest of a slab set.
std::vector<std::pair<Eigen::Matrix3d, Eigen::Vector3d>> crystal_operations(const Structure& bulk, double symprec = 0.01);

/// Formal charges for the dipole: Li/Na/K +1, Mg/Ca +2, Al +3, O/S/Se -2, F/Cl/Br/I -1, N -3,
/// P -3 or +5 (the first assignment, in this order, that makes the bulk neutral: Li3P P-3,
/// P4S10 and thiophosphates P+5). A crystal without any anion-forming element (Li, Al, LiAl)
/// is metallic: all charges 0. No neutral assignment: all 0 as well.
std::map<std::string, double> formal_charges(const Structure& bulk);

/// Builds all slabs of one (hkl) of one crystal: the oriented cell, the planes, the cuts and
/// their grouping are computed once, so every termination costs only its own atoms.
class SlabGenerator {
public:
    /// Uses spec.miller, plane_tolerance, symprec and bond_scale. Throws InputError for bad
    /// parameters, StructureError when the crystal cannot be oriented or analysed.
    SlabGenerator(const Structure& bulk, const SlabSpec& spec);

    const OrientedCell& oriented() const noexcept { return oc_; }
    const std::string& bulk_name() const noexcept { return bulk_name_; }  ///< title or reduced formula
    const std::array<int, 3>& miller() const noexcept { return miller_; }  ///< reduced, input basis
    /// Unique terminations sorted by decreasing gap (the first cuts the widest gap).
    const std::vector<Termination>& terminations() const noexcept { return terms_; }
    /// Every candidate cut in pymatgen's convention: fractions of its oriented cell's c
    /// vector, sorted (what SlabGenerator._calculate_possible_shifts returns for flat planes).
    std::vector<double> pymatgen_shifts() const;
    /// Oriented unit cells of pymatgen a slab of `spec` holds (its nlayers_slab).
    int pymatgen_cells(const SlabSpec& spec) const;
    /// The slab of the termination `spec` selects (index, species or label).
    Structure slab(const SlabSpec& spec) const;
    /// One slab per unique termination (the spec's selection is ignored); with spec.symmetric
    /// one symmetric slab per distinct face (a cut whose faces differ gives two).
    std::vector<Structure> all_slabs(const SlabSpec& spec) const;

private:
    struct Plane {
        double height;             // Å, mean height of its atoms, in [0, d)
        double lo, hi;             // Å, lowest and highest atom (hi - lo <= a chain of tolerances)
        std::string species;       // "Li" or "Li,P"
        std::vector<std::size_t> atoms;  // indices into the oriented cell
    };
    struct Cut {
        double height;             // Å, absolute (n · r in the input frame), in [0, d)
        std::size_t below;         // plane index under the cut (top face of the slab)
        double gap;
        int orbit = -1;            // unique termination (± normal operations)
        int face = -1;             // class of the top face (operations keeping the normal)
    };
    struct FlipOp { double sign; double offset; };  // height z -> sign * z + offset

    Structure build(const Cut& cut, const Termination& term, const SlabSpec& spec) const;
    bool is_symmetric(double z_bottom, double z_top) const;
    const Cut& select(const SlabSpec& spec, const Termination*& term) const;

    Structure bulk_;
    std::string bulk_name_;
    std::array<int, 3> miller_{};
    double tol_;
    OrientedCell oc_;
    std::vector<Plane> planes_;   // sorted by height in [0, d)
    std::vector<Cut> cuts_;       // one per plane: the cut above plane i
    std::vector<FlipOp> ops_;     // height maps of the bulk operations with W n = ±n
    std::vector<Termination> terms_;
    std::vector<int> term_of_orbit_;
};

/// All unique terminations of (hkl), sorted by decreasing gap (the first cuts the widest gap).
std::vector<Termination> terminations(const Structure& bulk, const std::array<int, 3>& miller,
                                      double plane_tolerance = 0.1);
/// Builds the slab: normal along z, a1 along x, slab centred in the cell, Atom::layer from the
/// bottom (0), Atom::fixed per spec, pbc = (T, T, F). info: miller, termination (top species),
/// termination_label, shift, area, d_hkl, layers, symmetric, polar, dipole, stoichiometry,
/// broken bonds, pymatgen correspondence (docs/slabs.md lists every key).
Structure build_slab(const Structure& bulk, const SlabSpec& spec);

/// Writes one slab, format from the file name (structures/io.hpp). A CIF gets the slab's
/// metadata (Structure::info) as "#   key = JSON" comment lines before data_; extended XYZ keeps
/// it in its comment line; POSCAR keeps the title. Atomic (temporary file + rename).
void write_slab(const std::filesystem::path& path, const Structure& slab);

/// Writes `slabs` (from gen.slab / gen.all_slabs with `spec`) into `folder`, one file per slab
/// named BULK_hkl_tINDEX_TOP-BOTTOM.EXT (format: "extxyz", "cif" or "poscar"), and a
/// summary.json listing every slab (file, shift, label, atoms, symmetric, polar, broken bonds...);
/// returns that summary. docs/slabs.md shows one.
nlohmann::json write_slabs(const std::filesystem::path& folder, const SlabGenerator& gen, const SlabSpec& spec,
                           const std::vector<Structure>& slabs, const std::string& format = "extxyz");

/// Dipole per area along +z (e/Å, i.e. e·Å per Å²) of a slab with the given charges, about the
/// mean position of its atoms (pymatgen's Slab.dipole / surface_area); species missing from
/// `charges` count 0.
double dipole_per_area(const Structure& slab, const std::map<std::string, double>& charges);

/// Assigns Atom::layer by clustering heights along z (Cartesian) with `tolerance` Å; returns the
/// number of layers.
int assign_layers(Structure& slab, double tolerance);

}  // namespace interphase::structures
