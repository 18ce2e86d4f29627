// Li sites a scientist asks for when computing binding energies and migration paths.
//
// Adsorption sites on either face of a slab: top (above a surface atom), bridge (between two
// neighbouring surface atoms) and hollow: the centre of a triangle of neighbouring surface atoms,
// split into "fcc" (no atom of the second plane below) and "hcp" (an atom of the second plane
// below) as in surface science for close-packed faces, or the centre of a square or rectangle of
// neighbouring atoms ("4fold_hollow", e.g. on fcc (100), ASE's 'hollow' site of fcc100). Sites equivalent under the
// slab's symmetry operations that keep the surface normal are reported once. The bottom face is
// searched as the top face of the slab turned upside down (a 180° rotation about x, which keeps
// fractional coordinates and handedness), so both faces follow one set of rules.
//
// Vacancy sites: the symmetry-unique atoms of a species (spglib's equivalent_atoms), i.e. the
// distinct Li atoms one can remove. Interstitial and interface sites live in
// structures/interstitials.hpp.
#pragma once

#include <string>
#include <vector>

#include "structures/structure.hpp"

namespace interphase::structures {

enum class SiteKind { Top, Bridge, Hollow };
const char* to_string(SiteKind k);

/// Which face of a slab (along +z or -z).
enum class Face { Top, Bottom };
const char* to_string(Face f);
/// "top" or "bottom"; throws InputError naming `source` and field "face" otherwise.
Face parse_face(const std::string& text, const std::string& source);

struct AdsorptionSite {
    SiteKind kind = SiteKind::Hollow;
    std::string name;                       ///< "top", "bridge", "fcc_hollow", "hcp_hollow", "4fold_hollow" (+ "_2"... if several)
    Eigen::Vector3d position{0, 0, 0};      ///< Cartesian point in the top atomic plane (Å)
    std::vector<std::size_t> surface_atoms; ///< indices of the atoms defining the site
    int multiplicity = 1;                   ///< symmetry-equivalent copies in the cell
    Face face = Face::Top;                  ///< the face the site is on (adsorbates go outward)
    /// Cartesian positions (Å, in the surface plane) of all `multiplicity` copies, this one first:
    /// the end points of hops between equivalent sites.
    std::vector<Eigen::Vector3d> equivalent_positions;
};

struct SiteSearch {
    double surface_tolerance = 0.3;  ///< Å below the topmost atom still counted as surface plane
    double neighbour_factor = 1.25;  ///< surface neighbours: within this factor of the shortest in-plane distance
    double symprec = 1e-2;           ///< Å, for symmetry-equivalence of sites
    Face face = Face::Top;           ///< which face of the slab to search
};

/// Symmetry-unique adsorption sites on the chosen face, ordered hollow (fcc or 4-fold, hcp), bridge, top.
/// On the bottom face "fcc"/"hcp" refer to the plane above the bottom plane (the second plane
/// seen from below).
std::vector<AdsorptionSite> find_adsorption_sites(const Structure& slab, const SiteSearch& search = {});

/// Looks a site up by name ("fcc_hollow", "hollow" = the first hollow, "top", "bridge");
/// throws InputError with the available names.
const AdsorptionSite& select_site(const std::vector<AdsorptionSite>& sites, const std::string& name,
                                  const std::string& source);

/// Adds `species` outside `site` (above the top face, below the bottom face), at the height where
/// its distance to the nearest site atom equals the sum of covalent radii (or `height` Å from the
/// plane when > 0). The new atom is labelled "adsorbate" and placed last. `copy` selects one of
/// the site's equivalent_positions (0 = the site itself); throws InputError when out of range and
/// StructureError when the adsorbate would leave the cell (not enough vacuum).
Structure add_adsorbate(const Structure& slab, const AdsorptionSite& site, const std::string& species,
                        double height = 0.0, std::size_t copy = 0);

/// A symmetry-unique atom of one species: the site left empty when that atom is removed.
struct VacancySite {
    std::size_t atom = 0;                ///< index of the representative atom
    std::string species;
    Eigen::Vector3d frac{0, 0, 0};       ///< its fractional position
    int multiplicity = 1;                ///< equivalent atoms in the cell
    std::string wyckoff;                 ///< Wyckoff letter in the standardized setting ("c")
    std::vector<std::size_t> equivalent_atoms;  ///< indices of all equivalent atoms, this one first
};

/// Symmetry-unique atoms of `species` (spglib equivalent_atoms at tolerance `symprec` Å), in
/// order of first appearance. Throws InputError (field "species") when the structure has none.
std::vector<VacancySite> find_vacancy_sites(const Structure& s, const std::string& species = "Li",
                                            double symprec = 1e-3);

}  // namespace interphase::structures
