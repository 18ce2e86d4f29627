// Nudged-elastic-band inputs: the two end points of a Li hop and the initial path between them.
//
// End points keep one atom order in both structures (NEB codes move atom k of image i towards
// atom k of image i+1), and each hop names the moving atom and its length:
//   - vacancy hop: a Li atom moves into a neighbouring Li vacancy (one Li removed);
//   - interstitial hop: an extra Li moves between neighbouring equivalent interstitial sites;
//   - adsorbate hop: an adatom moves between neighbouring equivalent surface sites;
//   - interface hop: an extra Li moves from a site inside phase A to a site inside phase B
//     (structures/interface_hops.hpp).
// A hop must be unambiguous under the minimum-image convention: when another periodic image of
// the end point is (nearly) as close, the cell is too small for the hop and the builders say so.
//
// Path interpolation follows ASE 3.22 exactly so that paths can be compared with it:
//   - linear: image k = start + k/(N+1) · (end − start), each atom's displacement taken as its
//     minimum image (ase.neb.interpolate(images, mic=True));
//   - IDPP (Smidstrup, Pedersen, Stokbro, Jónsson, J. Chem. Phys. 140, 214106 (2014)): starting
//     from the linear path, the images relax in the image-dependent pair potential
//     S_k = Σ_{i<j} w(d_ij) (d_ij − d_ij^k)², w(d) = 1/d⁴, with target distances d_ij^k
//     interpolated linearly between the end points, as a plain NEB (ASE's 'aseneb' tangent,
//     springs k = 0.1 eV/Å², no climbing image) optimised with MDMin (dt = 0.2) to fmax = 0.1
//     or 100 steps — the defaults of ase.neb.idpp_interpolate / NEB.interpolate('idpp').
// Fixed atoms (Atom::fixed in either end point) stay where they are in every image and must not
// move between the end points. path_min_distances / check_path_distances report the closest
// pair of atoms per image, so a path that pushes atoms into each other is caught before any DFT.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "structures/interstitials.hpp"
#include "structures/sites.hpp"
#include "structures/structure.hpp"

namespace interphase::structures {

/// The cell repeated n[0]×n[1]×n[2] times (atoms of each copy in the order of the input, copies
/// with the a index slowest); tags and info kept, info["supercell"] = n.
/// Throws InputError for repeats outside 1..20.
Structure repeat_cell(const Structure& s, const std::array<int, 3>& n);

/// Two end points of one hop.
struct HopEndpoints {
    Structure initial, final;
    std::size_t moving_atom = 0;  ///< index of the moving atom in both structures
    double distance = 0;          ///< Å, straight-line (minimum-image) length of the hop
    std::string kind;             ///< "vacancy", "interstitial", "adsorbate", "interface"
    std::string description;      ///< e.g. "Li 8c (atom 5) -> vacancy at atom 7 (2.854 Å)"
};

struct HopSearch {
    std::string species = "Li";
    /// Å: hops up to this length; 0 = the nearest neighbour shell only (within shell_tolerance).
    double max_hop = 0;
    double shell_tolerance = 0.1;  ///< Å
    double symprec = 1e-3;         ///< Å, for symmetry-distinct hops
    /// Å: the next periodic image of the end point must be at least this much farther than the
    /// hop, else the hop is ambiguous (the cell is too small for it).
    double image_margin = 0.1;
};

/// Symmetry-distinct vacancy hops of `hop.species`: for each symmetry-unique atom, one hop per
/// symmetry-distinct neighbour of the same species in range. The neighbour is removed (the
/// vacancy) and the unique atom moves onto its position. Throws InputError when the species is
/// absent and StructureError when a hop is ambiguous in this cell (use repeat_cell).
std::vector<HopEndpoints> vacancy_hops(const Structure& bulk, const HopSearch& hop = {});

/// For each symmetry-unique interstitial site: a hop of an added `hop.species` atom to the
/// nearest equivalent site. Throws StructureError when a hop is ambiguous in this cell.
std::vector<HopEndpoints> interstitial_hops(const Structure& host, const InterstitialSearch& search = {},
                                            const HopSearch& hop = {});

/// An adatom on `site` hopping to the nearest of the site's equivalent positions (or its image in
/// a neighbouring cell). Throws StructureError when that hop is ambiguous in this cell.
HopEndpoints adsorbate_hop(const Structure& slab, const AdsorptionSite& site, const std::string& species = "Li",
                           double height = 0.0, double image_margin = 0.1);

/// End points with an atom of `species` added at fractional position `from` (initial) and `to`
/// (final); the moving atom is last, labelled "mobile".
HopEndpoints site_hop(const Structure& host, const Eigen::Vector3d& from, const Eigen::Vector3d& to,
                      const std::string& species, double image_margin = 0.1);

enum class PathMethod { Linear, Idpp };
const char* to_string(PathMethod m);
/// "linear" or "idpp"; throws InputError naming `source` and field "method" otherwise.
PathMethod parse_path_method(const std::string& text, const std::string& source);

struct IdppOptions {
    double fmax = 0.1;     ///< convergence of the IDPP band (max NEB force per atom, IDPP units)
    int max_steps = 100;   ///< MDMin steps
    double dt = 0.2;       ///< MDMin time step
    double spring = 0.1;   ///< NEB spring constant in the IDPP band
};

struct PathOptions {
    int images = 5;                 ///< intermediate images N (the path has N + 2 structures)
    PathMethod method = PathMethod::Linear;
    /// Minimum-image displacements between the end points (ASE's mic=True). false takes
    /// final − initial as written, so unwrapped coordinates choose the direction of a hop.
    bool mic = true;
    double image_margin = 1e-3;     ///< Å: with mic, an atom whose two nearest images tie within this is ambiguous
    IdppOptions idpp;
};

struct Path {
    std::vector<Structure> images;  ///< N + 2 structures, end points included (copies of the inputs)
    PathMethod method = PathMethod::Linear;
    int idpp_steps = 0;             ///< MDMin steps taken (IDPP only)
    bool idpp_converged = false;
    double idpp_fmax = 0;           ///< final max NEB force of the IDPP band
};

/// The initial NEB path between two end points. Throws StructureError naming the atom for end
/// points that do not match (atom count, species order, cell, pbc), a fixed atom that moves, an
/// ambiguous minimum-image displacement, or an IDPP band with two atoms on top of each other;
/// InputError for fewer than 1 image or bad IDPP options.
Path interpolate_path(const Structure& initial, const Structure& final, const PathOptions& options = {});

/// The closest pair of atoms in one image.
struct ImageDistance {
    std::size_t image = 0;
    double min_distance = 0;        ///< Å (minimum image); infinity for fewer than 2 atoms
    std::size_t atom_a = 0, atom_b = 0;  ///< 0-based indices of the pair
};
std::vector<ImageDistance> path_min_distances(const std::vector<Structure>& images);

/// Throws StructureError "image 03: atoms 5 (Li) and 12 (S) are 0.912 Å apart (threshold 1.2 Å)"
/// (1-based atom numbers) for the first image whose closest pair is below `threshold` Å.
void check_path_distances(const std::vector<Structure>& images, double threshold);

}  // namespace interphase::structures
