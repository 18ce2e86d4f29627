// Li hops across an A|B heterointerface: the two end points of a CI-NEB calculation (a site
// inside phase A and one inside phase B), the sanity check of those end points after they are
// relaxed, and the fixed outer planes of a slab-model interface.
//
// "Inside a phase" is the point of this file. find_interface_sites reports candidates on either
// side of the interface plane, but in an unrelaxed interface the candidates nearest the plane lie
// in the gap between the two blocks: a Li put there "on side A" and one put there "on side B"
// relax into the same minimum, and a hop between them (~0.5 Å) measures nothing. A site is
// inside A when its height along the normal is at most that of A's atomic plane facing the
// interface plus `inside_tolerance` (the site sits among A's atoms, or in the hollows of A's
// facing plane), and inside B when it is at least B's facing plane minus it.
//
// Heights are measured along the unit normal a×b from an interface plane (interface_planes()),
// positive towards B, whichever way the plane is stacked.
#pragma once

#include <cstddef>
#include <string>

#include "structures/interstitials.hpp"
#include "structures/neb_path.hpp"
#include "structures/structure.hpp"

namespace interphase::structures {

struct InterfaceHopOptions {
    /// Candidate sites (Voronoi, filters); `sites.depth` is how far from the interface plane a
    /// site may lie, so it bounds how deep into each phase the end points go.
    InterfaceSiteSearch sites;
    std::string species = "Li";     ///< the mobile atom (any element; tests use Au or H in metal|metal)
    /// Site names from find_interface_sites ("A2", "B1"); empty: the shortest admissible pair.
    /// With `reverse` the initial site is on side B, so `from` names a B site.
    std::string from, to;
    bool reverse = false;           ///< hop from B into A instead of from A into B
    double min_hop = 2.0;           ///< Å: shorter pairs are one minimum in all but name
    double max_hop = 4.5;           ///< Å: the shortest admissible hop must not be longer
    double inside_tolerance = 0.3;  ///< Å beyond a side's facing atomic plane still counted inside it
    double image_margin = 0.1;      ///< Å, as HopSearch::image_margin (ambiguous minimum image)
};

/// The end points of a hop of an added `options.species` atom from a site inside A to a site
/// inside B (B to A with `reverse`): among the admissible pairs (both sites inside their phase,
/// near the same interface plane, at least `min_hop` apart under the minimum image) the shortest
/// one, or the named sites. The mobile atom is last in both structures, labelled "mobile";
/// info["hop"] records kind, from/to names and sides, their heights, the plane (index and height
/// along the normal), species, moving_atom and distance. Deterministic: sites are taken in
/// find_interface_sites order and ties within 1e-6 Å keep the first pair.
/// Throws InputError (source "interface hop", field named) for bad options or unknown / not
/// admissible site names (listing the admissible ones); StructureError when a side has no site
/// inside it within `sites.depth`, when no pair is at least `min_hop` long, when the shortest
/// admissible hop is longer than `max_hop` (saying how long it is), or when it is ambiguous.
HopEndpoints interface_hop(const Structure& iface, const InterfaceHopOptions& options = {});

struct InterfaceHopCheckOptions {
    double min_separation = 1.0;  ///< Å: mobile atoms closer than this relaxed into one minimum
    bool reverse = false;         ///< the hop was built from B to A
    double max_gap = 6.0;         ///< Å, as InterfaceSiteSearch::max_gap
};

/// Where the mobile atom of each relaxed end point sits relative to the interface.
struct InterfaceHopCheck {
    char initial_side = 'A', final_side = 'B';  ///< side of the plane the mobile atom is on
    double initial_height = 0, final_height = 0; ///< Å from the plane, positive towards B
    double initial_plane = 0, final_plane = 0;   ///< Å, height of that plane along the normal
    double separation = 0;                       ///< Å, minimum image between the two mobile positions
};

/// Checks the two RELAXED end points of an interface hop. The interface plane of each structure
/// comes from the side tags of its host atoms (every atom but `moving_atom`), so a relaxation
/// that shifted the blocks is measured against where they are now. Throws StructureError when
/// the end points do not match (atom count, species), when the mobile atoms are less than
/// `min_separation` apart ("the end points relaxed into one minimum (mobile atom 0.42 Å
/// apart)"), or when the initial mobile atom is not on side A / the final not on side B (swapped
/// with `reverse`).
InterfaceHopCheck check_interface_hop(const Structure& initial, const Structure& final, std::size_t moving_atom,
                                      const InterfaceHopCheckOptions& options = {});

/// Fixes (Atom::fixed) the `n` outermost atomic planes of each side of a slab-model interface,
/// the bottom n planes of A and the top n planes of B, and frees every other side-tagged atom, so
/// the result does not depend on earlier flags; atoms without a side tag (an added mobile atom)
/// are left as they are. Planes are Atom::layer when every atom of the side has one (as
/// build_interfaces sets it), else atoms within 0.1 Å along the normal. Returns the number of
/// fixed atoms. Throws InputError (source "interface", field "fix_outer_layers") for n < 0, for
/// n not smaller than a side's number of planes, and for n > 0 on a fully periodic interface
/// (two interface planes, no outer surface to hold).
std::size_t fix_outer_layers(Structure& iface, int n);

}  // namespace interphase::structures
