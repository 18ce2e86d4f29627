// The task graph of `workflow: binding_energy` (task names: names.hpp; docs/workflow.md).
#include <fmt/format.h>
#include <map>

#include <algorithm>

#include "plugins/calculator.hpp"
#include "structures/elements.hpp"
#include "structures/prototypes.hpp"
#include "workflows/binding_energy/binding_energy.hpp"
#include "workflows/binding_energy/names.hpp"
#include "workflows/structure_tasks.hpp"

namespace interphase::workflows::binding_energy {

namespace {

// What an electronic-structure code is told about a host besides its atoms (docs/protocols.md):
// its electronic character (k-points, mixing, the automatic spin rule), whether it is a slab
// (dipole correction) and a spin treatment the user asked for. Empty for codes without
// electronic structure (EMT...), whose task hashes stay as they were.
using System = nlohmann::json;

std::string phase_character(const std::optional<std::string>& phase) {
    return phase ? structures::prototype(*phase).electronic : std::string();
}

System system_of(const HostSpec& h, bool electronic_structure) {
    System s = nlohmann::json::object();
    if (!electronic_structure) return s;
    std::string character = h.electronic;
    if (character.empty()) {
        switch (h.kind) {
            case HostKind::Surface:
            case HostKind::Bulk: character = phase_character(h.phase); break;
            case HostKind::Molecule: character = "insulator"; break;
            case HostKind::Interface: {
                // A metal on either side makes the interface metallic; two insulators insulate.
                const auto a = phase_character(h.side_a.phase), b = phase_character(h.side_b.phase);
                if (a == "metal" || b == "metal") character = "metal";
                else if (a == "insulator" && b == "insulator") character = "insulator";
                break;
            }
        }
    }
    if (!character.empty()) s["electronic"] = character;
    // A dipole correction along z where the host asks for it (surfaces and interfaces are built
    // with vacuum along c).
    if (h.dipole_correction) s["slab"] = true;
    if (!h.spin.empty() && h.spin != "auto") s["spin"] = h.spin;
    return s;
}

nlohmann::json calc_params(const char* kind, const std::string& label, int multiplicity = 0,
                           const System& system = nlohmann::json::object()) {
    nlohmann::json p{{"calculation", kind}, {"label", label}, {"spin_multiplicity", multiplicity}};
    for (const auto& [k, v] : system.items()) p[k] = v;
    return p;
}

// The adsorbate at each named site of a host: a build task of the host kind's own kind (`search`
// plus the site's name, on the relaxed host under `host_role`) and its relaxation. Returns the
// relaxation task of each site ("all" is the finder's business, skipped here).
std::map<std::string, std::string> add_named_sites(engine::TaskGraph& g, const std::string& host,
                                                   const std::vector<std::string>& sites, const std::string& ads,
                                                   const char* build_kind, const nlohmann::json& search,
                                                   const std::string& host_role, const std::string& host_relax,
                                                   const System& system) {
    std::map<std::string, std::string> relaxed;
    for (const auto& site : sites) {
        if (site == "all") continue;
        const std::string st = names::site(host, site, ads);
        auto p = search;
        p["site"] = site;
        g.add({st, build_kind, p, {{host_role, host_relax}}});
        g.add({names::relax(st), engine::kinds::kCalculation,
               calc_params("relaxation", fmt::format("{} + {} {}", host, ads, site), 0, system), {{"structure", st}}});
        relaxed[site] = names::relax(st);
    }
    return relaxed;
}

// The two end points of a hop (`<base>/initial`, `<base>/final`), each built on the relaxed host
// by the hop kind's own build task and relaxed as a calculation.
void add_relaxed_endpoints(engine::TaskGraph& g, const std::string& base, const char* build_kind, const nlohmann::json& ends,
                           const std::string& host_role, const std::string& host_relax, const std::string& label,
                           const System& system) {
    for (const char* end : {"initial", "final"}) {
        auto p = ends;
        p["end"] = end;
        g.add({base + "/" + end, build_kind, p, {{host_role, host_relax}}});
        g.add({names::relax(base + "/" + end), engine::kinds::kCalculation,
               calc_params("relaxation", fmt::format("{} {} end point", label, end), 0, system),
               {{"structure", base + "/" + end}}});
    }
}

void add_bulk(engine::TaskGraph& g, const InterfaceSide& side) {
    const std::string bulk = names::bulk(side.label);
    if (g.contains(bulk)) return;
    g.add({bulk, kBuildBulk,
           side.phase ? nlohmann::json{{"phase", *side.phase}} : nlohmann::json{{"structure", side.structure}, {"source", side.source}},
           {}});
}

// An interface host: the interface (or its gap scan), its relaxation, the sites near it on each
// side, E_b on side A and on side B, and their difference, the in-situ ΔE of this interface.
void add_interface_host(engine::TaskGraph& g, const HostSpec& h, const std::string& ads, const std::string& reference_task,
                        const std::string& reference, const System& system) {
    add_bulk(g, h.side_a);
    add_bulk(g, h.side_b);
    const std::map<std::string, std::string> bulks{{"bulk_a", names::bulk(h.side_a.label)}, {"bulk_b", names::bulk(h.side_b.label)}};
    const std::string iface = names::interface(h.name);
    if (h.gap_scan.empty()) {
        g.add({iface, kinds::kBuildInterface, h.interface, bulks});
    } else {
        std::map<std::string, std::string> points;
        for (double gap : h.gap_scan) {
            const std::string point = names::gap_point(h.name, gap);
            auto p = h.interface;
            p["gap"] = gap;
            g.add({point, kinds::kBuildInterface, p, bulks});
            g.add({names::energy(point), engine::kinds::kCalculation,
                   calc_params("single_point", fmt::format("{} at a {:.2f} Å gap", h.name, gap), 0, system),
                   {{"structure", point}}});
            points[fmt::format("gap:{:.2f}", gap)] = names::energy(point);
        }
        g.add({iface, kinds::kSelectGap, {{"host", h.name}}, points});
    }
    const std::string host_relax = names::relax(iface);
    g.add({host_relax, engine::kinds::kCalculation, calc_params("relaxation", h.name + " interface", 0, system),
           {{"structure", iface}}});
    const nlohmann::json search{{"species", ads}, {"depth", h.depth}, {"min_distance", h.site_min_distance}};
    std::map<char, std::map<std::string, std::string>> inputs;
    for (char side : {'A', 'B'}) inputs[side] = {{"host", host_relax}, {"reference", reference_task}};
    if (h.sites == std::vector<std::string>{"all"}) {
        const std::string finder = names::site_finder(h.name);
        auto p = search;
        p["host"] = h.name;
        p["binding_energy_task_a"] = names::side_binding_energy(h.name, 'A');
        p["binding_energy_task_b"] = names::side_binding_energy(h.name, 'B');
        if (!system.empty()) p["system"] = system;
        g.add({finder, kinds::kFindInterfaceSites, p, {{"host", host_relax}}});
        for (char side : {'A', 'B'}) inputs[side]["sites"] = finder;
    } else {
        for (const auto& [site, relaxed] :
             add_named_sites(g, h.name, h.sites, ads, kinds::kBuildInterfaceSite, search, "host", host_relax, system))
            inputs[site[0]]["site:" + site] = relaxed;
    }
    for (char side : {'A', 'B'})
        g.add({names::side_binding_energy(h.name, side), kinds::kBindingEnergy,
               {{"adsorbate", ads}, {"reference", reference}, {"host", fmt::format("{}[{}]", h.name, side)},
                {"host_kind", "interface"}, {"interface", h.name}, {"side", std::string(1, side)}},
               inputs[side]});
    g.add({names::in_situ_delta_e(h.name), kinds::kDeltaE,
           {{"a", fmt::format("{}[A]", h.name)}, {"b", fmt::format("{}[B]", h.name)}, {"interface", h.name}},
           {{"a", names::side_binding_energy(h.name, 'A')}, {"b", names::side_binding_energy(h.name, 'B')}}});
}

// A molecule host: the molecule in its box relaxed, the adsorbate at each site around it.
void add_molecule_host(engine::TaskGraph& g, const HostSpec& h, const std::string& ads, const std::string& reference_task,
                       const std::string& reference, const System& system) {
    const std::string mol = names::molecule(h.name);
    nlohmann::json p = h.molecule ? nlohmann::json{{"molecule", *h.molecule}}
                                  : nlohmann::json{{"structure", h.molecule_structure}, {"source", h.bulk_source}};
    p["box"] = h.box;
    g.add({mol, kinds::kBuildMoleculeInBox, p, {}});
    const std::string host_relax = names::relax(mol);
    g.add({host_relax, engine::kinds::kCalculation, calc_params("relaxation", h.name + " molecule", 0, system),
           {{"structure", mol}}});
    const nlohmann::json search{{"species", ads}, {"bond_length", h.bond_length}, {"min_distance", h.site_min_distance}};
    std::map<std::string, std::string> be_inputs{{"host", host_relax}, {"reference", reference_task}};
    if (h.sites == std::vector<std::string>{"all"}) {
        const std::string finder = names::site_finder(h.name);
        auto q = search;
        q["host"] = h.name;
        q["binding_energy_task"] = names::binding_energy(h.name);
        if (!system.empty()) q["system"] = system;
        g.add({finder, kinds::kFindMoleculeSites, q, {{"host", host_relax}}});
        be_inputs["sites"] = finder;
    } else {
        for (const auto& [site, relaxed] :
             add_named_sites(g, h.name, h.sites, ads, kinds::kBuildMoleculeSite, search, "host", host_relax, system))
            be_inputs["site:" + site] = relaxed;
    }
    g.add({names::binding_energy(h.name), kinds::kBindingEnergy,
           {{"adsorbate", ads}, {"reference", reference}, {"host", h.name}, {"host_kind", "molecule"}}, be_inputs});
}

// A vacancy or interstitial hop inside a relaxed bulk host: end points relaxed, then the band.
// The band's parameters: the hop's, and the host's system for the images' calculations.
nlohmann::json band_params(nlohmann::json params, const System& system) {
    for (const auto& [k, v] : system.items()) params[k] = v;
    return params;
}

void add_bulk_hop(engine::TaskGraph& g, const HopSpec& hop, const Spec& spec, const plugins::Protocol& protocol,
                  bool electronic_structure) {
    const HostSpec* host = nullptr;
    for (const auto& h : spec.hosts)
        if (h.name == hop.host) host = &h;
    const std::string base = names::hop(hop.host, hop.id());
    nlohmann::json ends{{"mechanism", hop.mechanism}, {"species", spec.adsorbate}, {"min_distance", host->site_min_distance}};
    if (hop.mechanism == "vacancy") ends["hop"] = hop.vacancy_hop;
    else ends["site"] = hop.site;
    const System system = system_of(*host, electronic_structure);
    add_relaxed_endpoints(g, base, kinds::kBuildBulkHopEndpoint, ends, "host", names::relax(names::supercell(hop.host)),
                          fmt::format("{} {} {} hop", hop.host, spec.adsorbate, hop.mechanism), system);
    neb::add_band_tasks(g, base, names::relax(base + "/initial"), names::relax(base + "/final"), hop,
                        band_params({{"host", hop.host}, {"hop", hop.id()}, {"from", hop.from}, {"to", hop.to},
                                     {"mechanism", hop.mechanism}},
                                    system),
                        protocol);
}

// A hop across an interface: end points at sites inside each phase of the relaxed interface,
// both relaxed, checked (distinct minima, each on its side), then the band.
void add_interface_hop(engine::TaskGraph& g, const HopSpec& hop, const Spec& spec, const plugins::Protocol& protocol,
                       bool electronic_structure) {
    const HostSpec* host = nullptr;
    for (const auto& h : spec.hosts)
        if (h.name == hop.host) host = &h;
    const std::string base = names::hop(hop.host, hop.id());
    const std::string relaxed_interface = names::relax(names::interface(hop.host));
    nlohmann::json ends{{"species", spec.adsorbate}, {"depth", host->depth}, {"min_distance", host->site_min_distance},
                        {"reverse", hop.from[0] == 'B'}};
    if (hop.from.size() > 1) ends["from_site"] = hop.from;
    if (hop.to.size() > 1) ends["to_site"] = hop.to;
    const System system = system_of(*host, electronic_structure);
    add_relaxed_endpoints(g, base, kinds::kBuildInterfaceHopEndpoint, ends, "host", relaxed_interface,
                          fmt::format("{} {} hop", hop.host, spec.adsorbate), system);
    g.add({base + "/check", kinds::kCheckInterfaceHop, {{"reverse", hop.from[0] == 'B'}},
           {{"initial", names::relax(base + "/initial")}, {"final", names::relax(base + "/final")}}});
    neb::add_band_tasks(g, base, names::relax(base + "/initial"), names::relax(base + "/final"), hop,
                        band_params({{"host", hop.host}, {"hop", hop.id()}, {"from", hop.from}, {"to", hop.to},
                                     {"across_interface", true}},
                                    system),
                        protocol);
    // The band starts only from end points that passed the check.
    g.add_input(base + "/path", "check", base + "/check");
}

}  // namespace

engine::TaskGraph expand(const WorkflowSpec& workflow) {
    const auto& spec = workflow.as<Spec>();
    engine::TaskGraph g;
    const std::string ads = spec.adsorbate;
    const bool dft =
        plugins::CalculatorRegistry::instance().info(workflow.calculator_code, workflow.source.string()).electronic_structure();

    // μ of the adsorbate.
    std::string reference_task;
    if (spec.reference == Reference::IsolatedAtom) {
        const std::string base = names::reference(ads, false);
        g.add({base, kinds::kBuildAtomInBox, {{"species", ads}, {"box", spec.reference_box}}, {}});
        // The free atom in its spin-polarised ground state (Hund's rule; Li: doublet).
        reference_task = names::energy(base);
        g.add({reference_task, engine::kinds::kCalculation,
               calc_params("single_point", ads + " atom in a box", structures::atom_ground_state_multiplicity(ads),
                           dft ? System{{"electronic", "insulator"}} : System::object()),
               {{"structure", base}}});
    } else {
        const std::string base = names::reference(ads, true);
        g.add({base, kBuildBulk, {{"phase", ads}}, {}});
        reference_task = names::energy(base);
        System bulk_system = System::object();
        if (dft && !phase_character(ads).empty()) bulk_system["electronic"] = phase_character(ads);
        g.add({reference_task, engine::kinds::kCalculation, calc_params("single_point", "bulk " + ads, 0, bulk_system),
               {{"structure", base}}});
    }

    for (const auto& h : spec.hosts) {
        const System system = system_of(h, dft);
        if (h.kind == HostKind::Interface) {
            add_interface_host(g, h, ads, reference_task, to_string(spec.reference), system);
            continue;
        }
        if (h.kind == HostKind::Molecule) {
            add_molecule_host(g, h, ads, reference_task, to_string(spec.reference), system);
            continue;
        }
        const std::string bulk = names::bulk(h.phase ? *h.phase : h.bulk_structure.value("title", h.name));
        if (!g.contains(bulk)) {
            nlohmann::json p = h.phase ? nlohmann::json{{"phase", *h.phase}}
                                       : nlohmann::json{{"structure", h.bulk_structure}, {"source", h.bulk_source}};
            g.add({bulk, kBuildBulk, p, {}});
        }
        if (h.kind == HostKind::Bulk) {
            // The supercell relaxed at fixed cell, then the adsorbate at each interstitial site.
            const std::string cell = names::supercell(h.name);
            g.add({cell, kinds::kBuildSupercell, {{"repeat", *h.repeat}, {"min_image_distance", h.min_image_distance}},
                   {{"bulk", bulk}}});
            const std::string host_relax = names::relax(cell);
            g.add({host_relax, engine::kinds::kCalculation, calc_params("relaxation", h.name + " bulk supercell", 0, system),
                   {{"structure", cell}}});
            std::map<std::string, std::string> be_inputs{{"host", host_relax}, {"reference", reference_task}};
            const nlohmann::json search{{"species", ads}, {"min_distance", h.site_min_distance}};
            if (h.sites == std::vector<std::string>{"all"}) {
                const std::string finder = names::site_finder(h.name);
                auto p = search;
                p["host"] = h.name;
                p["binding_energy_task"] = names::binding_energy(h.name);
                if (!system.empty()) p["system"] = system;
                g.add({finder, kinds::kFindInterstitialSites, p, {{"host", host_relax}}});
                be_inputs["sites"] = finder;
            } else {
                for (const auto& [site, relaxed] :
                     add_named_sites(g, h.name, h.sites, ads, kinds::kBuildInterstitial, search, "host", host_relax, system))
                    be_inputs["site:" + site] = relaxed;
            }
            g.add({names::binding_energy(h.name), kinds::kBindingEnergy,
                   {{"adsorbate", ads}, {"reference", to_string(spec.reference)}, {"host", h.name}, {"host_kind", "bulk"}},
                   be_inputs});
            continue;
        }
        nlohmann::json slab{{"miller", h.miller},           {"layers", h.layers},
                            {"vacuum", h.vacuum},           {"supercell", h.supercell},
                            {"fix_bottom_layers", h.fix_bottom_layers}, {"fix_bottom", h.fix_bottom}};
        if (h.termination) slab["termination"] = *h.termination;
        // Only when given: the hashes of slabs described by layers and supercell stay as they were.
        if (h.thickness) slab["thickness"] = *h.thickness;
        if (h.area_per_adsorbate) slab["area_per_adsorbate"] = *h.area_per_adsorbate;
        const std::string slab_task = names::slab(h.name);
        g.add({slab_task, kinds::kBuildSlab, slab, {{"bulk", bulk}}});
        const std::string host_relax = names::relax(slab_task);
        g.add({host_relax, engine::kinds::kCalculation, calc_params("relaxation", h.name + " clean slab", 0, system),
               {{"structure", slab_task}}});
        std::map<std::string, std::string> be_inputs{{"host", host_relax}, {"reference", reference_task}};
        if (h.sites == std::vector<std::string>{"all"}) {
            // The sites are known only once the slab is relaxed: a find_sites task adds one
            // build + relaxation per symmetry-unique site when it finishes (growth.cpp).
            const std::string finder = names::site_finder(h.name);
            nlohmann::json p{{"species", ads}, {"host", h.name}, {"binding_energy_task", names::binding_energy(h.name)}};
            if (!system.empty()) p["system"] = system;
            g.add({finder, kinds::kFindSites, p, {{"slab", host_relax}}});
            be_inputs["sites"] = finder;
        }
        for (const auto& [site, relaxed] :
             add_named_sites(g, h.name, h.sites, ads, kinds::kBuildAdsorbate, {{"species", ads}}, "slab", host_relax, system))
            be_inputs["site:" + site] = relaxed;
        g.add({names::binding_energy(h.name), kinds::kBindingEnergy,
               {{"adsorbate", ads}, {"reference", to_string(spec.reference)}, {"host", h.name}}, be_inputs});
    }
    for (const auto& [a, b] : spec.pairs)
        g.add({names::delta_e(a, b), kinds::kDeltaE, {{"a", a}, {"b", b}},
               {{"a", names::binding_energy(a)}, {"b", names::binding_energy(b)}}});
    // Migration hops: both end points relaxed as calculations, then the band (docs/workflow.md).
    for (const auto& hop : spec.hops) {
        if (hop.across_interface) {
            add_interface_hop(g, hop, spec, workflow.protocol, dft);
            continue;
        }
        if (!hop.mechanism.empty()) {
            add_bulk_hop(g, hop, spec, workflow.protocol, dft);
            continue;
        }
        const std::string base = names::hop(hop.host, hop.id());
        const nlohmann::json ends{{"from", hop.from}, {"to", hop.to}, {"species", ads}};
        System system = System::object();
        for (const auto& h : spec.hosts)
            if (h.name == hop.host) system = system_of(h, dft);
        add_relaxed_endpoints(g, base, kinds::kBuildHopEndpoint, ends, "slab", names::relax(names::slab(hop.host)),
                              fmt::format("{} {} hop", hop.host, ads), system);
        neb::add_band_tasks(g, base, names::relax(base + "/initial"), names::relax(base + "/final"), hop,
                            band_params({{"host", hop.host}, {"hop", hop.id()}, {"from", hop.from}, {"to", hop.to}}, system),
                            workflow.protocol);
    }
    return g;
}

}  // namespace interphase::workflows::binding_energy
