// The task graph of `workflow: binding_energy` (task names: names.hpp; docs/workflow.md).
#include <fmt/format.h>
#include <map>

#include "structures/elements.hpp"
#include "workflows/binding_energy/binding_energy.hpp"
#include "workflows/binding_energy/names.hpp"
#include "workflows/structure_tasks.hpp"

namespace interphase::workflows::binding_energy {

namespace {

nlohmann::json calc_params(const char* kind, const std::string& label, int multiplicity = 0) {
    return nlohmann::json{{"calculation", kind}, {"label", label}, {"spin_multiplicity", multiplicity}};
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
                        const std::string& reference) {
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
                   calc_params("single_point", fmt::format("{} at a {:.2f} Å gap", h.name, gap)), {{"structure", point}}});
            points[fmt::format("gap:{:.2f}", gap)] = names::energy(point);
        }
        g.add({iface, kinds::kSelectGap, {{"host", h.name}}, points});
    }
    const std::string host_relax = names::relax(iface);
    g.add({host_relax, engine::kinds::kCalculation, calc_params("relaxation", h.name + " interface"), {{"structure", iface}}});
    const nlohmann::json search{{"species", ads}, {"depth", h.depth}, {"min_distance", h.site_min_distance}};
    std::map<char, std::map<std::string, std::string>> inputs;
    for (char side : {'A', 'B'}) inputs[side] = {{"host", host_relax}, {"reference", reference_task}};
    if (h.sites == std::vector<std::string>{"all"}) {
        const std::string finder = names::site_finder(h.name);
        auto p = search;
        p["host"] = h.name;
        p["binding_energy_task_a"] = names::side_binding_energy(h.name, 'A');
        p["binding_energy_task_b"] = names::side_binding_energy(h.name, 'B');
        g.add({finder, kinds::kFindInterfaceSites, p, {{"host", host_relax}}});
        for (char side : {'A', 'B'}) inputs[side]["sites"] = finder;
    } else {
        for (const auto& site : h.sites) {
            const std::string st = names::site(h.name, site, ads);
            auto p = search;
            p["site"] = site;
            g.add({st, kinds::kBuildInterfaceSite, p, {{"host", host_relax}}});
            g.add({names::relax(st), engine::kinds::kCalculation,
                   calc_params("relaxation", fmt::format("{} + {} {}", h.name, ads, site)), {{"structure", st}}});
            inputs[site[0]]["site:" + site] = names::relax(st);
        }
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
                       const std::string& reference) {
    const std::string mol = names::molecule(h.name);
    nlohmann::json p = h.molecule ? nlohmann::json{{"molecule", *h.molecule}}
                                  : nlohmann::json{{"structure", h.molecule_structure}, {"source", h.bulk_source}};
    p["box"] = h.box;
    g.add({mol, kinds::kBuildMoleculeInBox, p, {}});
    const std::string host_relax = names::relax(mol);
    g.add({host_relax, engine::kinds::kCalculation, calc_params("relaxation", h.name + " molecule"), {{"structure", mol}}});
    const nlohmann::json search{{"species", ads}, {"bond_length", h.bond_length}, {"min_distance", h.site_min_distance}};
    std::map<std::string, std::string> be_inputs{{"host", host_relax}, {"reference", reference_task}};
    if (h.sites == std::vector<std::string>{"all"}) {
        const std::string finder = names::site_finder(h.name);
        auto q = search;
        q["host"] = h.name;
        q["binding_energy_task"] = names::binding_energy(h.name);
        g.add({finder, kinds::kFindMoleculeSites, q, {{"host", host_relax}}});
        be_inputs["sites"] = finder;
    } else {
        for (const auto& site : h.sites) {
            const std::string st = names::site(h.name, site, ads);
            auto q = search;
            q["site"] = site;
            g.add({st, kinds::kBuildMoleculeSite, q, {{"host", host_relax}}});
            g.add({names::relax(st), engine::kinds::kCalculation,
                   calc_params("relaxation", fmt::format("{} + {} {}", h.name, ads, site)), {{"structure", st}}});
            be_inputs["site:" + site] = names::relax(st);
        }
    }
    g.add({names::binding_energy(h.name), kinds::kBindingEnergy,
           {{"adsorbate", ads}, {"reference", reference}, {"host", h.name}, {"host_kind", "molecule"}}, be_inputs});
}

// A vacancy or interstitial hop inside a relaxed bulk host: end points relaxed, then the band.
void add_bulk_hop(engine::TaskGraph& g, const HopSpec& hop, const Spec& spec, const plugins::Protocol& protocol) {
    const HostSpec* host = nullptr;
    for (const auto& h : spec.hosts)
        if (h.name == hop.host) host = &h;
    const std::string base = names::hop(hop.host, hop.id());
    nlohmann::json ends{{"mechanism", hop.mechanism}, {"species", spec.adsorbate}, {"min_distance", host->site_min_distance}};
    if (hop.mechanism == "vacancy") ends["hop"] = hop.vacancy_hop;
    else ends["site"] = hop.site;
    for (const char* end : {"initial", "final"}) {
        auto p = ends;
        p["end"] = end;
        g.add({base + "/" + end, kinds::kBuildBulkHopEndpoint, p, {{"host", names::relax(names::supercell(hop.host))}}});
        g.add({names::relax(base + "/" + end), engine::kinds::kCalculation,
               calc_params("relaxation", fmt::format("{} {} {} hop {} end point", hop.host, spec.adsorbate, hop.mechanism, end)),
               {{"structure", base + "/" + end}}});
    }
    neb::add_band_tasks(g, base, names::relax(base + "/initial"), names::relax(base + "/final"), hop,
                        {{"host", hop.host}, {"hop", hop.id()}, {"from", hop.from}, {"to", hop.to}, {"mechanism", hop.mechanism}},
                        protocol);
}

// A hop across an interface: end points at sites inside each phase of the relaxed interface,
// both relaxed, checked (distinct minima, each on its side), then the band.
void add_interface_hop(engine::TaskGraph& g, const HopSpec& hop, const Spec& spec, const plugins::Protocol& protocol) {
    const HostSpec* host = nullptr;
    for (const auto& h : spec.hosts)
        if (h.name == hop.host) host = &h;
    const std::string base = names::hop(hop.host, hop.id());
    const std::string relaxed_interface = names::relax(names::interface(hop.host));
    nlohmann::json ends{{"species", spec.adsorbate}, {"depth", host->depth}, {"min_distance", host->site_min_distance},
                        {"reverse", hop.from[0] == 'B'}};
    if (hop.from.size() > 1) ends["from_site"] = hop.from;
    if (hop.to.size() > 1) ends["to_site"] = hop.to;
    for (const char* end : {"initial", "final"}) {
        auto p = ends;
        p["end"] = end;
        g.add({base + "/" + end, kinds::kBuildInterfaceHopEndpoint, p, {{"host", relaxed_interface}}});
        g.add({names::relax(base + "/" + end), engine::kinds::kCalculation,
               calc_params("relaxation", fmt::format("{} {} hop {} end point", hop.host, spec.adsorbate, end)),
               {{"structure", base + "/" + end}}});
    }
    g.add({base + "/check", kinds::kCheckInterfaceHop, {{"reverse", hop.from[0] == 'B'}},
           {{"initial", names::relax(base + "/initial")}, {"final", names::relax(base + "/final")}}});
    neb::add_band_tasks(g, base, names::relax(base + "/initial"), names::relax(base + "/final"), hop,
                        {{"host", hop.host}, {"hop", hop.id()}, {"from", hop.from}, {"to", hop.to}, {"across_interface", true}},
                        protocol);
    // The band starts only from end points that passed the check.
    g.add_input(base + "/path", "check", base + "/check");
}

}  // namespace

engine::TaskGraph expand(const WorkflowSpec& workflow) {
    const auto& spec = workflow.as<Spec>();
    engine::TaskGraph g;
    const std::string ads = spec.adsorbate;

    // μ of the adsorbate.
    std::string reference_task;
    if (spec.reference == Reference::IsolatedAtom) {
        const std::string base = names::reference(ads, false);
        g.add({base, kinds::kBuildAtomInBox, {{"species", ads}, {"box", spec.reference_box}}, {}});
        // The free atom in its spin-polarised ground state (Hund's rule; Li: doublet).
        reference_task = names::energy(base);
        g.add({reference_task, engine::kinds::kCalculation,
               calc_params("single_point", ads + " atom in a box", structures::atom_ground_state_multiplicity(ads)),
               {{"structure", base}}});
    } else {
        const std::string base = names::reference(ads, true);
        g.add({base, kBuildBulk, {{"phase", ads}}, {}});
        reference_task = names::energy(base);
        g.add({reference_task, engine::kinds::kCalculation, calc_params("single_point", "bulk " + ads), {{"structure", base}}});
    }

    for (const auto& h : spec.hosts) {
        if (h.kind == HostKind::Interface) {
            add_interface_host(g, h, ads, reference_task, to_string(spec.reference));
            continue;
        }
        if (h.kind == HostKind::Molecule) {
            add_molecule_host(g, h, ads, reference_task, to_string(spec.reference));
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
            g.add({host_relax, engine::kinds::kCalculation, calc_params("relaxation", h.name + " bulk supercell"),
                   {{"structure", cell}}});
            std::map<std::string, std::string> be_inputs{{"host", host_relax}, {"reference", reference_task}};
            const nlohmann::json search{{"species", ads}, {"min_distance", h.site_min_distance}};
            if (h.sites == std::vector<std::string>{"all"}) {
                const std::string finder = names::site_finder(h.name);
                auto p = search;
                p["host"] = h.name;
                p["binding_energy_task"] = names::binding_energy(h.name);
                g.add({finder, kinds::kFindInterstitialSites, p, {{"host", host_relax}}});
                be_inputs["sites"] = finder;
            } else {
                for (const auto& site : h.sites) {
                    const std::string st = names::site(h.name, site, ads);
                    auto p = search;
                    p["site"] = site;
                    g.add({st, kinds::kBuildInterstitial, p, {{"host", host_relax}}});
                    g.add({names::relax(st), engine::kinds::kCalculation,
                           calc_params("relaxation", fmt::format("{} + {} {}", h.name, ads, site)), {{"structure", st}}});
                    be_inputs["site:" + site] = names::relax(st);
                }
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
        const std::string slab_task = names::slab(h.name);
        g.add({slab_task, kinds::kBuildSlab, slab, {{"bulk", bulk}}});
        const std::string host_relax = names::relax(slab_task);
        g.add({host_relax, engine::kinds::kCalculation, calc_params("relaxation", h.name + " clean slab"), {{"structure", slab_task}}});
        std::map<std::string, std::string> be_inputs{{"host", host_relax}, {"reference", reference_task}};
        if (h.sites == std::vector<std::string>{"all"}) {
            // The sites are known only once the slab is relaxed: a find_sites task adds one
            // build + relaxation per symmetry-unique site when it finishes (growth.cpp).
            const std::string finder = names::site_finder(h.name);
            g.add({finder, kinds::kFindSites,
                   {{"species", ads}, {"host", h.name}, {"binding_energy_task", names::binding_energy(h.name)}},
                   {{"slab", host_relax}}});
            be_inputs["sites"] = finder;
        }
        for (const auto& site : h.sites) {
            if (site == "all") continue;
            const std::string st = names::site(h.name, site, ads);
            g.add({st, kinds::kBuildAdsorbate, {{"site", site}, {"species", ads}}, {{"slab", host_relax}}});
            g.add({names::relax(st), engine::kinds::kCalculation, calc_params("relaxation", fmt::format("{} + {} {}", h.name, ads, site)),
                   {{"structure", st}}});
            be_inputs["site:" + site] = names::relax(st);
        }
        g.add({names::binding_energy(h.name), kinds::kBindingEnergy,
               {{"adsorbate", ads}, {"reference", to_string(spec.reference)}, {"host", h.name}}, be_inputs});
    }
    for (const auto& [a, b] : spec.pairs)
        g.add({names::delta_e(a, b), kinds::kDeltaE, {{"a", a}, {"b", b}},
               {{"a", names::binding_energy(a)}, {"b", names::binding_energy(b)}}});
    // Migration hops: both end points relaxed as calculations, then the band (docs/workflow.md).
    for (const auto& hop : spec.hops) {
        if (hop.across_interface) {
            add_interface_hop(g, hop, spec, workflow.protocol);
            continue;
        }
        if (!hop.mechanism.empty()) {
            add_bulk_hop(g, hop, spec, workflow.protocol);
            continue;
        }
        const std::string base = names::hop(hop.host, hop.id());
        const nlohmann::json ends{{"from", hop.from}, {"to", hop.to}, {"species", ads}};
        for (const char* end : {"initial", "final"}) {
            auto p = ends;
            p["end"] = end;
            g.add({base + "/" + end, kinds::kBuildHopEndpoint, p, {{"slab", names::relax(names::slab(hop.host))}}});
            g.add({names::relax(base + "/" + end), engine::kinds::kCalculation,
                   calc_params("relaxation", fmt::format("{} {} hop {} end point", hop.host, ads, end)),
                   {{"structure", base + "/" + end}}});
        }
        neb::add_band_tasks(g, base, names::relax(base + "/initial"), names::relax(base + "/final"), hop,
                           {{"host", hop.host}, {"hop", hop.id()}, {"from", hop.from}, {"to", hop.to}}, workflow.protocol);
    }
    return g;
}

}  // namespace interphase::workflows::binding_energy
