#include "engine/task_kinds.hpp"
#include "engine/user_tasks.hpp"

#include <fmt/format.h>
#include <limits>

#include "common/errors.hpp"
#include "engine/neb_task.hpp"
#include "structures/prototypes.hpp"
#include "structures/sites.hpp"
#include "structures/slab.hpp"

namespace interphase::engine {

namespace st = interphase::structures;

const nlohmann::json& task_input(const Inputs& inputs, const std::string& role, const Task& task) {
    auto it = inputs.find(role);
    if (it == inputs.end()) throw Error(fmt::format("task '{}' is missing its input '{}'", task.name, role));
    return it->second;
}

st::Structure output_structure(const nlohmann::json& output, const std::string& what) {
    if (!output.contains("structure")) throw Error(what + " produced no structure");
    return st::structure_from_json(output.at("structure"), what);
}

namespace {

nlohmann::json build_bulk(const Task& t) {
    if (t.params.contains("phase")) {
        auto s = st::build_bulk(t.params.at("phase").get<std::string>());
        return {{"structure", st::to_json(s)}, {"formula", s.formula()}};
    }
    auto s = st::structure_from_json(t.params.at("structure"), t.params.value("source", t.name));
    return {{"structure", st::to_json(s)}, {"formula", s.formula()}};
}

nlohmann::json build_slab(const Task& t, const Inputs& in) {
    const auto bulk = output_structure(task_input(in, "bulk", t), t.name);
    st::SlabSpec spec;
    const auto& p = t.params;
    spec.miller = p.at("miller").get<std::array<int, 3>>();
    spec.layers = p.at("layers").get<int>();
    spec.vacuum = p.at("vacuum").get<double>();
    spec.supercell = p.at("supercell").get<std::array<int, 2>>();
    spec.fix_bottom_layers = p.value("fix_bottom_layers", 0);
    spec.fix_bottom = p.value("fix_bottom", 0.0);
    if (p.contains("termination")) {
        const auto term = p.at("termination").get<std::string>();
        if (!term.empty() && std::isdigit(static_cast<unsigned char>(term[0])))
            spec.termination_index = std::stoi(term);
        else
            spec.termination_species = term;
    }
    // One generator for the slab and the list of terminations: its analysis (primitive cell,
    // symmetry, planes, cuts) is the expensive part and was done twice.
    const st::SlabGenerator generator(bulk, spec);
    const auto slab = generator.slab(spec);
    nlohmann::json terms = nlohmann::json::array();
    for (const auto& term : generator.terminations())
        terms.push_back({{"index", term.index}, {"top", term.top_species}, {"bottom", term.bottom_species},
                         {"shift", term.shift}, {"gap", term.gap}});
    return {{"structure", st::to_json(slab)}, {"terminations", terms}};
}

nlohmann::json build_adsorbate(const Task& t, const Inputs& in) {
    const auto slab = output_structure(task_input(in, "slab", t), t.name);
    const auto sites = st::find_adsorption_sites(slab);
    const auto& site = st::select_site(sites, t.params.at("site").get<std::string>(), t.name);
    auto s = st::add_adsorbate(slab, site, t.params.at("species").get<std::string>());
    nlohmann::json all = nlohmann::json::array();
    for (const auto& x : sites) all.push_back({{"name", x.name}, {"multiplicity", x.multiplicity}});
    return {{"structure", st::to_json(s)},
            {"site", {{"name", site.name}, {"kind", st::to_string(site.kind)}, {"multiplicity", site.multiplicity},
                      {"position", {site.position[0], site.position[1], site.position[2]}}}},
            {"available_sites", all}};
}

nlohmann::json find_sites(const Task& t, const Inputs& in) {
    const auto slab = output_structure(task_input(in, "slab", t), t.name);
    nlohmann::json sites = nlohmann::json::array();
    for (const auto& x : st::find_adsorption_sites(slab))
        sites.push_back({{"name", x.name}, {"kind", st::to_string(x.kind)}, {"multiplicity", x.multiplicity},
                         {"position", {x.position[0], x.position[1], x.position[2]}}});
    return {{"sites", sites}};
}

nlohmann::json build_atom_in_box(const Task& t) {
    const double box = t.params.at("box").get<double>();
    // A slightly orthorhombic box breaks the cubic symmetry that can trap the SCF of an open shell.
    // Not periodic: an isolated atom has no Bloch periodicity (Γ only), the box only holds it.
    st::Structure s(Eigen::Vector3d(box, box * 1.02, box * 1.04).asDiagonal(), {false, false, false});
    s.add_atom(t.params.at("species").get<std::string>(), Eigen::Vector3d(0.5, 0.5, 0.5));
    s.title = t.params.at("species").get<std::string>() + " atom";
    s.info = {{"kind", "isolated_atom"}};
    return {{"structure", st::to_json(s)}};
}

int count_species(const nlohmann::json& structure, const std::string& species) {
    int n = 0;
    for (const auto& a : structure.at("atoms"))
        if (a.at("species") == species) ++n;
    return n;
}

nlohmann::json delta_e(const Task& t, const Inputs& in) {
    const auto& a = task_input(in, "a", t);
    const auto& b = task_input(in, "b", t);
    if (a.at("reference") != b.at("reference"))
        throw Error(fmt::format("{}: ΔE needs both binding energies against the same reference", t.name));
    const double ea = a.at("binding_energy").get<double>(), eb = b.at("binding_energy").get<double>();
    return {{"a", t.params.at("a")},   {"b", t.params.at("b")},         {"binding_energy_a", ea},
            {"binding_energy_b", eb},  {"delta_e", ea - eb},            {"abs_delta_e", std::abs(ea - eb)},
            {"site_a", a.at("best_site")}, {"site_b", b.at("best_site")}, {"reference", a.at("reference")}};
}

}  // namespace

nlohmann::json binding_energy(const nlohmann::json& params, const Inputs& in) {
    const std::string ads = params.at("adsorbate").get<std::string>();
    const auto& host = in.at("host");
    const auto& ref = in.at("reference");
    const int n_ref = count_species(ref.at("structure"), ads);
    if (n_ref == 0 || static_cast<int>(ref.at("structure").at("atoms").size()) != n_ref)
        throw Error(fmt::format("the reference structure must contain only {} atoms", ads));
    const double mu = ref.at("energy_eV").get<double>() / n_ref;
    const double e_host = host.at("energy_eV").get<double>();
    const int n_host = static_cast<int>(host.at("structure").at("atoms").size());
    nlohmann::json sites = nlohmann::json::array();
    double best = std::numeric_limits<double>::infinity();
    std::string best_site;
    for (const auto& [role, out] : in) {
        if (role.rfind("site:", 0) != 0) continue;
        const int n = static_cast<int>(out.at("structure").at("atoms").size());
        if (n != n_host + 1)
            throw Error(fmt::format("site {}: the complex has {} atoms, expected host + 1 = {}", role.substr(5), n, n_host + 1));
        const double e = out.at("energy_eV").get<double>();
        const double eb = e - e_host - mu;
        sites.push_back({{"site", role.substr(5)}, {"total_energy", e}, {"binding_energy", eb},
                         {"geometry_converged", out.value("geometry_converged", false)}});
        if (eb < best) { best = eb; best_site = role.substr(5); }
    }
    if (sites.empty()) throw Error("binding energy without any adsorption site");
    return {{"host", params.at("host")},  {"adsorbate", ads},    {"reference", params.at("reference")},
            {"mu", mu},                   {"host_energy", e_host}, {"sites", sites},
            {"binding_energy", best},     {"best_site", best_site}};
}

bool runs_in_process(const std::string& kind) { return kind != kinds::kCalculation && kind != kinds::kNeb; }

nlohmann::json run_in_process(const Task& t, const Inputs& in) {
    if (t.kind == kinds::kBuildBulk) return build_bulk(t);
    if (t.kind == kinds::kBuildSlab) return build_slab(t, in);
    if (t.kind == kinds::kBuildAdsorbate) return build_adsorbate(t, in);
    if (t.kind == kinds::kBuildAtomInBox) return build_atom_in_box(t);
    if (t.kind == kinds::kFindSites) return find_sites(t, in);
    if (t.kind == kinds::kBuildHopEndpoint) return build_hop_endpoint(t, in);
    if (t.kind == kinds::kBuildNebPath) return build_neb_path(t, in);
    if (t.kind == kinds::kBindingEnergy) return binding_energy(t.params, in);
    if (t.kind == kinds::kDeltaE) return delta_e(t, in);
    if (is_user_task_kind(t.kind)) return run_user_task(t, in);
    throw InputError(t.name, "kind", fmt::format("unknown task kind '{}'", t.kind));
}

}  // namespace interphase::engine
