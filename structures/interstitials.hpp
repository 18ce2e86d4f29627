// Interstitial Li sites in a bulk crystal and Li sites on either side of an interface.
//
// Candidates are the points of a periodic structure that are locally farthest from the atoms:
// the vertices of its Voronoi tessellation (centres of the empty spheres that touch four or more
// atoms; in fcc Al the tetrahedral and octahedral holes) and, optionally, the centres of its
// Voronoi faces (the octahedral holes of bcc are face centres, not vertices). The tessellation
// is computed here: each atom's Voronoi cell is a cube clipped by the bisector planes of its
// periodic neighbours, nearest first, until no farther neighbour can cut (Voro++'s approach), so
// no geometry library is needed and degenerate vertices (six atoms around an octahedral hole)
// come out once per cell without special cases.
//
// Candidates closer than `min_distance` to an atom are dropped, candidates within
// `merge_tolerance` of each other are merged, and the rest are grouped into orbits of the
// space group (spglib's operations of the input cell, centring translations included), each
// reported once with its multiplicity in the cell, its Wyckoff letter and its coordination.
//
// Interface sites: in a structure whose atoms carry a side tag (Atom::label "A" or "B", or a
// label starting with "A"/"B" followed by a non-letter, e.g. "A:Li2S", "B_2"), the interface
// planes are where the stacking along c changes side; candidates within `depth` Å of a plane are
// reported on the side they lie (or as on the plane, side 'I', within plane_tolerance), reduced by
// the operations that keep every atom on its side.
#pragma once

#include <Eigen/Dense>
#include <string>
#include <vector>

#include "structures/structure.hpp"

namespace interphase::structures {

struct InterstitialSearch {
    double min_distance = 1.5;     ///< Å, candidates closer than this to any atom are dropped
    /// Å, largest empty-sphere radius considered: bounds the search (a vacuum region would
    /// otherwise be one huge "site") and the neighbour lists.
    double max_radius = 4.0;
    double merge_tolerance = 0.3;  ///< Å, candidates closer than this become one (their mean)
    double symprec = 1e-3;         ///< Å, spglib tolerance for the symmetry operations
    bool face_centres = false;     ///< also use the centres of Voronoi faces
    double shell_tolerance = 0.1;  ///< relative: atoms within radius·(1 + this) form the first shell
};

/// An empty-sphere centre of the tessellation (a Voronoi vertex or face centre).
struct VoronoiPoint {
    Eigen::Vector3d frac{0, 0, 0};  ///< wrapped to [0, 1) along periodic directions
    double radius = 0;              ///< Å, distance to the nearest atom
    bool face_centre = false;       ///< false: a vertex
};

/// Voronoi vertices (and face centres when asked) of the periodic structure with radius at most
/// `max_radius` Å, one per cell found: a vertex shared by k cells appears k times (unmerged).
/// Throws StructureError for an empty structure or a non-positive max_radius.
std::vector<VoronoiPoint> voronoi_points(const Structure& s, double max_radius, bool face_centres = false);

struct InterstitialSite {
    std::string name;                 ///< "i1", "i2", ... by decreasing radius
    Eigen::Vector3d frac{0, 0, 0};    ///< representative (fractional, wrapped)
    Eigen::Vector3d position{0, 0, 0};  ///< Cartesian, Å
    double radius = 0;                ///< Å, distance to the nearest atom
    int multiplicity = 1;             ///< symmetry-equivalent copies in the cell
    std::string wyckoff;              ///< letter of the orbit in spglib's standardized setting; "" if unknown
    int coordination = 0;             ///< atoms in the first shell
    std::string shell;                ///< composition of the first shell, e.g. "Li8" or "Li4S"
    /// "tetrahedral" (4), "octahedral" (6), "cubic" (8) when every angle at the site is within 20°
    /// of the ideal polyhedron's, else "CN<n>"
    std::string polyhedron;
    bool face_centre = false;         ///< the candidate came from a Voronoi face centre
    std::vector<Eigen::Vector3d> equivalent;  ///< fractional positions of all copies, this one first
};

/// Symmetry-unique interstitial sites of `host`, by decreasing radius (then multiplicity).
/// Throws StructureError for an empty structure and InputError for non-positive parameters.
std::vector<InterstitialSite> find_interstitial_sites(const Structure& host, const InterstitialSearch& search = {});

/// The side tag of an atom: 'A', 'B', or 0 when the label carries none (see the header comment).
char interface_side(const Atom& a);

struct InterfaceSiteSearch {
    InterstitialSearch interstitial;  ///< candidate generation (Voronoi, filters, merging)
    double depth = 3.0;               ///< Å, candidates within this distance of an interface plane
    /// Å: sites closer than this to a plane are on it (side 'I'), e.g. the middle of a symmetric gap.
    double plane_tolerance = 0.1;
    /// Å, two side blocks farther apart than this along the normal face each other across vacuum,
    /// not across an interface (the periodic image of a slab-on-slab cell with vacuum).
    double max_gap = 6.0;
};

struct InterfaceSite {
    InterstitialSite site;  ///< name "A1", "A2", ... / "B1", ... / "I1"; multiplicity under side-preserving operations
    char side = 'A';        ///< side of the interface plane the site lies on; 'I' on the plane
    int plane = 0;          ///< which interface plane (0-based, by height)
    double height = 0;      ///< Å, signed distance from that plane along the normal (+ towards B)
};

/// Planes between the A and B blocks, as heights (Å) along the unit normal a×b, with the side
/// below each plane ('A' for an A|B plane with B above). Throws StructureError when atoms lack
/// side tags or only one side is present.
struct InterfacePlane {
    double height = 0;   ///< Å along the normal, in [0, c·n)
    char below = 'A';    ///< side under the plane
    double gap = 0;      ///< Å, distance between the two blocks across the plane
};
std::vector<InterfacePlane> interface_planes(const Structure& iface, double max_gap = 6.0);

/// Li site candidates on each side near the interface planes of `iface`, A, then B, then the
/// sites on a plane (I), each side by increasing distance from its plane.
std::vector<InterfaceSite> find_interface_sites(const Structure& iface, const InterfaceSiteSearch& search = {});

}  // namespace interphase::structures
