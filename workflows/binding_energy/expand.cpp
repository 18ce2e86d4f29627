// The task graph of `workflow: binding_energy` (task names: names.hpp; docs/workflow.md).
#include <fmt/format.h>

#include "structures/elements.hpp"
#include "workflows/binding_energy/binding_energy.hpp"
#include "workflows/binding_energy/names.hpp"
#include "workflows/structure_tasks.hpp"

namespace interphase::workflows::binding_energy {

engine::TaskGraph expand(const WorkflowSpec& workflow) {
    const auto& spec = workflow.as<Spec>();
    engine::TaskGraph g;
    const std::string ads = spec.adsorbate;
    auto calc_params = [](const char* kind, const std::string& label, int multiplicity = 0) {
        return nlohmann::json{{"calculation", kind}, {"label", label}, {"spin_multiplicity", multiplicity}};
    };

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
