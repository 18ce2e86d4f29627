#include "engine/results.hpp"

#include <chrono>
#include <cmath>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/version.hpp"
#include "engine/hdf5.hpp"
#include "engine/graph.hpp"
#include "engine/store.hpp"
#include "structures/structure.hpp"

namespace interphase::engine {

RunResults collect_results(const RunStore& store) {
    RunResults r;
    r.workflow = store.meta("workflow_name").value_or("");
    r.interphase_version = store.meta("interphase_version").value_or(kVersion);
    r.calculator = store.meta("calculator").value_or("");
    r.protocol = store.meta("protocol").value_or("{}");
    for (const auto& t : store.tasks()) {
        r.tasks.push_back({t.name, t.kind, t.hash, t.state, t.reused, t.reused_from, t.wall_seconds});
        if (t.state != state::kDone) continue;
        if (t.kind == kinds::kCalculation && r.code_version.empty())
            if (auto out = store.output_of(t.name)) r.code_version = out->value("code_version", "");
        if (t.kind == kinds::kBindingEnergy) {
            const auto out = store.output_of(t.name).value();
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
            if (auto slab = store.output_of(h.host + "/slab")) h.slab_info = slab->at("structure").value("info", nlohmann::json::object());
            if (auto host = store.output_of(h.host + "/slab/relax")) h.relaxed_host = host->at("structure");
            if (auto best = store.output_of(fmt::format("{}/{}+{}/relax", h.host, h.best_site, h.adsorbate)))
                h.relaxed_best = best->at("structure");
            r.hosts.push_back(std::move(h));
        }
        if (t.kind == kinds::kDeltaE) {
            const auto out = store.output_of(t.name).value();
            r.pairs.push_back({out.at("a").get<std::string>(), out.at("b").get<std::string>(),
                               out.at("binding_energy_a").get<double>(), out.at("binding_energy_b").get<double>(),
                               out.at("delta_e").get<double>(), out.at("reference").get<std::string>()});
        }
    }
    return r;
}

namespace {

void write_structure_group(h5::Group& parent, const std::string& name, const nlohmann::json& json) {
    if (json.is_null()) return;
    const auto s = structures::structure_from_json(json, name);
    auto g = parent.create_group(name);
    std::vector<double> lattice, positions;
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) lattice.push_back(s.lattice()(i, j));
    std::vector<std::string> species;
    std::vector<std::int64_t> fixed, layer;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto r = s.cartesian(i);
        positions.insert(positions.end(), {r[0], r[1], r[2]});
        species.push_back(s[i].species);
        fixed.push_back(s[i].fixed ? 1 : 0);
        layer.push_back(s[i].layer);
    }
    g.write_matrix("lattice", lattice, 3, 3).set_attribute("units", "Å");
    g.write_matrix("positions", positions, s.size(), 3).set_attribute("units", "Å");
    g.write_strings("species", species);
    g.write_int64s("fixed", fixed);
    g.write_int64s("layer", layer);
    g.set_attribute("formula", s.formula());
    g.set_attribute("info", s.info.dump());
}

}  // namespace

void write_results_h5(const std::filesystem::path& path, const RunResults& r) {
    h5::write_atomically(path, [&](h5::File& f) {
        f.set_attribute("format", "interphase-results");
        f.set_attribute("format_version", std::int64_t{1});
        f.set_attribute("interphase_version", r.interphase_version);
        f.set_attribute("workflow", r.workflow);
        f.set_attribute("calculator", r.calculator);
        f.set_attribute("code_version", r.code_version);
        f.set_attribute("protocol", r.protocol);
        f.set_attribute("written", fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::time(nullptr))));

        auto be = f.create_group("binding_energy");
        std::vector<std::string> hosts, best_sites, refs;
        std::vector<double> eb;
        for (const auto& h : r.hosts) {
            hosts.push_back(h.host);
            best_sites.push_back(h.best_site);
            refs.push_back(h.reference);
            eb.push_back(h.binding_energy);
        }
        be.write_strings("host", hosts);
        be.write_doubles("binding_energy", eb).set_attribute("units", "eV");
        be.write_strings("best_site", best_sites);
        be.write_strings("reference", refs);
        be.set_attribute("definition", "E_b = E(host + adsorbate) - E(host) - mu_adsorbate, lowest over sites");
        for (const auto& h : r.hosts) {
            auto g = be.create_group(h.host);
            g.set_attribute("adsorbate", h.adsorbate);
            g.set_attribute("reference", h.reference);
            g.set_attribute("mu", h.mu);
            g.set_attribute("host_energy", h.host_energy);
            g.set_attribute("binding_energy", h.binding_energy);
            g.set_attribute("best_site", h.best_site);
            g.set_attribute("units", "eV");
            g.set_attribute("slab", h.slab_info.dump());
            std::vector<std::string> names;
            std::vector<double> e, tot;
            std::vector<std::int64_t> conv;
            for (const auto& s : h.sites) {
                names.push_back(s.site);
                e.push_back(s.binding_energy);
                tot.push_back(s.total_energy);
                conv.push_back(s.geometry_converged ? 1 : 0);
            }
            g.write_strings("site", names);
            g.write_doubles("binding_energy", e).set_attribute("units", "eV");
            g.write_doubles("total_energy", tot).set_attribute("units", "eV");
            g.write_int64s("geometry_converged", conv);
            write_structure_group(g, "relaxed_host", h.relaxed_host);
            write_structure_group(g, "relaxed_best_site", h.relaxed_best);
        }

        auto de = f.create_group("delta_e");
        std::vector<std::string> a, b;
        std::vector<double> d, ad, ea, ebb;
        for (const auto& p : r.pairs) {
            a.push_back(p.a);
            b.push_back(p.b);
            d.push_back(p.delta_e);
            ad.push_back(std::abs(p.delta_e));
            ea.push_back(p.binding_energy_a);
            ebb.push_back(p.binding_energy_b);
        }
        de.write_strings("a", a);
        de.write_strings("b", b);
        de.write_doubles("delta_e", d).set_attribute("units", "eV");
        de.write_doubles("abs_delta_e", ad).set_attribute("units", "eV");
        de.write_doubles("binding_energy_a", ea).set_attribute("units", "eV");
        de.write_doubles("binding_energy_b", ebb).set_attribute("units", "eV");
        de.set_attribute("definition", "delta_e = E_b(a) - E_b(b), same reference on both sides");

        auto prov = f.create_group("provenance");
        std::vector<std::string> names, kinds_, hashes, states, origins;
        std::vector<std::int64_t> reused;
        std::vector<double> wall;
        for (const auto& t : r.tasks) {
            names.push_back(t.task);
            kinds_.push_back(t.kind);
            hashes.push_back(t.hash);
            states.push_back(t.state);
            reused.push_back(t.reused ? 1 : 0);
            origins.push_back(t.reused_from);
            wall.push_back(t.wall_seconds);
        }
        prov.write_strings("task", names);
        prov.write_strings("kind", kinds_);
        prov.write_strings("hash", hashes);
        prov.write_strings("state", states);
        prov.write_int64s("reused", reused);
        prov.write_strings("reused_from", origins);
        prov.write_doubles("wall_seconds", wall).set_attribute("units", "s");
    });
}

std::string format_table(const RunResults& r) {
    std::string out = fmt::format("{} binding energies (workflow {}, {} {}, protocol {})\n",
                                  r.hosts.empty() ? std::string("Li") : r.hosts.front().adsorbate, r.workflow, r.calculator,
                                  r.code_version, nlohmann::json::parse(r.protocol).value("name", "?"));
    out += fmt::format("{:<16} {:<14} {:>10}  {:<14}\n", "phase", "site", "E_b (eV)", "reference");
    for (const auto& h : r.hosts)
        for (const auto& s : h.sites)
            out += fmt::format("{:<16} {:<14} {:>10.3f}  {:<14}{}\n", h.host, s.site, s.binding_energy, h.reference,
                               s.site == h.best_site && h.sites.size() > 1 ? "  (lowest)" : "");
    if (!r.pairs.empty()) {
        out += fmt::format("\n{:<34} {:>10} {:>10}\n", "pair A | B", "ΔE (eV)", "|ΔE| (eV)");
        for (const auto& p : r.pairs)
            out += fmt::format("{:<34} {:>10.3f} {:>10.3f}\n", p.a + " | " + p.b, p.delta_e, std::abs(p.delta_e));
        out += "ΔE = E_b(A) − E_b(B); it does not depend on the reference.\n";
    }
    return out;
}

std::string format_csv(const RunResults& r) {
    std::string out = "record,phase,site,binding_energy_eV,reference,pair_b,delta_e_eV\n";
    auto q = [](const std::string& s) {
        std::string e = "\"";
        for (char c : s) { if (c == '"') e += '"'; e += c; }
        return e + "\"";
    };
    for (const auto& h : r.hosts)
        for (const auto& s : h.sites)
            out += fmt::format("binding_energy,{},{},{:.6f},{},,\n", q(h.host), q(s.site), s.binding_energy, h.reference);
    for (const auto& p : r.pairs)
        out += fmt::format("delta_e,{},,,{},{},{:.6f}\n", q(p.a), p.reference, q(p.b), p.delta_e);
    return out;
}

nlohmann::json results_json(const RunResults& r) {
    nlohmann::json hosts = nlohmann::json::array(), pairs = nlohmann::json::array();
    for (const auto& h : r.hosts) {
        nlohmann::json sites = nlohmann::json::array();
        for (const auto& s : h.sites)
            sites.push_back({{"site", s.site}, {"binding_energy_eV", s.binding_energy}, {"total_energy_eV", s.total_energy},
                             {"geometry_converged", s.geometry_converged}});
        hosts.push_back({{"host", h.host}, {"adsorbate", h.adsorbate}, {"reference", h.reference}, {"mu_eV", h.mu},
                         {"host_energy_eV", h.host_energy}, {"binding_energy_eV", h.binding_energy},
                         {"best_site", h.best_site}, {"sites", sites}, {"slab", h.slab_info}});
    }
    for (const auto& p : r.pairs)
        pairs.push_back({{"a", p.a}, {"b", p.b}, {"delta_e_eV", p.delta_e}, {"binding_energy_a_eV", p.binding_energy_a},
                         {"binding_energy_b_eV", p.binding_energy_b}, {"reference", p.reference}});
    return {{"workflow", r.workflow}, {"calculator", r.calculator}, {"code_version", r.code_version},
            {"protocol", nlohmann::json::parse(r.protocol)}, {"binding_energies", hosts}, {"pairs", pairs}};
}

}  // namespace interphase::engine
