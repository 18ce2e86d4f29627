// /binding_energy and /delta_e of results.h5, their tables, CSV rows and JSON
// (docs/results-hdf5.md), gathered from the store by the task names of names.hpp.
#include "workflows/binding_energy/results.hpp"

#include <cmath>
#include <algorithm>
#include <fmt/format.h>
#include <optional>
#include <map>

#include "workflows/binding_energy/names.hpp"
#include "workflows/results.hpp"
#include "workflows/results_section.hpp"

namespace interphase::workflows::binding_energy {

namespace {

HostResult host_result(const std::string& task, const engine::RunStore& store) {
    const auto out = store.output_of(task).value();
    HostResult h;
    h.host = out.at("host").get<std::string>();
    h.adsorbate = out.at("adsorbate").get<std::string>();
    h.reference = out.at("reference").get<std::string>();
    h.mu = out.at("mu").get<double>();
    h.host_energy = out.at("host_energy").get<double>();
    h.binding_energy = out.at("binding_energy").get<double>();
    h.best_site = out.at("best_site").get<std::string>();
    for (const auto& s : out.at("sites"))
        h.sites.push_back({s.at("site").get<std::string>(), s.at("total_energy").get<double>(),
                           s.at("binding_energy").get<double>(), s.value("geometry_converged", false)});
    // Structures by the task names of docs/workflow.md.
    h.kind = out.value("host_kind", "surface");
    const std::string interface = out.value("interface", "");
    const std::string built = h.kind == "bulk"        ? names::supercell(h.host)
                              : h.kind == "molecule"  ? names::molecule(h.host)
                              : h.kind == "interface" ? names::interface(interface.empty() ? h.host : interface)
                                                      : names::slab(h.host);
    if (auto slab = store.output_of(built)) h.slab_info = slab->at("structure").value("info", nlohmann::json::object());
    if (auto host = store.output_of(names::relax(built))) h.relaxed_host = host->at("structure");
    if (auto best = store.output_of(names::relax(names::site(interface.empty() ? h.host : interface, h.best_site, h.adsorbate))))
        h.relaxed_best = best->at("structure");
    // The crystal behind the host: what links a pair of separate hosts to an interface host
    // between the same crystals.
    const auto& info = h.slab_info;
    if (h.kind == "interface") {
        h.interface = interface;
        if (info.contains("a") && info.contains("b")) {
            h.phase_a = info.at("a").value("bulk", "");
            h.phase_b = info.at("b").value("bulk", "");
        }
        h.phase = out.value("side", "A") == "B" ? h.phase_b : h.phase_a;
    } else {
        h.phase = info.value("bulk", info.value("phase", info.value("molecule", "")));
    }
    return h;
}

void collect(const engine::TaskRecord& t, const engine::RunStore& store, RunResults& r) {
    if (t.kind == kinds::kBindingEnergy) r.hosts.push_back(host_result(t.name, store));
    if (t.kind == kinds::kDeltaE) {
        const auto out = store.output_of(t.name).value();
        PairResult p;
        p.a = out.at("a").get<std::string>();
        p.b = out.at("b").get<std::string>();
        p.binding_energy_a = out.at("binding_energy_a").get<double>();
        p.binding_energy_b = out.at("binding_energy_b").get<double>();
        p.delta_e = out.at("delta_e").get<double>();
        p.reference = out.at("reference").get<std::string>();
        p.in_situ = t.name == names::in_situ_delta_e(out.value("interface", ""));
        if (p.in_situ) p.interface = out.value("interface", "");
        r.pairs.push_back(std::move(p));
    }
}

// Beside ΔE: for a pair of hosts, the lowest forward barrier of each host's own surface hops and
// bulk hops; the barrier across an interface between the two crystals — for an interface's
// in-situ row its own interface, for a pair of separate hosts an interface host whose sides are
// the same two crystals (either way round: the barrier is turned to go from the pair's A to its
// B). Never mixed, and only converged bands count.
void link(RunResults& r) {
    std::map<std::string, std::pair<std::string, std::string>> crystals;  // interface -> (side A, side B)
    std::map<std::string, const HostResult*> by_name;
    for (const auto& h : r.hosts) {
        by_name[h.host] = &h;
        if (!h.interface.empty() && !h.phase_a.empty()) crystals[h.interface] = {h.phase_a, h.phase_b};
    }
    auto phase_of = [&by_name](const std::string& host) {
        const auto it = by_name.find(host);
        return it == by_name.end() ? std::string() : it->second->phase;
    };
    for (auto& p : r.pairs)
        for (const auto& h : r.hops) {
            if (!h.converged) continue;
            if (h.across_interface) {
                bool pair_a_is_side_a = true;
                if (p.in_situ) {
                    if (h.host != p.interface) continue;
                } else {
                    const auto c = crystals.find(h.host);
                    const auto pa = phase_of(p.a), pb = phase_of(p.b);
                    if (c == crystals.end() || pa.empty() || pb.empty()) continue;
                    if (pa == c->second.first && pb == c->second.second) pair_a_is_side_a = true;
                    else if (pa == c->second.second && pb == c->second.first) pair_a_is_side_a = false;
                    else continue;
                }
                const bool hop_a_to_b = !h.from.empty() && h.from[0] == 'A';
                const bool along = hop_a_to_b == pair_a_is_side_a;
                const double forward = along ? h.forward_barrier : h.reverse_barrier;
                const double reverse = along ? h.reverse_barrier : h.forward_barrier;
                if (!(forward >= p.interface_barrier)) {
                    p.interface_barrier = forward;
                    p.interface_barrier_reverse = reverse;
                    p.interface = h.host;
                }
                continue;
            }
            const bool bulk = !h.mechanism.empty();
            double& a = bulk ? p.bulk_barrier_a : p.surface_barrier_a;
            double& b = bulk ? p.bulk_barrier_b : p.surface_barrier_b;
            if (h.host == p.a && !(h.forward_barrier >= a)) a = h.forward_barrier;
            if (h.host == p.b && !(h.forward_barrier >= b)) b = h.forward_barrier;
        }
}

void write_h5(engine::h5::File& f, const RunResults& r, const std::function<void()>& check) {
    auto be = f.create_group("binding_energy");
    be.write_strings("host", column(r.hosts, &HostResult::host));
    be.write_doubles("binding_energy", column(r.hosts, &HostResult::binding_energy)).set_attribute("units", "eV");
    be.write_strings("best_site", column(r.hosts, &HostResult::best_site));
    be.write_strings("reference", column(r.hosts, &HostResult::reference));
    be.write_strings("host_kind", column(r.hosts, &HostResult::kind));
    be.write_strings("phase", column(r.hosts, &HostResult::phase));
    be.set_attribute("definition", "E_b = E(host + adsorbate) - E(host) - mu_adsorbate, lowest over sites");
    for (const auto& h : r.hosts) {
        check();
        auto g = be.create_group(h.host);
        g.set_attribute("adsorbate", h.adsorbate);
        g.set_attribute("host_kind", h.kind);
        g.set_attribute("phase", h.phase);
        if (!h.interface.empty()) g.set_attribute("interface", h.interface);
        g.set_attribute("reference", h.reference);
        g.set_attribute("mu", h.mu);
        g.set_attribute("host_energy", h.host_energy);
        g.set_attribute("binding_energy", h.binding_energy);
        g.set_attribute("best_site", h.best_site);
        g.set_attribute("units", "eV");
        g.set_attribute("slab", h.slab_info.dump());
        g.write_strings("site", column(h.sites, &SiteResult::site));
        g.write_doubles("binding_energy", column(h.sites, &SiteResult::binding_energy)).set_attribute("units", "eV");
        g.write_doubles("total_energy", column(h.sites, &SiteResult::total_energy)).set_attribute("units", "eV");
        g.write_int64s("geometry_converged", flag_column(h.sites, &SiteResult::geometry_converged));
        write_structure_group(g, "relaxed_host", h.relaxed_host);
        write_structure_group(g, "relaxed_best_site", h.relaxed_best);
    }

    auto de = f.create_group("delta_e");
    de.write_strings("a", column(r.pairs, &PairResult::a));
    de.write_strings("b", column(r.pairs, &PairResult::b));
    de.write_doubles("delta_e", column(r.pairs, &PairResult::delta_e)).set_attribute("units", "eV");
    de.write_doubles("abs_delta_e", column(r.pairs, [](const PairResult& p) { return std::abs(p.delta_e); }))
        .set_attribute("units", "eV");
    de.write_doubles("binding_energy_a", column(r.pairs, &PairResult::binding_energy_a)).set_attribute("units", "eV");
    de.write_doubles("binding_energy_b", column(r.pairs, &PairResult::binding_energy_b)).set_attribute("units", "eV");
    de.write_int64s("in_situ", flag_column(r.pairs, &PairResult::in_situ));
    de.set_attribute("definition", "delta_e = E_b(a) - E_b(b), same reference on both sides");
    if (r.hops.empty()) return;
    // Beside ΔE: each host's own surface/bulk barriers, and the barrier across an interface
    // between the two crystals (NaN where there is none, or no converged band).
    de.write_doubles("surface_barrier_a", column(r.pairs, &PairResult::surface_barrier_a)).set_attribute("units", "eV");
    de.write_doubles("surface_barrier_b", column(r.pairs, &PairResult::surface_barrier_b)).set_attribute("units", "eV");
    de.write_doubles("bulk_barrier_a", column(r.pairs, &PairResult::bulk_barrier_a)).set_attribute("units", "eV");
    de.write_doubles("bulk_barrier_b", column(r.pairs, &PairResult::bulk_barrier_b)).set_attribute("units", "eV");
    de.write_strings("interface", column(r.pairs, &PairResult::interface));
    de.write_doubles("interface_barrier", column(r.pairs, &PairResult::interface_barrier)).set_attribute("units", "eV");
    de.write_doubles("interface_barrier_reverse", column(r.pairs, &PairResult::interface_barrier_reverse))
        .set_attribute("units", "eV");
}

std::string table(const RunResults& r) {
    // Area per adsorbate of a slab host: the coverage at which its E_b holds.
    const auto area_of = [](const HostResult& h) -> std::optional<double> {
        if (h.kind != "surface" || !h.slab_info.contains("area")) return std::nullopt;
        return h.slab_info.at("area").get<double>();
    };
    std::string out = fmt::format("{:<16} {:<14} {:>10}  {:<14} {:>14}\n", "phase", "site", "E_b (eV)", "reference",
                                  "area/ads (Å²)");
    for (const auto& h : r.hosts) {
        const auto area = area_of(h);
        for (const auto& s : h.sites)
            out += fmt::format("{:<16} {:<14} {:>10.3f}  {:<14} {:>14}{}\n", h.host, s.site, s.binding_energy, h.reference,
                               area ? fmt::format("{:.1f}", *area) : "-",
                               s.site == h.best_site && h.sites.size() > 1 ? "  (lowest)" : "");
    }
    if (r.pairs.empty()) return out;
    // ΔE of two surfaces at very different coverage mixes the descriptor with adsorbate-adsorbate
    // interaction: say so beside the numbers.
    std::string coverage_notes;
    for (const auto& p : r.pairs) {
        const auto ha = std::find_if(r.hosts.begin(), r.hosts.end(), [&p](const HostResult& h) { return h.host == p.a; });
        const auto hb = std::find_if(r.hosts.begin(), r.hosts.end(), [&p](const HostResult& h) { return h.host == p.b; });
        if (ha == r.hosts.end() || hb == r.hosts.end()) continue;
        const auto aa = area_of(*ha), ab = area_of(*hb);
        if (aa && ab && std::max(*aa, *ab) > 1.5 * std::min(*aa, *ab))
            coverage_notes += fmt::format("warning: {} | {} compares unequal coverages, one {} per {:.1f} Å² and per {:.1f} Å² "
                                          "(`area_per_adsorbate:` on both hosts equalises them)\n",
                                          p.a, p.b, ha->adsorbate.empty() ? "adsorbate" : ha->adsorbate, *aa, *ab);
    }
    out += fmt::format("\n{:<34} {:>10} {:>10}\n", "pair A | B", "ΔE (eV)", "|ΔE| (eV)");
    for (const auto& p : r.pairs)
        out += fmt::format("{:<34} {:>10.3f} {:>10.3f}{}\n", p.a + " | " + p.b, p.delta_e, std::abs(p.delta_e),
                           p.in_situ ? "  (in situ: the two sides of one interface)" : "");
    out += "ΔE = E_b(A) − E_b(B); it does not depend on the reference.\n";
    out += coverage_notes;
    bool any = false;
    for (const auto& p : r.pairs)
        any = any || !std::isnan(p.surface_barrier_a) || !std::isnan(p.surface_barrier_b) || !std::isnan(p.interface_barrier) ||
              !std::isnan(p.bulk_barrier_a) || !std::isnan(p.bulk_barrier_b);
    if (!any) return out;
    out += fmt::format("\n{:<34} {:>10} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}  {}\n", "pair A | B", "ΔE (eV)",
                       "surf E_a(A)", "surf E_a(B)", "bulk E_a(A)", "bulk E_a(B)", "E_a A->B", "E_a B->A", "across");
    auto num = [](double x) { return std::isnan(x) ? std::string("-") : fmt::format("{:.3f}", x); };
    for (const auto& p : r.pairs)
        out += fmt::format("{:<34} {:>10.3f} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}  {}\n", p.a + " | " + p.b, p.delta_e,
                           num(p.surface_barrier_a), num(p.surface_barrier_b), num(p.bulk_barrier_a),
                           num(p.bulk_barrier_b), num(p.interface_barrier), num(p.interface_barrier_reverse),
                           p.interface.empty() ? "-" : p.interface);
    out += "surf/bulk E_a: lowest converged hop on each host's own surface / inside its bulk; E_a A->B: lowest "
           "converged hop across the interface named under `across` (between the same two crystals).\n";
    return out;
}

std::string csv(const RunResults& r) {
    std::string out;
    for (const auto& h : r.hosts)
        for (const auto& s : h.sites)
            out += fmt::format("binding_energy,{},{},{:.6f},{},,,,\n", csv_quote(h.host), csv_quote(s.site),
                               s.binding_energy, h.reference);
    for (const auto& p : r.pairs)
        out += fmt::format("delta_e,{},,,{},{},{:.6f},,\n", csv_quote(p.a), p.reference, csv_quote(p.b), p.delta_e);
    return out;
}

void json(const RunResults& r, nlohmann::json& out) {
    nlohmann::json hosts = nlohmann::json::array(), pairs = nlohmann::json::array();
    for (const auto& h : r.hosts) {
        nlohmann::json sites = nlohmann::json::array();
        for (const auto& s : h.sites)
            sites.push_back({{"site", s.site}, {"binding_energy_eV", s.binding_energy}, {"total_energy_eV", s.total_energy},
                             {"geometry_converged", s.geometry_converged}});
        hosts.push_back({{"host", h.host}, {"host_kind", h.kind}, {"phase", h.phase}, {"adsorbate", h.adsorbate},
                         {"reference", h.reference}, {"mu_eV", h.mu}, {"host_energy_eV", h.host_energy},
                         {"binding_energy_eV", h.binding_energy}, {"best_site", h.best_site}, {"sites", sites},
                         {"slab", h.slab_info}});
        if (!h.interface.empty()) hosts.back()["interface"] = h.interface;
    }
    for (const auto& p : r.pairs)
        pairs.push_back({{"a", p.a}, {"b", p.b}, {"delta_e_eV", p.delta_e}, {"binding_energy_a_eV", p.binding_energy_a},
                         {"binding_energy_b_eV", p.binding_energy_b}, {"reference", p.reference}, {"in_situ", p.in_situ},
                         {"surface_barrier_a_eV", number_or_null(p.surface_barrier_a)},
                         {"surface_barrier_b_eV", number_or_null(p.surface_barrier_b)},
                         {"bulk_barrier_a_eV", number_or_null(p.bulk_barrier_a)},
                         {"bulk_barrier_b_eV", number_or_null(p.bulk_barrier_b)},
                         {"interface", p.interface},
                         {"interface_barrier_eV", number_or_null(p.interface_barrier)},
                         {"interface_barrier_reverse_eV", number_or_null(p.interface_barrier_reverse)}});
    out["binding_energies"] = hosts;
    out["pairs"] = pairs;
}

}  // namespace

ResultSection results_section() {
    return {"binding_energy", "adsorbate binding energies per host and site, ΔE per pair with the barriers beside it "
                              "(/binding_energy, /delta_e)",
            collect, link, write_h5, table, csv, json};
}

}  // namespace interphase::workflows::binding_energy
