// Task names and task kinds of `workflow: binding_energy`, in one place: the graph expansion,
// the growth rule (sites found at run time) and the results all build names here, so a name
// never drifts between the three. The names are part of every run folder (the store's task
// table, resumes, `tasks:` patterns such as "*/binding_energy"): never change them.
#pragma once

#include <fmt/format.h>
#include <string>

namespace interphase::workflows::binding_energy {

namespace kinds {
inline constexpr const char* kBuildSlab = "build_slab";
inline constexpr const char* kBuildAdsorbate = "build_adsorbate";
inline constexpr const char* kBuildAtomInBox = "build_atom_in_box";
inline constexpr const char* kBindingEnergy = "binding_energy";
inline constexpr const char* kDeltaE = "delta_e";
/// Lists the symmetry-unique adsorption sites of a relaxed slab; when it finishes the graph grows
/// by one build_adsorbate + calculation per site (growth.cpp).
inline constexpr const char* kFindSites = "find_sites";
/// One end point of an adsorbate hop (the adatom on a site, or on the nearest copy of another
/// site) on a relaxed slab.
inline constexpr const char* kBuildHopEndpoint = "build_hop_endpoint";
/// A bulk host: the crystal repeated so that the adsorbate is far from its periodic images.
inline constexpr const char* kBuildSupercell = "build_supercell";
/// Lists the symmetry-unique interstitial sites of a relaxed bulk host; grows like find_sites.
inline constexpr const char* kFindInterstitialSites = "find_interstitial_sites";
/// The adsorbate at one interstitial site of a relaxed bulk host.
inline constexpr const char* kBuildInterstitial = "build_interstitial";
/// One end point of a vacancy or interstitial hop inside a relaxed bulk host.
inline constexpr const char* kBuildBulkHopEndpoint = "build_bulk_hop_endpoint";
/// An interface host: one A|B heterointerface of the builder's ranking.
inline constexpr const char* kBuildInterface = "build_interface";
/// `gap: scan`: the lowest of a few single points at different interlayer distances.
inline constexpr const char* kSelectGap = "select_gap";
/// Lists the adsorbate sites near a relaxed interface on each side; grows like find_sites.
inline constexpr const char* kFindInterfaceSites = "find_interface_sites";
inline constexpr const char* kBuildInterfaceSite = "build_interface_site";
/// One end point of a hop across an interface, and the check of both once relaxed.
inline constexpr const char* kBuildInterfaceHopEndpoint = "build_interface_hop_endpoint";
inline constexpr const char* kCheckInterfaceHop = "check_interface_hop";
/// A molecule host: the molecule in a box, its adsorbate sites (grows like find_sites), one complex.
inline constexpr const char* kBuildMoleculeInBox = "build_molecule_in_box";
inline constexpr const char* kFindMoleculeSites = "find_molecule_sites";
inline constexpr const char* kBuildMoleculeSite = "build_molecule_site";
}  // namespace kinds

namespace names {
/// "reference/Li-atom" (isolated atom in a box) or "reference/Li-bulk"; its energy is "<base>/energy".
inline std::string reference(const std::string& adsorbate, bool bulk) {
    return fmt::format("reference/{}-{}", adsorbate, bulk ? "bulk" : "atom");
}
inline std::string energy(const std::string& base) { return base + "/energy"; }
/// "bulk/Al": the bulk crystal a host is cut from.
inline std::string bulk(const std::string& label) { return "bulk/" + label; }
inline std::string slab(const std::string& host) { return host + "/slab"; }
/// An interface host's structure, and one point of its gap scan.
inline std::string interface(const std::string& host) { return host + "/interface"; }
inline std::string gap_point(const std::string& host, double gap) { return fmt::format("{}/gap/{:.2f}", host, gap); }
/// The binding energy on one side ('A' or 'B') of an interface host, and the in-situ ΔE.
inline std::string side_binding_energy(const std::string& host, char side) {
    return fmt::format("{}/{}/binding_energy", host, side);
}
inline std::string in_situ_delta_e(const std::string& host) { return host + "/delta_e"; }
/// A molecule host's molecule in its box.
inline std::string molecule(const std::string& host) { return host + "/molecule"; }
/// A bulk host's supercell.
inline std::string supercell(const std::string& host) { return host + "/supercell"; }
/// Any structure's relaxation: "<structure task>/relax".
inline std::string relax(const std::string& structure_task) { return structure_task + "/relax"; }
inline std::string site_finder(const std::string& host) { return host + "/sites"; }
/// "Al(111)/fcc_hollow+Li": the host with the adsorbate on a site.
inline std::string site(const std::string& host, const std::string& site, const std::string& adsorbate) {
    return fmt::format("{}/{}+{}", host, site, adsorbate);
}
inline std::string binding_energy(const std::string& host) { return host + "/binding_energy"; }
inline std::string delta_e(const std::string& a, const std::string& b) { return fmt::format("pairs/{}|{}/delta_e", a, b); }
/// "Al(100)/hop/4fold_hollow-bridge": the base of a hop's tasks (/initial, /final, /path, /neb).
inline std::string hop(const std::string& host, const std::string& hop_id) { return fmt::format("{}/hop/{}", host, hop_id); }
}  // namespace names

}  // namespace interphase::workflows::binding_energy
