// `workflow: binding_energy`: the Li (adsorbate) binding energy of every host, ΔE of host pairs,
// and migration hops on hosts by CI-NEB. Keys: adsorbate, reference, reference_box, hosts,
// pairs, hops (docs/workflow.md); task names in names.hpp, task kinds in tasks.hpp.
#pragma once

#include <array>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "workflows/neb/band.hpp"
#include "workflows/workflow_kind.hpp"

namespace interphase::workflows::binding_energy {

/// What a host is: a slab (the adsorbate on its top face), a bulk supercell (the adsorbate at
/// interstitial sites), an A|B heterointerface, a molecule in a box.
enum class HostKind { Surface, Bulk, Interface, Molecule };
const char* to_string(HostKind k);

/// One side of an interface host: a crystal cut along (hkl), `layers` repeats of d_hkl.
struct InterfaceSide {
    std::optional<std::string> phase;     ///< a built-in prototype...
    nlohmann::json structure;             ///< ...or a structure file (JSON form)
    std::string source;                   ///< prototype name or file path
    std::string label;                    ///< the bulk task's label ("Al", or the file's title)
};

/// One host on (or in) which the adsorbate's binding energy is computed.
struct HostSpec {
    std::string name;                     ///< unique label, e.g. "Al(111)"
    HostKind kind = HostKind::Surface;
    /// `electronic: metal | insulator`: overrides the character the prototypes give (a
    /// structure file, a doped phase); "" = from the phase(s). Electronic-structure codes only.
    std::string electronic;
    std::string spin;                     ///< `spin: auto | restricted | unrestricted`; "" = auto
    /// `dipole_correction: true` (surface and interface hosts): CP2K's surface dipole correction
    /// along z. Off by default: CP2K 2023.1 aborts with it on a metal slab unless the SCF is
    /// damped, which then takes 4x the steps (docs/protocols.md).
    bool dipole_correction = false;
    std::optional<std::string> phase;     ///< a built-in prototype...
    nlohmann::json bulk_structure;        ///< ...or a structure read from `structure:` (JSON form)
    std::string bulk_source;              ///< prototype name or file path (provenance)
    std::array<int, 3> miller{1, 1, 1};
    int layers = 3;
    double vacuum = 10.0;
    std::array<int, 2> supercell{1, 1};
    /// `thickness:` (Å): at least this much crystal along the normal, in whole crystal periods
    /// (pymatgen's min_slab_size); replaces `layers`.
    std::optional<double> thickness;
    /// `area_per_adsorbate:` (Å²): the in-plane supercell is the smallest (closest to square)
    /// with at least this area per adsorbate, chosen when the slab is built; replaces
    /// `supercell`. Hosts compared in a pair should be at equal coverage.
    std::optional<double> area_per_adsorbate;
    int fix_bottom_layers = 1;
    double fix_bottom = 0.0;
    std::optional<std::string> termination;  ///< top species ("S") or index ("0")
    std::vector<std::string> sites{"hollow"};  ///< surface: site kinds; bulk: "i1", "i2", ...; or {"all"}
    // bulk
    std::optional<std::array<int, 3>> repeat;  ///< `supercell: [a, b, c]`; else chosen for min_image_distance
    double min_image_distance = 8.0;      ///< Å, adsorbate to its nearest periodic image
    double site_min_distance = 1.5;       ///< Å, interstitial sites closer than this to an atom are dropped
    // interface
    InterfaceSide side_a, side_b;
    /// The build_interface parameters (select_interface in tasks.hpp); "gap" set unless scanned.
    nlohmann::json interface;
    std::vector<double> gap_scan;         ///< `gap: scan`: interlayer distances tried (Å)
    double depth = 3.0;                   ///< Å, sites within this distance of the interface plane
    // molecule (a built-in molecule in `phase`-like `molecule`, or `structure:`)
    std::optional<std::string> molecule;  ///< a built-in molecule ("P4S10")...
    nlohmann::json molecule_structure;    ///< ...or a molecule read from `structure:` (JSON form)
    double box = 15.0;                    ///< Å, cubic box edge
    double bond_length = 2.4;             ///< Å, adsorbate to the atoms it binds to
};

/// A migration hop (`hops:`): the adsorbate moves on `host` from site `from` to the nearest copy
/// of site `to`; both end points are relaxed, then CI-NEB runs on the band between them.
struct HopSpec : neb::BandSettings {
    std::string host;
    std::string from, to;                 ///< site names as the site finder gives them; interface: sides or site names
    /// A hop across an interface host (`interface:` instead of `host:`): `from`/`to` are the
    /// sides ("A", "B") or named interface sites ("A2", "B1").
    bool across_interface = false;
    /// A hop inside a bulk host (`{host: X-bulk, kind: vacancy | interstitial}`): its mechanism,
    /// and which hop — vacancy: `hop` (1 = the shortest symmetry-distinct one); interstitial:
    /// `site` (between the nearest copies of that interstitial site).
    std::string mechanism;                ///< "" (surface), "vacancy", "interstitial"
    int vacancy_hop = 1;
    std::string site = "i1";
    std::string id() const {
        if (mechanism == "vacancy") return "vacancy-" + std::to_string(vacancy_hop);
        if (mechanism == "interstitial") return "interstitial-" + site;
        return from + "-" + to;
    }
};

enum class Reference { IsolatedAtom, BulkMetal };
const char* to_string(Reference r);

struct Spec : KindSpec {
    std::string adsorbate = "Li";
    Reference reference = Reference::IsolatedAtom;
    double reference_box = 10.0;          ///< Å, cubic box of the isolated atom
    std::vector<HostSpec> hosts;
    std::vector<std::array<std::string, 2>> pairs;
    std::vector<HopSpec> hops;            ///< NEB hops (after the binding energies)
};

WorkflowKind workflow_kind();

}  // namespace interphase::workflows::binding_energy
