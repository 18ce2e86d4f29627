// The graph grows at run time: a find_sites task lists the symmetry-unique adsorption sites of a
// relaxed slab; when it finishes, one build_adsorbate + relaxation per site is added and wired
// into the host's binding-energy task. The rule is deterministic (same output, same tasks,
// same names), so a resumed run regrows the same graph and finds the finished tasks by hash.
#include "workflows/binding_energy/tasks.hpp"

#include <fmt/format.h>

#include "common/errors.hpp"
#include "workflows/binding_energy/names.hpp"

namespace interphase::workflows::binding_energy {

std::vector<std::string> grow_sites(engine::TaskGraph& graph, const engine::Task& finished, const nlohmann::json& output) {
    std::vector<std::string> added;
    const auto& p = finished.params;
    const std::string host = p.at("host").get<std::string>();
    const std::string species = p.at("species").get<std::string>();
    // An interface's sites feed the binding energy of their side.
    const bool interface = finished.kind == kinds::kFindInterfaceSites;
    auto be_task_of = [&](const nlohmann::json& site) {
        if (!interface) return p.at("binding_energy_task").get<std::string>();
        return p.at(site.at("side") == "A" ? "binding_energy_task_a" : "binding_energy_task_b").get<std::string>();
    };
    // A surface's sites (find_sites) or a bulk host's interstitial sites (find_interstitial_sites).
    const bool interstitial = finished.kind == kinds::kFindInterstitialSites;
    const bool molecule = finished.kind == kinds::kFindMoleculeSites;
    const std::string role = interstitial || interface || molecule ? "host" : "slab";
    const std::string host_task = finished.inputs.at(role);
    for (const auto& site : output.at("sites")) {
        const std::string name = site.at("name").get<std::string>();
        const std::string build = names::site(host, name, species);
        const std::string relax = names::relax(build);
        if (graph.contains(relax)) continue;  // regrown after a resume
        nlohmann::json params{{"site", name}, {"species", species}};
        if (interstitial || interface) params["min_distance"] = p.at("min_distance");
        if (interface) params["depth"] = p.at("depth");
        if (molecule) {
            params["min_distance"] = p.at("min_distance");
            params["bond_length"] = p.at("bond_length");
        }
        const char* build_kind = molecule       ? kinds::kBuildMoleculeSite
                                 : interface    ? kinds::kBuildInterfaceSite
                                 : interstitial ? kinds::kBuildInterstitial
                                                : kinds::kBuildAdsorbate;
        graph.add({build, build_kind, params, {{role, host_task}}});
        const std::string be_task = be_task_of(site);
        nlohmann::json calc{{"calculation", "relaxation"}, {"label", fmt::format("{} + {} {}", host, species, name)},
                            {"spin_multiplicity", 0}};
        // The host's system (electronic character, slab) for electronic-structure codes.
        if (p.contains("system"))
            for (const auto& [k, v] : p.at("system").items()) calc[k] = v;
        graph.add({relax, engine::kinds::kCalculation, calc, {{"structure", build}}});
        if (graph.contains(be_task)) graph.add_input(be_task, "site:" + name, relax);
        added.push_back(build);
        added.push_back(relax);
    }
    if (output.at("sites").empty())
        throw StructureError(fmt::format("{}: no {} site found", finished.name, interface ? "interface" : interstitial ? "interstitial" : "adsorption"));
    return added;
}

}  // namespace interphase::workflows::binding_energy
