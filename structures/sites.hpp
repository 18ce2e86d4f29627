// Adsorption sites on the top face of a slab: top (above a surface atom), bridge (between two
// neighbouring surface atoms) and hollow (centre of a triangle of neighbouring surface atoms),
// the hollows split into "fcc" (no atom of the second plane below) and "hcp" (an atom of the
// second plane below), as in surface science for close-packed faces. Sites equivalent under the
// slab's symmetry operations that keep the surface normal are reported once.
#pragma once

#include <string>
#include <vector>

#include "structures/structure.hpp"

namespace interphase::structures {

enum class SiteKind { Top, Bridge, Hollow };
const char* to_string(SiteKind k);

struct AdsorptionSite {
    SiteKind kind = SiteKind::Hollow;
    std::string name;                       ///< "top", "bridge", "fcc_hollow", "hcp_hollow" (+ "_2"... if several)
    Eigen::Vector3d position{0, 0, 0};      ///< Cartesian point in the top atomic plane (Å)
    std::vector<std::size_t> surface_atoms; ///< indices of the atoms defining the site
    int multiplicity = 1;                   ///< symmetry-equivalent copies in the cell
};

struct SiteSearch {
    double surface_tolerance = 0.3;  ///< Å below the topmost atom still counted as surface plane
    double neighbour_factor = 1.25;  ///< surface neighbours: within this factor of the shortest in-plane distance
    double symprec = 1e-2;           ///< Å, for symmetry-equivalence of sites
};

/// Symmetry-unique adsorption sites on the top face, ordered hollow (fcc, hcp), bridge, top.
std::vector<AdsorptionSite> find_adsorption_sites(const Structure& slab, const SiteSearch& search = {});

/// Looks a site up by name ("fcc_hollow", "hollow" = the first hollow, "top", "bridge");
/// throws InputError with the available names.
const AdsorptionSite& select_site(const std::vector<AdsorptionSite>& sites, const std::string& name,
                                  const std::string& source);

/// Adds `species` above `site`, at the height where its distance to the nearest site atom equals
/// the sum of covalent radii (or `height` Å above the plane when > 0). The new atom is labelled
/// "adsorbate" and placed last.
Structure add_adsorbate(const Structure& slab, const AdsorptionSite& site, const std::string& species,
                        double height = 0.0);

}  // namespace interphase::structures
