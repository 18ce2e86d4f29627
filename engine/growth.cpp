#include "engine/growth.hpp"

#include <fmt/format.h>

#include "common/errors.hpp"

namespace interphase::engine {

bool grows_graph(const std::string& kind) { return kind == kinds::kFindSites; }

std::vector<std::string> grow(TaskGraph& graph, const Task& finished, const nlohmann::json& output) {
    std::vector<std::string> added;
    if (finished.kind != kinds::kFindSites) return added;
    const auto& p = finished.params;
    const std::string host = p.at("host").get<std::string>();
    const std::string species = p.at("species").get<std::string>();
    const std::string be_task = p.at("binding_energy_task").get<std::string>();
    const std::string slab = finished.inputs.at("slab");
    for (const auto& site : output.at("sites")) {
        const std::string name = site.at("name").get<std::string>();
        const std::string build = fmt::format("{}/{}+{}", host, name, species);
        const std::string relax = build + "/relax";
        if (graph.contains(relax)) continue;  // regrown after a resume
        graph.add({build, kinds::kBuildAdsorbate, {{"site", name}, {"species", species}}, {{"slab", slab}}});
        graph.add({relax, kinds::kCalculation,
                   {{"calculation", "relaxation"}, {"label", fmt::format("{} + {} {}", host, species, name)},
                    {"spin_multiplicity", 0}},
                   {{"structure", build}}});
        if (graph.contains(be_task)) graph.add_input(be_task, "site:" + name, relax);
        added.push_back(build);
        added.push_back(relax);
    }
    if (output.at("sites").empty())
        throw StructureError(fmt::format("{}: no adsorption site found on the slab", finished.name));
    return added;
}

}  // namespace interphase::engine
