// The task kinds of an interface host (`kind: interface`, docs/workflow.md): the A|B
// heterointerface from the interface builder (one ranked candidate, outer planes fixed), the
// interlayer-distance scan, the Li sites near the interface on each side, and Li hops across it
// (end points inside each phase; after their relaxation, a check that they did not collapse
// into one minimum or cross to the wrong side).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <limits>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "structures/interface.hpp"
#include "structures/interface_hops.hpp"
#include "structures/interstitials.hpp"
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

// The builder's advice names its command-line options; a workflow has keys.
std::string as_workflow_keys(std::string msg) {
    for (const auto& [flag, key] : std::vector<std::pair<std::string, std::string>>{
             {"--max-angle-strain", "max_angle_strain:"}, {"--max-strain", "max_strain:"}, {"--max-area", "max_area:"}})
        for (std::size_t at; (at = msg.find(flag)) != std::string::npos;) msg.replace(at, flag.size(), key);
    return msg;
}

bool facing_matches(const st::InterfaceFace::Cut& cut, const nlohmann::json& side) {
    if (!side.contains("termination")) return true;
    return cut.facing == side.at("termination").get<std::string>();
}

}  // namespace

SelectedInterface select_interface(const st::Structure& bulk_a, const st::Structure& bulk_b, const nlohmann::json& p,
                                   const std::string& source) {
    st::InterfaceSpec spec;
    const auto& a = p.at("a");
    const auto& b = p.at("b");
    spec.miller_a = a.at("miller").get<std::array<int, 3>>();
    spec.miller_b = b.at("miller").get<std::array<int, 3>>();
    spec.layers_a = a.at("layers").get<int>();
    spec.layers_b = b.at("layers").get<int>();
    spec.zsl.max_area = p.at("max_area").get<double>();
    spec.zsl.max_length_tol = p.at("max_strain").get<double>() / 100.0;
    spec.zsl.max_angle_tol = p.at("max_angle_strain").get<double>() / 100.0;
    spec.gap = p.at("gap").get<double>();
    spec.vacuum = p.at("vacuum").get<double>();
    spec.periodic = false;  // the slab model: outer planes of both sides can be held fixed
    spec.max_interfaces = 1000;
    const auto set = st::build_interfaces(bulk_a, bulk_b, spec);
    if (set.no_match) throw InputError(source, "max_strain", as_workflow_keys(set.no_match->message));
    std::vector<const st::InterfaceCandidate*> allowed;
    std::vector<std::string> offered;
    for (const auto& c : set.interfaces) {
        const auto& ca = set.a.cuts[static_cast<std::size_t>(c.cut_a)];
        const auto& cb = set.b.cuts[static_cast<std::size_t>(c.cut_b)];
        const auto label = fmt::format("a: {}, b: {}", ca.facing, cb.facing);
        if (std::find(offered.begin(), offered.end(), label) == offered.end()) offered.push_back(label);
        if (facing_matches(ca, a) && facing_matches(cb, b)) allowed.push_back(&c);
    }
    if (allowed.empty())
        throw InputError(source, "termination",
                         fmt::format("no interface has the terminations asked for; the facing planes on offer are {}",
                                     fmt::join(offered, "; ")));
    const int match = p.at("match").get<int>();
    if (match >= static_cast<int>(allowed.size()))
        throw InputError(source, "match",
                         fmt::format("asks for interface {} of the ranking, but only {} match the terminations (0..{})",
                                     match, allowed.size(), allowed.size() - 1));
    const auto& c = *allowed[static_cast<std::size_t>(match)];
    const auto& m = set.matches[static_cast<std::size_t>(c.match)];
    SelectedInterface out;
    out.structure = c.structure;
    const int fixed = p.at("fix_outer_layers").get<int>();
    try {
        st::fix_outer_layers(out.structure, fixed);
    } catch (const InputError& e) {
        throw InputError(source, "fix_outer_layers", e.what());
    }
    std::array<int, 2> repeats{1, 1};
    if (p.contains("supercell")) {
        repeats = p.at("supercell").get<std::array<int, 2>>();
        out.structure = st::repeat_cell(out.structure, {repeats[0], repeats[1], 1});
    }
    const auto& ca = set.a.cuts[static_cast<std::size_t>(c.cut_a)];
    const auto& cb = set.b.cuts[static_cast<std::size_t>(c.cut_b)];
    out.info = {{"rank", c.rank},
                {"match", c.match},
                {"area_A2", m.area},
                {"von_mises_strain", m.von_mises_strain},
                {"strain", {{m.strain(0, 0), m.strain(0, 1)}, {m.strain(1, 0), m.strain(1, 1)}}},
                {"termination_a", ca.facing},
                {"termination_b", cb.facing},
                {"gap_A", spec.gap},
                {"fixed_outer_layers", fixed},
                {"atoms", out.structure.size()}};
    if (p.contains("supercell")) out.info["supercell"] = repeats;
    out.structure.info["interface"] = out.info;
    return out;
}

namespace {

// params: see select_interface; inputs "bulk_a", "bulk_b".
nlohmann::json build_interface(const Task& t, const Inputs& in) {
    const auto a = output_structure(task_input(in, "bulk_a", t), t.name);
    const auto b = output_structure(task_input(in, "bulk_b", t), t.name);
    const auto sel = select_interface(a, b, t.params, t.name);
    return {{"structure", st::to_json(sel.structure)}, {"interface", sel.info}};
}

// The interlayer distance from a few single points: inputs "gap:<Å>" (single-point outputs);
// output the lowest one's structure and every energy.
nlohmann::json select_gap(const Task& t, const Inputs& in) {
    double best = std::numeric_limits<double>::infinity();
    const nlohmann::json* lowest = nullptr;
    std::string lowest_gap;
    nlohmann::json scan = nlohmann::json::array();
    for (const auto& [role, out] : in) {
        if (role.rfind("gap:", 0) != 0) continue;
        const double e = out.at("energy_eV").get<double>();
        scan.push_back({{"gap_A", std::stod(role.substr(4))}, {"energy_eV", e}});
        if (e < best) {
            best = e;
            lowest = &out;
            lowest_gap = role.substr(4);
        }
    }
    if (!lowest) throw Error(t.name + ": no gap was computed");
    // The scan's ends are not minima: the interlayer distance lies outside the scanned range.
    const double g = std::stod(lowest_gap);
    double lo = 1e9, hi = -1e9;
    for (const auto& s : scan) {
        lo = std::min(lo, s.at("gap_A").get<double>());
        hi = std::max(hi, s.at("gap_A").get<double>());
    }
    return {{"structure", lowest->at("structure")}, {"gap_A", g}, {"scan", scan}, {"energy_eV", best},
            {"at_scan_edge", g == lo || g == hi}};
}

st::InterfaceSiteSearch site_search(const nlohmann::json& p) {
    st::InterfaceSiteSearch s;
    s.depth = p.at("depth").get<double>();
    s.interstitial.min_distance = p.at("min_distance").get<double>();
    return s;
}

nlohmann::json interface_site_json(const st::InterfaceSite& x) {
    return {{"name", x.site.name},
            {"side", std::string(1, x.side)},
            {"plane", x.plane},
            {"height_A", x.height},
            {"multiplicity", x.site.multiplicity},
            {"radius", x.site.radius},
            {"shell", x.site.shell},
            {"position", {x.site.position[0], x.site.position[1], x.site.position[2]}}};
}

// params {species, host, depth, min_distance, binding_energy_task_a, binding_energy_task_b},
// input "host" (the relaxed interface). Sites on the plane itself (side I) belong to neither side.
nlohmann::json find_interface_sites(const Task& t, const Inputs& in) {
    const auto host = output_structure(task_input(in, "host", t), t.name);
    nlohmann::json sites = nlohmann::json::array();
    for (const auto& x : st::find_interface_sites(host, site_search(t.params)))
        if (x.side == 'A' || x.side == 'B') sites.push_back(interface_site_json(x));
    return {{"sites", sites}};
}

// params {site, species, depth, min_distance}, input "host".
nlohmann::json build_interface_site(const Task& t, const Inputs& in) {
    const auto host = output_structure(task_input(in, "host", t), t.name);
    const std::string name = t.params.at("site").get<std::string>();
    std::vector<std::string> known;
    for (const auto& x : st::find_interface_sites(host, site_search(t.params))) {
        known.push_back(x.site.name);
        if (x.site.name != name) continue;
        auto s = host;
        s.add_atom(t.params.at("species").get<std::string>(), x.site.frac);
        s[s.size() - 1].label = "adsorbate";
        return {{"structure", st::to_json(s)}, {"site", interface_site_json(x)}};
    }
    throw InputError(t.name, "site", text::unknown_name_message("interface site", name, known));
}

st::InterfaceHopOptions hop_options(const nlohmann::json& p) {
    st::InterfaceHopOptions o;
    o.sites = site_search(p);
    o.species = p.at("species").get<std::string>();
    o.from = p.value("from_site", "");
    o.to = p.value("to_site", "");
    o.reverse = p.value("reverse", false);
    return o;
}

// params {end: initial|final, species, depth, min_distance, from_site, to_site, reverse},
// input "host" (the relaxed interface): one end point of a hop across the interface.
nlohmann::json build_interface_hop_endpoint(const Task& t, const Inputs& in) {
    const auto host = output_structure(task_input(in, "host", t), t.name);
    const auto options = hop_options(t.params);
    const auto hop = st::interface_hop(host, options);
    auto s = t.params.at("end") == "initial" ? hop.initial : hop.final;
    // An end point at a near-interface site is written exactly as that site's binding-energy
    // structure (same position bits, same "adsorbate" tag), so its relaxation has the same hash
    // and is computed once for both (a DFT relaxation saved per end point).
    auto& mobile = s[hop.moving_atom];
    for (const auto& x : st::find_interface_sites(host, options.sites))
        if (s.minimum_image(mobile.frac, x.site.frac).norm() < 1e-6) {
            mobile.frac = x.site.frac;
            mobile.label = "adsorbate";
            break;
        }
    return {{"structure", st::to_json(s)}, {"description", hop.description}, {"moving_atom", hop.moving_atom},
            {"distance_A", hop.distance}};
}

// params {reverse}, inputs "initial" and "final" (the relaxed end points): fails when they
// relaxed into one minimum or onto the wrong side; else where the mobile atom sits in each.
nlohmann::json check_interface_hop(const Task& t, const Inputs& in) {
    const auto initial = output_structure(task_input(in, "initial", t), t.name + " (initial)");
    const auto final = output_structure(task_input(in, "final", t), t.name + " (final)");
    st::InterfaceHopCheckOptions o;
    o.reverse = t.params.value("reverse", false);
    const auto c = st::check_interface_hop(initial, final, initial.size() - 1, o);
    return {{"initial_side", std::string(1, c.initial_side)}, {"final_side", std::string(1, c.final_side)},
            {"initial_height_A", c.initial_height},           {"final_height_A", c.final_height},
            {"separation_A", c.separation}};
}

}  // namespace

std::vector<engine::TaskKind> interface_task_kinds() {
    struct Entry {
        const char* name;
        const char* description;
        nlohmann::json (*run)(const Task&, const Inputs&);
    };
    const Entry entries[] = {
        {kinds::kBuildInterface, "an A|B heterointerface (ZSL match, terminations, gap, outer planes fixed)", build_interface},
        {kinds::kSelectGap, "the interlayer distance of an interface from a few single points (lowest kept)", select_gap},
        {kinds::kFindInterfaceSites, "the adsorbate sites near an interface, side A and side B; grows the graph",
         find_interface_sites},
        {kinds::kBuildInterfaceSite, "the adsorbate at one site near a relaxed interface", build_interface_site},
        {kinds::kBuildInterfaceHopEndpoint, "one end point of a hop across an interface (sites inside each phase)",
         build_interface_hop_endpoint},
        {kinds::kCheckInterfaceHop, "the relaxed end points of an interface hop: distinct minima, each on its side",
         check_interface_hop},
    };
    std::vector<engine::TaskKind> all;
    for (const auto& e : entries) {
        engine::TaskKind k;
        k.name = e.name;
        k.description = e.description;
        k.run = e.run;
        k.numeric_fields = std::vector<std::string>{};
        all.push_back(std::move(k));
    }
    all[1].numeric_fields = std::vector<std::string>{"gap_A", "energy_eV"};
    all[2].grow = grow_sites;
    all[5].numeric_fields = std::vector<std::string>{"initial_height_A", "final_height_A", "separation_A"};
    return all;
}

}  // namespace interphase::workflows::binding_energy
