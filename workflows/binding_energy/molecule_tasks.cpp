// The task kinds of a molecule host (`kind: molecule`): the molecule in a box, the adsorbate
// sites around it (atop, bridge, hollow over the atoms it binds to, merged by the molecule's
// point group; structures/molecules.hpp), the adsorbate at one of them.
#include <fmt/format.h>

#include "common/errors.hpp"
#include "structures/molecules.hpp"
#include "workflows/binding_energy/names.hpp"
#include "workflows/binding_energy/tasks.hpp"

namespace interphase::workflows::binding_energy {

namespace st = interphase::structures;
using engine::Inputs;
using engine::output_structure;
using engine::Task;
using engine::task_input;

namespace {

// params {molecule | structure + source, box}.
nlohmann::json build_molecule_in_box(const Task& t, const Inputs&) {
    const auto molecule = t.params.contains("molecule")
                              ? st::build_molecule(t.params.at("molecule").get<std::string>())
                              : st::structure_from_json(t.params.at("structure"), t.params.value("source", t.name));
    const auto boxed = st::molecule_in_box(molecule, t.params.at("box").get<double>());
    return {{"structure", st::to_json(boxed)}, {"formula", boxed.formula()}};
}

st::MoleculeSiteSearch search_of(const nlohmann::json& p) {
    st::MoleculeSiteSearch s;
    s.bond_length = p.at("bond_length").get<double>();
    s.min_distance = p.at("min_distance").get<double>();
    return s;
}

// params {species, host, bond_length, min_distance, binding_energy_task}, input "host".
nlohmann::json find_molecule_sites(const Task& t, const Inputs& in) {
    const auto host = output_structure(task_input(in, "host", t), t.name);
    nlohmann::json sites = nlohmann::json::array();
    for (const auto& x : st::find_molecule_sites(host, search_of(t.params))) sites.push_back(st::to_json(x));
    return {{"sites", sites}};
}

// params {site, species, bond_length, min_distance}, input "host".
nlohmann::json build_molecule_site(const Task& t, const Inputs& in) {
    const auto host = output_structure(task_input(in, "host", t), t.name);
    const auto sites = st::find_molecule_sites(host, search_of(t.params));
    const auto& site = st::select_molecule_site(sites, t.params.at("site").get<std::string>());
    auto s = st::add_site_atom(host, site, t.params.at("species").get<std::string>());
    return {{"structure", st::to_json(s)}, {"site", st::to_json(site)}};
}

}  // namespace

std::vector<engine::TaskKind> molecule_task_kinds() {
    std::vector<engine::TaskKind> all(3);
    all[0].name = kinds::kBuildMoleculeInBox;
    all[0].description = "a molecule (built in, e.g. P4S10, or from a file) centred in a cubic box";
    all[0].run = build_molecule_in_box;
    all[1].name = kinds::kFindMoleculeSites;
    all[1].description = "the symmetry-unique adsorbate sites around a relaxed molecule; grows the graph";
    all[1].run = find_molecule_sites;
    all[1].grow = grow_sites;
    all[2].name = kinds::kBuildMoleculeSite;
    all[2].description = "the adsorbate at one site around a relaxed molecule";
    all[2].run = build_molecule_site;
    for (auto& k : all) k.numeric_fields = std::vector<std::string>{};
    return all;
}

}  // namespace interphase::workflows::binding_energy
