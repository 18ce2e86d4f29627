#include "workflows/binding_energy/tasks.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <functional>
#include <limits>
#include <optional>

#include "common/errors.hpp"
#include "workflows/binding_energy/names.hpp"
#include "structures/prototypes.hpp"
#include "structures/sites.hpp"
#include "structures/slab.hpp"

namespace interphase::workflows::binding_energy {

using engine::Inputs;
using engine::Task;
using engine::output_structure;
using engine::task_input;

namespace st = interphase::structures;

std::array<int, 2> supercell_for_area(const Eigen::Matrix3d& lattice, double area, const std::string& task) {
    const Eigen::Vector3d a = lattice.row(0), b = lattice.row(1);
    const double cell = a.cross(b).norm();
    // The shortest distance between an adsorbate and its in-plane images in an na x nb cell.
    const auto image_distance = [&a, &b](int na, int nb) {
        const Eigen::Vector3d A = na * a, B = nb * b;
        return std::min({A.norm(), B.norm(), (A + B).norm(), (A - B).norm()});
    };
    int fewest = 0;  // cells of the smallest supercell with enough area
    for (int n = 1; n <= 400 && fewest == 0; ++n)
        if (cell * n + 1e-9 >= area) fewest = n;
    if (fewest == 0)
        throw InputError(task, "area_per_adsorbate",
                         fmt::format("{:.1f} Å² needs more than a 20x20 supercell of this {:.2f} Å² surface cell", area, cell));
    // Among the supercells with enough area and at most 1.5x the smallest such area: the one that
    // keeps the adsorbate's images farthest apart (2x4 of a hexagonal cell leaves them 2 cells
    // apart, 3x3 three), then the smaller area, then the smaller na.
    std::optional<std::array<int, 2>> best;
    double best_distance = 0, best_area = 0;
    for (int na = 1; na <= 20; ++na)
        for (int nb = 1; nb <= 20; ++nb) {
            const double A = cell * na * nb;
            if (A + 1e-9 < area || na * nb > 1.5 * fewest + 1e-9) continue;
            const double d = image_distance(na, nb);
            const bool better = !best || d > best_distance + 1e-6 ||
                                (std::abs(d - best_distance) <= 1e-6 && A < best_area - 1e-9);
            if (better) {
                best = std::array<int, 2>{na, nb};
                best_distance = d;
                best_area = A;
            }
        }
    if (!best)
        throw InputError(task, "area_per_adsorbate",
                         fmt::format("{:.1f} Å² needs more than a 20x20 supercell of this {:.2f} Å² surface cell", area, cell));
    return *best;
}

namespace {

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
    if (p.contains("thickness")) spec.thickness = p.at("thickness").get<double>();
    // One generator for the slab and the list of terminations: its analysis (primitive cell,
    // symmetry, planes, cuts) is the expensive part and was done twice.
    const st::SlabGenerator generator(bulk, spec);
    if (p.contains("area_per_adsorbate")) {
        auto one = spec;
        one.supercell = {1, 1};
        spec.supercell = supercell_for_area(generator.slab(one).lattice(), p.at("area_per_adsorbate").get<double>(), t.name);
    }
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
    nlohmann::json out{{"a", t.params.at("a")},   {"b", t.params.at("b")},         {"binding_energy_a", ea},
            {"binding_energy_b", eb},  {"delta_e", ea - eb},            {"abs_delta_e", std::abs(ea - eb)},
            {"site_a", a.at("best_site")}, {"site_b", b.at("best_site")}, {"reference", a.at("reference")}};
    if (t.params.contains("interface")) out["interface"] = t.params.at("interface");  // the in-situ ΔE of an interface
    return out;
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
    nlohmann::json out{{"host", params.at("host")},  {"adsorbate", ads},    {"reference", params.at("reference")},
            {"mu", mu},                   {"host_energy", e_host}, {"sites", sites},
            {"binding_energy", best},     {"best_site", best_site}};
    for (const char* k : {"host_kind", "interface", "side"})
        if (params.contains(k)) out[k] = params.at(k);
    return out;
}

std::vector<engine::TaskKind> task_kinds() {
    using engine::TaskKind;
    auto in_process = [](const char* name, const char* description,
                         std::function<nlohmann::json(const Task&, const Inputs&)> run,
                         std::optional<std::vector<std::string>> numeric) {
        TaskKind k;
        k.name = name;
        k.description = description;
        k.run = std::move(run);
        k.numeric_fields = std::move(numeric);
        return k;
    };
    using fields = std::vector<std::string>;
    std::vector<TaskKind> all{
        in_process(kinds::kBuildSlab, "a slab cut from a bulk crystal (Miller index, layers, vacuum, termination)",
                   build_slab, fields{}),
        in_process(kinds::kBuildAdsorbate, "the adsorbate on one symmetry-unique site of a relaxed host", build_adsorbate,
                   fields{}),
        in_process(kinds::kBuildAtomInBox, "the free adsorbate atom in a box (the isolated-atom reference)",
                   [](const Task& t, const Inputs&) { return build_atom_in_box(t); }, fields{}),
        in_process(kinds::kBindingEnergy, "E_b = E(X + ad) − E(X) − μ per site, the lowest kept",
                   [](const Task& t, const Inputs& in) { return binding_energy(t.params, in); },
                   fields{"binding_energy", "mu", "host_energy"}),
        in_process(kinds::kDeltaE, "ΔE = E_b(A) − E_b(B) of a pair of hosts", delta_e,
                   fields{"delta_e", "abs_delta_e", "binding_energy_a", "binding_energy_b"}),
        in_process(kinds::kBuildHopEndpoint, "one end point of an adsorbate hop on a relaxed slab", build_hop_endpoint,
                   std::nullopt),
    };
    all[3].done_line = [](const Task&, const nlohmann::json& out) {
        return fmt::format("E_b = {:.3f} eV ({})", out.at("binding_energy").get<double>(), out.at("best_site").get<std::string>());
    };
    all[4].done_line = [](const Task&, const nlohmann::json& out) {
        return fmt::format("ΔE = {:.3f} eV", out.at("delta_e").get<double>());
    };
    auto finder = in_process(kinds::kFindSites, "the symmetry-unique adsorption sites of a relaxed slab; grows the graph",
                             find_sites, fields{});
    finder.grow = grow_sites;
    all.push_back(std::move(finder));
    for (auto& k : bulk_task_kinds()) all.push_back(std::move(k));
    for (auto& k : interface_task_kinds()) all.push_back(std::move(k));
    for (auto& k : molecule_task_kinds()) all.push_back(std::move(k));
    return all;
}

}  // namespace interphase::workflows::binding_energy
