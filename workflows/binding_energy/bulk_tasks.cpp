// The task kinds of a bulk host (`kind: bulk`): its supercell, its interstitial sites, the
// adsorbate at one of them.
#include <algorithm>
#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "structures/interstitials.hpp"
#include "structures/lattice_tools.hpp"
#include "structures/neb_path.hpp"
#include "workflows/binding_energy/names.hpp"
#include "workflows/binding_energy/tasks.hpp"

namespace interphase::workflows::binding_energy {

namespace st = interphase::structures;
using engine::Inputs;
using engine::output_structure;
using engine::Task;
using engine::task_input;

namespace {

// params {repeat: [a, b, c], min_image_distance}, input "bulk".
nlohmann::json build_supercell(const Task& t, const Inputs& in) {
    const auto bulk = output_structure(task_input(in, "bulk", t), t.name);
    const auto repeat = t.params.at("repeat").get<std::array<int, 3>>();
    auto cell = st::repeat_cell(bulk, repeat);
    const double d = st::min_image_distance(cell);
    const double wanted = t.params.at("min_image_distance").get<double>();
    if (d < wanted - 1e-9)
        throw StructureError(fmt::format("{}: periodic images {:.2f} Å apart, less than min_image_distance {:.2f} Å",
                                         t.name, d, wanted));
    return {{"structure", st::to_json(cell)}, {"repeat", repeat}, {"min_image_distance", d}};
}

st::InterstitialSearch search_of(const nlohmann::json& params) {
    st::InterstitialSearch s;
    s.min_distance = params.at("min_distance").get<double>();
    return s;
}

nlohmann::json site_json(const st::InterstitialSite& x) {
    return {{"name", x.name},          {"multiplicity", x.multiplicity}, {"radius", x.radius},
            {"wyckoff", x.wyckoff},    {"coordination", x.coordination}, {"shell", x.shell},
            {"polyhedron", x.polyhedron}, {"position", {x.position[0], x.position[1], x.position[2]}}};
}

// params {species, min_distance, host, binding_energy_task}, input "host" (the relaxed supercell).
nlohmann::json find_interstitial_sites(const Task& t, const Inputs& in) {
    const auto host = output_structure(task_input(in, "host", t), t.name);
    nlohmann::json sites = nlohmann::json::array();
    for (const auto& x : st::find_interstitial_sites(host, search_of(t.params))) sites.push_back(site_json(x));
    return {{"sites", sites}};
}

// params {site, species, min_distance}, input "host": the adsorbate at the site's representative.
nlohmann::json build_interstitial(const Task& t, const Inputs& in) {
    const auto host = output_structure(task_input(in, "host", t), t.name);
    const auto sites = st::find_interstitial_sites(host, search_of(t.params));
    const std::string name = t.params.at("site").get<std::string>();
    std::vector<std::string> known;
    for (const auto& x : sites) {
        known.push_back(x.name);
        if (x.name != name) continue;
        auto s = host;
        s.add_atom(t.params.at("species").get<std::string>(), x.frac);
        s[s.size() - 1].label = "adsorbate";
        return {{"structure", st::to_json(s)}, {"site", site_json(x)}};
    }
    throw InputError(t.name, "site", text::unknown_name_message("interstitial site", name, known));
}

// params {mechanism: vacancy | interstitial, end, species, hop (vacancy, 1-based) | site, min_distance},
// input "host" (the relaxed supercell).
nlohmann::json build_bulk_hop_endpoint(const Task& t, const Inputs& in) {
    const auto host = output_structure(task_input(in, "host", t), t.name);
    const auto& p = t.params;
    st::HopSearch search;
    search.species = p.at("species").get<std::string>();
    st::HopEndpoints hop;
    if (p.at("mechanism") == "vacancy") {
        auto hops = st::vacancy_hops(host, search);
        std::stable_sort(hops.begin(), hops.end(), [](const auto& a, const auto& b) { return a.distance < b.distance - 1e-9; });
        const int n = p.at("hop").get<int>();
        if (n > static_cast<int>(hops.size()))
            throw InputError(t.name, "hop", fmt::format("asks for vacancy hop {}, but the relaxed host has {} symmetry-distinct "
                                                        "vacancy hops of {}", n, hops.size(), search.species));
        hop = hops[static_cast<std::size_t>(n - 1)];
    } else {
        // One hop per symmetry-unique site, in the finder's order: i1, i2, ...
        const auto hops = st::interstitial_hops(host, search_of(p), search);
        const std::string site = p.at("site").get<std::string>();
        const auto n = static_cast<std::size_t>(std::stoi(site.substr(1)));
        if (n < 1 || n > hops.size())
            throw InputError(t.name, "site", fmt::format("no interstitial site '{}': the relaxed host has {} (i1..i{})", site,
                                                         hops.size(), hops.size()));
        hop = hops[n - 1];
    }
    const auto& s = p.at("end") == "initial" ? hop.initial : hop.final;
    return {{"structure", st::to_json(s)}, {"description", hop.description}, {"moving_atom", hop.moving_atom},
            {"distance_A", hop.distance}};
}

}  // namespace

std::vector<engine::TaskKind> bulk_task_kinds() {
    std::vector<engine::TaskKind> all(4);
    all[0].name = kinds::kBuildSupercell;
    all[0].description = "a bulk host: the crystal repeated a x b x c times (adsorbate far from its images)";
    all[0].run = build_supercell;
    all[1].name = kinds::kFindInterstitialSites;
    all[1].description = "the symmetry-unique interstitial sites of a relaxed bulk host; grows the graph";
    all[1].run = find_interstitial_sites;
    all[1].grow = grow_sites;
    all[2].name = kinds::kBuildInterstitial;
    all[2].description = "the adsorbate at one interstitial site of a relaxed bulk host";
    all[2].run = build_interstitial;
    all[3].name = kinds::kBuildBulkHopEndpoint;
    all[3].description = "one end point of a vacancy or interstitial hop inside a relaxed bulk host";
    all[3].run = build_bulk_hop_endpoint;
    for (auto& k : all) k.numeric_fields = std::vector<std::string>{};
    return all;
}

}  // namespace interphase::workflows::binding_energy
