// Heterointerfaces A|B: two crystals cut along Miller planes, their surface lattices matched by
// Zur–McGill (structures/zsl.hpp), one side strained onto the other and B stacked on A across a
// gap, for every termination pair and a grid of in-plane registries.
//
// This follows pymatgen's CoherentInterfaceBuilder (2022.11): B is the "film" and A the
// "substrate" of ZSLGenerator, the search is bidirectional by default, the supercell of each
// side is the Zur-reduced match, B's fractional in-plane coordinates are placed in A's
// supercell (B carries the strain unless `strained` says A), and the gap is the height
// between A's top plane and B's bottom plane. Departures, each for a reason:
//   * B is stacked as cut (its bottom plane faces A), not mirrored through z -> -z as
//     pymatgen's Interface.from_slabs does: a mirror would invert chiral stacking sequences.
//     For the same reason a match whose reduced bases have opposite handedness is built with an
//     equivalent basis of the same handedness (or skipped when none is within tolerance).
//   * Every cut between two atomic planes is a termination (cuts equal up to a translation
//     once), so each plane of each crystal faces the other side once.
//   * Matches related by the in-plane symmetry of both slabs (the same interface rotated or
//     mirrored as a whole, the same energy) are merged; pymatgen builds each of them.
//   * In-plane registries: an n x n grid of shifts of B over A's primitive surface cell,
//     merged when two shifts differ by a translation of A's or B's lattice.
// Each atom carries its side in Atom::label ("A" or "B") and its atomic plane in Atom::layer,
// counted from the bottom of A (B's planes follow A's).
#pragma once

#include <array>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "structures/structure.hpp"
#include "structures/zsl.hpp"

namespace interphase::structures {

enum class InterfaceSide { A, B };
const char* to_string(InterfaceSide s);

struct InterfaceSpec {
    std::array<int, 3> miller_a{1, 1, 1};  ///< plane of A (bottom crystal, pymatgen's substrate)
    std::array<int, 3> miller_b{1, 1, 1};  ///< plane of B (top crystal, pymatgen's film)
    int layers_a = 3;                      ///< repeats of d_hkl of A (as SlabSpec::layers)
    int layers_b = 3;
    /// Lattice-matching tolerances: ZSLGenerator's defaults, bidirectional as in
    /// CoherentInterfaceBuilder.
    ZslSettings zsl{0.09, 400.0, 0.03, 0.01, true};
    InterfaceSide strained = InterfaceSide::B;  ///< the side that takes the strain
    double gap = 2.0;          ///< Å between A's top plane and B's bottom plane (pymatgen's default)
    int shifts = 1;            ///< n: n x n in-plane shifts of B over A's primitive surface cell
    bool periodic = false;     ///< fully periodic: a second B|A interface across the cell boundary
    double vacuum = 15.0;      ///< Å above B (slab model) when not periodic
    int max_interfaces = 20;   ///< how many of the ranked interfaces to build
    double plane_tolerance = 0.1;  ///< Å, atoms closer than this along the normal share a plane
    /// The no-match diagnosis searches up to this multiple of zsl.max_area.
    double diagnosis_area_factor = 4.0;
};

/// One side of the interface: the crystal cut along (hkl) at every gap between two atomic
/// planes, as build_slab cuts it (the oriented cell of oriented_cell(), `layers` repeats of
/// d_hkl), so every plane appears once as a top face and once as a bottom face.
struct InterfaceFace {
    std::string name;                 ///< bulk title or reduced formula
    std::array<int, 3> miller{};
    PlaneVectors unit_vectors;        ///< primitive in-plane vectors (input frame, Å), right-handed about the outward normal of the top face
    double unit_area = 0;             ///< Å²
    double d_spacing = 0;             ///< Å, d_hkl
    struct Cut {
        int index = 0;                ///< position in `cuts`
        double shift = 0;             ///< cut height in fractions of d_hkl (oriented cell)
        double gap = 0;               ///< Å between the two planes the cut passes between
        std::string top, bottom;      ///< species of the slab's top and bottom planes
        std::string facing;           ///< the plane that faces the other side (A: top, B: bottom)
        Structure slab;               ///< the 1x1 slab (z along the normal, 10 Å vacuum)
        std::string label() const { return top + "|" + bottom; }
    };
    std::vector<Cut> cuts;            ///< cuts giving different slabs (equal up to a translation: once)
};

/// A ZSL match as the interface uses it.
struct InterfaceMatch {
    int index = 0;                    ///< position in the ZSL list
    ZslMatch zsl;                     ///< film = B, substrate = A
    /// Rows: the supercell vectors of A and of B in their primitive in-plane bases, paired row
    /// by row (A row i is B row i strained); both bases right-handed about the normal.
    Eigen::Matrix2i supercell_a, supercell_b;
    double area_a = 0, area_b = 0;    ///< Å² of the unstrained supercells
    double area = 0;                  ///< Å² of the interface cell (the unstrained side's)
    /// Green–Lagrange strain of the strained side (2x2, interface frame: x along the first cell
    /// vector, y in plane; for an unbuildable match the strained side's own frame) and its von
    /// Mises equivalent, as pymatgen's Deformation(match_transformation) reports them.
    Eigen::Matrix2d strain = Eigen::Matrix2d::Zero();
    double von_mises_strain = 0;
    /// false when the lattices pair only as mirror images (opposite handedness) and no
    /// equivalent proper pairing is within tolerance; such a match is never built.
    bool buildable = true;
    /// A buildable match: an earlier match related to it by the in-plane symmetry of both slabs
    /// (the same interface, rotated). An unbuildable one: the proper match it is the mirror
    /// image of (when a side is mirror-symmetric). -1 when neither.
    int equivalent_to = -1;
    std::string note;
};

/// One interface of the ranked list.
struct InterfaceCandidate {
    int rank = 0;
    int match = 0;                    ///< index into InterfaceSet::matches
    int cut_a = 0, cut_b = 0;         ///< indices into the faces' cuts (the termination pair)
    Eigen::Vector2d shift{0, 0};      ///< of B, in fractions of A's primitive in-plane vectors
    Structure structure;              ///< filled for the first max_interfaces candidates
};

/// Why nothing matched, and what would.
struct NoMatchReport {
    double relaxed_area = 0;                ///< Å², the diagnosis search limit
    std::optional<ZslMatch> first_beyond;   ///< smallest-area match within tolerances up to relaxed_area
    std::optional<ZslMatch> closest_within; ///< smallest misfit below max_area, tolerances ignored
    std::string message;
};

struct InterfaceSet {
    InterfaceFace a, b;
    std::vector<InterfaceMatch> matches;            ///< every ZSL match, in ZSL order
    std::vector<InterfaceCandidate> interfaces;     ///< ranked; at most max_interfaces
    std::size_t candidates = 0;                     ///< distinct candidates before the cap
    std::optional<NoMatchReport> no_match;          ///< set when no match can be built
};

/// Green–Lagrange strain E = (F^T F - I)/2 of the deformation F that maps `strained` onto
/// `reference` (vector i onto vector i), in the strained lattice's frame (x along its first
/// vector). Both vector pairs may live in different 3D frames.
Eigen::Matrix2d green_lagrange_strain(const PlaneVectors& strained, const PlaneVectors& reference);
/// sqrt(2/3 e':e') of the 3x3 tensor with E in its in-plane block (pymatgen's von_mises_strain).
double von_mises_strain(const Eigen::Matrix2d& e);

/// The cuts of a crystal along (hkl), `layers` repeats of d_hkl each. `facing_top` chooses the
/// plane reported as facing the other side (A: top, B: bottom). plane_tolerance as SlabSpec's.
InterfaceFace interface_face(const Structure& bulk, const std::array<int, 3>& miller, int layers, bool facing_top,
                             double plane_tolerance = 0.1);

/// Matches, ranking and structures. Throws InputError (source "interface", field named) on bad
/// parameters. When nothing matches, `no_match` explains and `interfaces` is empty.
InterfaceSet build_interfaces(const Structure& bulk_a, const Structure& bulk_b, const InterfaceSpec& spec);

/// JSON records for summary files (see docs/interfaces.md).
nlohmann::json to_json(const InterfaceMatch& m);
nlohmann::json to_json(const ZslMatch& m);

}  // namespace interphase::structures
