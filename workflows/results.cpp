#include "workflows/results.hpp"

#include <chrono>
#include <cmath>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <functional>
#include <type_traits>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "common/version.hpp"
#include "engine/hdf5.hpp"
#include "engine/graph.hpp"
#include "engine/runner.hpp"
#include "engine/store.hpp"
#include "engine/user_tasks.hpp"
#include "workflows/binding_energy/names.hpp"
#include "workflows/neb/neb_tasks.hpp"
#include "structures/structure.hpp"

namespace interphase::workflows {

using namespace interphase::engine;  // the store, HDF5 and the task states
namespace kinds = binding_energy::kinds;

namespace {

/// One column of a table of rows: `project(row)` for every row (a member pointer or a lambda).
template <class Rows, class Project>
auto column(const Rows& rows, Project project) {
    using T = std::decay_t<std::invoke_result_t<Project, const typename Rows::value_type&>>;
    std::vector<T> out;
    out.reserve(rows.size());
    for (const auto& row : rows) out.push_back(std::invoke(project, row));
    return out;
}

/// A flag column as HDF5 integers (0/1).
template <class Rows, class Row>
std::vector<std::int64_t> flag_column(const Rows& rows, bool Row::*flag) {
    return column(rows, [flag](const Row& row) { return std::int64_t{row.*flag ? 1 : 0}; });
}

}  // namespace

RunResults collect_results(const RunStore& store) {
    RunResults r;
    r.workflow = store.meta("workflow_name").value_or("");
    r.interphase_version = store.meta("interphase_version").value_or(kVersion);
    r.calculator = store.meta("calculator").value_or("");
    r.protocol = store.meta("protocol").value_or("{}");
    for (const auto& t : store.tasks()) {
        r.tasks.push_back({t.name, t.kind, t.hash, t.state, t.reused, t.reused_from, t.wall_seconds});
        if (t.state != state::kDone) continue;
        if (t.kind == engine::kinds::kCalculation && r.code_version.empty())
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
            h.kind = out.value("host_kind", "surface");
            namespace names = binding_energy::names;
            const std::string built = h.kind == "bulk"        ? names::supercell(h.host)
                                      : h.kind == "molecule"  ? names::molecule(h.host)
                                      : h.kind == "interface" ? names::interface(out.value("interface", h.host))
                                                              : names::slab(h.host);
            if (auto slab = store.output_of(built)) h.slab_info = slab->at("structure").value("info", nlohmann::json::object());
            if (auto host = store.output_of(binding_energy::names::relax(built))) h.relaxed_host = host->at("structure");
            if (auto best = store.output_of(names::relax(names::site(out.value("interface", h.host), h.best_site, h.adsorbate))))
                h.relaxed_best = best->at("structure");
            r.hosts.push_back(std::move(h));
        }
        if (is_user_task_kind(t.kind)) {
            const auto out = store.output_of(t.name).value();
            UserValue v{t.name, t.kind, out.at("value").get<double>(), out.value("unit", ""), "", ""};
            if (t.kind == engine::kinds::kExpression) {
                v.definition = out.at("expression").get<std::string>();
                v.detail = out.at("variables").dump();
            } else {
                v.definition = fmt::format("{}({}) over {} tasks", out.at("op").get<std::string>(),
                                           out.at("field").get<std::string>(), out.at("count").get<std::size_t>());
                if (out.contains("task")) v.definition += ": " + out.at("task").get<std::string>();
                v.detail = out.at("members").dump();
            }
            r.user_values.push_back(std::move(v));
        }
        if (t.kind == neb::kNeb) {
            const auto out = store.output_of(t.name).value();
            HopResult h;
            h.task = t.name;
            h.host = out.value("host", "");
            h.hop = out.value("hop", "");
            h.from = out.value("from", "");
            h.to = out.value("to", "");
            h.method = out.value("method", "");
            h.optimizer = out.value("optimizer", "");
            h.climb = out.value("climb", true);
            h.reaction_coordinate = out.at("reaction_coordinate").get<std::vector<double>>();
            h.energy = out.at("energy_profile_eV").get<std::vector<double>>();
            h.total_energy = out.at("energies_eV").get<std::vector<double>>();
            h.forward_barrier = out.at("forward_barrier_eV").get<double>();
            h.reverse_barrier = out.at("reverse_barrier_eV").get<double>();
            h.saddle_index = out.at("saddle_index").get<std::size_t>();
            h.saddle = out.at("saddle");
            if (out.contains("band") && !out.at("band").empty()) {
                h.initial = out.at("band").front();
                h.final = out.at("band").back();
            }
            h.across_interface = out.value("across_interface", false);
            h.mechanism = out.value("mechanism", "");
            h.converged = out.at("converged").get<bool>();
            h.fmax = out.at("fmax").get<double>();
            h.iterations = out.at("iterations").get<int>();
            h.force_calls = out.at("force_calls").get<long>();
            r.hops.push_back(std::move(h));
        }
        if (t.kind == kinds::kDeltaE) {
            const auto out = store.output_of(t.name).value();
            r.pairs.push_back({out.at("a").get<std::string>(), out.at("b").get<std::string>(),
                               out.at("binding_energy_a").get<double>(), out.at("binding_energy_b").get<double>(),
                               out.at("delta_e").get<double>(), out.at("reference").get<std::string>()});
            r.pairs.back().interface = t.name == binding_energy::names::in_situ_delta_e(out.value("interface", ""))
                                           ? out.value("interface", "")
                                           : "";
        }
    }
    // Beside ΔE: for a pair of hosts, the lowest forward barrier of each host's own surface hops;
    // for an interface's in-situ pair, the barrier across that interface (A → B, and B → A as
    // its reverse). Never mixed, and only converged bands count.
    for (auto& p : r.pairs)
        for (const auto& h : r.hops) {
            if (!h.converged) continue;
            if (h.across_interface) {
                if (p.interface.empty() || h.host != p.interface) continue;
                const bool a_to_b = !h.from.empty() && h.from[0] == 'A';
                const double forward = a_to_b ? h.forward_barrier : h.reverse_barrier;
                const double reverse = a_to_b ? h.reverse_barrier : h.forward_barrier;
                if (!(forward >= p.interface_barrier)) {
                    p.interface_barrier = forward;
                    p.interface_barrier_reverse = reverse;
                }
                continue;
            }
            const bool bulk = !h.mechanism.empty();
            double& a = bulk ? p.bulk_barrier_a : p.surface_barrier_a;
            double& b = bulk ? p.bulk_barrier_b : p.surface_barrier_b;
            if (h.host == p.a && !(h.forward_barrier >= a)) a = h.forward_barrier;
            if (h.host == p.b && !(h.forward_barrier >= b)) b = h.forward_barrier;
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
    std::vector<std::string> side;
    std::vector<std::int64_t> fixed, layer;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto r = s.cartesian(i);
        positions.insert(positions.end(), {r[0], r[1], r[2]});
        species.push_back(s[i].species);
        side.push_back(s[i].label);
        fixed.push_back(s[i].fixed ? 1 : 0);
        layer.push_back(s[i].layer);
    }
    g.write_matrix("lattice", lattice, 3, 3).set_attribute("units", "Å");
    g.write_matrix("positions", positions, s.size(), 3).set_attribute("units", "Å");
    g.write_strings("species", species);
    g.write_int64s("fixed", fixed);
    g.write_int64s("layer", layer);
    g.write_strings("side", side);
    g.set_attribute("formula", s.formula());
    g.set_attribute("info", s.info.dump());
}

}  // namespace

void write_results_h5(const std::filesystem::path& path, const RunResults& r, const std::function<bool()>& interrupted) {
    const auto check = [&interrupted] {
        if (interrupted && interrupted()) throw engine::Interrupted{};
    };
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
        using Host = std::decay_t<decltype(r.hosts)>::value_type;
        be.write_strings("host", column(r.hosts, &Host::host));
        be.write_doubles("binding_energy", column(r.hosts, &Host::binding_energy)).set_attribute("units", "eV");
        be.write_strings("best_site", column(r.hosts, &Host::best_site));
        be.write_strings("reference", column(r.hosts, &Host::reference));
        be.set_attribute("definition", "E_b = E(host + adsorbate) - E(host) - mu_adsorbate, lowest over sites");
        for (const auto& h : r.hosts) {
            check();
            auto g = be.create_group(h.host);
            g.set_attribute("adsorbate", h.adsorbate);
            g.set_attribute("host_kind", h.kind);
            g.set_attribute("reference", h.reference);
            g.set_attribute("mu", h.mu);
            g.set_attribute("host_energy", h.host_energy);
            g.set_attribute("binding_energy", h.binding_energy);
            g.set_attribute("best_site", h.best_site);
            g.set_attribute("units", "eV");
            g.set_attribute("slab", h.slab_info.dump());
            using Site = std::decay_t<decltype(h.sites)>::value_type;
            g.write_strings("site", column(h.sites, &Site::site));
            g.write_doubles("binding_energy", column(h.sites, &Site::binding_energy)).set_attribute("units", "eV");
            g.write_doubles("total_energy", column(h.sites, &Site::total_energy)).set_attribute("units", "eV");
            g.write_int64s("geometry_converged", flag_column(h.sites, &Site::geometry_converged));
            write_structure_group(g, "relaxed_host", h.relaxed_host);
            write_structure_group(g, "relaxed_best_site", h.relaxed_best);
        }

        auto de = f.create_group("delta_e");
        using Pair = std::decay_t<decltype(r.pairs)>::value_type;
        de.write_strings("a", column(r.pairs, &Pair::a));
        de.write_strings("b", column(r.pairs, &Pair::b));
        de.write_doubles("delta_e", column(r.pairs, &Pair::delta_e)).set_attribute("units", "eV");
        de.write_doubles("abs_delta_e", column(r.pairs, [](const Pair& p) { return std::abs(p.delta_e); }))
            .set_attribute("units", "eV");
        de.write_doubles("binding_energy_a", column(r.pairs, &Pair::binding_energy_a)).set_attribute("units", "eV");
        de.write_doubles("binding_energy_b", column(r.pairs, &Pair::binding_energy_b)).set_attribute("units", "eV");
        de.set_attribute("definition", "delta_e = E_b(a) - E_b(b), same reference on both sides");
        if (!r.hops.empty()) {
            // Beside ΔE: each host's own surface-hop barrier, and the barrier across an interface
            // for its in-situ row (NaN where there is none, or no converged band).
            de.write_doubles("surface_barrier_a", column(r.pairs, &Pair::surface_barrier_a)).set_attribute("units", "eV");
            de.write_doubles("surface_barrier_b", column(r.pairs, &Pair::surface_barrier_b)).set_attribute("units", "eV");
            de.write_doubles("bulk_barrier_a", column(r.pairs, &Pair::bulk_barrier_a)).set_attribute("units", "eV");
            de.write_doubles("bulk_barrier_b", column(r.pairs, &Pair::bulk_barrier_b)).set_attribute("units", "eV");
            de.write_strings("interface", column(r.pairs, &Pair::interface));
            de.write_doubles("interface_barrier", column(r.pairs, &Pair::interface_barrier)).set_attribute("units", "eV");
            de.write_doubles("interface_barrier_reverse", column(r.pairs, &Pair::interface_barrier_reverse))
                .set_attribute("units", "eV");

            auto ng = f.create_group("neb");
            ng.set_attribute("definition", "CI-NEB; forward_barrier = max image energy - E(initial), "
                                           "reverse_barrier = max image energy - E(final)");
            using Hop = std::decay_t<decltype(r.hops)>::value_type;
            ng.write_strings("task", column(r.hops, &Hop::task));
            ng.write_strings("host", column(r.hops, &Hop::host));
            ng.write_strings("hop", column(r.hops, &Hop::hop));
            ng.write_doubles("forward_barrier", column(r.hops, &Hop::forward_barrier)).set_attribute("units", "eV");
            ng.write_doubles("reverse_barrier", column(r.hops, &Hop::reverse_barrier)).set_attribute("units", "eV");
            ng.write_int64s("saddle_index",
                            column(r.hops, [](const Hop& h) { return static_cast<std::int64_t>(h.saddle_index); }));
            ng.write_int64s("converged", flag_column(r.hops, &Hop::converged));
            for (const auto& h : r.hops) {
                check();
                // /neb/<host>/<from>-<to> (a `workflow: neb` band: /neb/band)
                auto g = ng.create_group(h.host.empty() ? std::string("band") : h.host + "/" + h.hop);
                g.set_attribute("task", h.task);
                g.set_attribute("from", h.from);
                g.set_attribute("to", h.to);
                g.set_attribute("method", h.method);
                g.set_attribute("optimizer", h.optimizer);
                g.set_attribute("climb", std::int64_t{h.climb ? 1 : 0});
                g.set_attribute("forward_barrier", h.forward_barrier);
                g.set_attribute("reverse_barrier", h.reverse_barrier);
                g.set_attribute("saddle_index", static_cast<std::int64_t>(h.saddle_index));
                g.set_attribute("converged", std::int64_t{h.converged ? 1 : 0});
                g.set_attribute("fmax", h.fmax);
                g.set_attribute("iterations", std::int64_t{h.iterations});
                g.set_attribute("force_calls", std::int64_t{h.force_calls});
                g.set_attribute("across_interface", std::int64_t{h.across_interface ? 1 : 0});
                g.set_attribute("mechanism", h.mechanism.empty() ? std::string(h.across_interface ? "interface" : "surface") : h.mechanism);
                g.set_attribute("units", "eV, Å, eV/Å");
                g.write_doubles("reaction_coordinate", h.reaction_coordinate).set_attribute("units", "Å");
                g.write_doubles("energy", h.energy).set_attribute("units", "eV");
                g.write_doubles("total_energy", h.total_energy).set_attribute("units", "eV");
                write_structure_group(g, "saddle", h.saddle);
                write_structure_group(g, "initial", h.initial);
                write_structure_group(g, "final", h.final);
            }
        }

        if (!r.user_values.empty()) {
            auto ug = f.create_group("user_tasks");
            using Value = std::decay_t<decltype(r.user_values)>::value_type;
            ug.write_strings("task", column(r.user_values, &Value::task));
            ug.write_strings("kind", column(r.user_values, &Value::kind));
            ug.write_doubles("value", column(r.user_values, &Value::value));
            ug.write_strings("unit", column(r.user_values, &Value::unit));
            ug.write_strings("definition", column(r.user_values, &Value::definition));
            ug.set_attribute("definition", "values of the workflow's `tasks:` (expressions and aggregates), units per row");
        }

        auto prov = f.create_group("provenance");
        using Row = std::decay_t<decltype(r.tasks)>::value_type;
        prov.write_strings("task", column(r.tasks, &Row::task));
        prov.write_strings("kind", column(r.tasks, &Row::kind));
        prov.write_strings("hash", column(r.tasks, &Row::hash));
        prov.write_strings("state", column(r.tasks, &Row::state));
        prov.write_int64s("reused", flag_column(r.tasks, &Row::reused));
        prov.write_strings("reused_from", column(r.tasks, &Row::reused_from));
        prov.write_doubles("wall_seconds", column(r.tasks, &Row::wall_seconds)).set_attribute("units", "s");
    });
}

namespace {
// Each line of a table with control characters escaped: a name from an old store or a unit from
// a workflow must not move the cursor, recolour or clear a scientist's terminal.
std::string printable_lines(const std::string& table) {
    std::string out;
    std::size_t start = 0;
    while (start < table.size()) {
        const auto end = table.find('\n', start);
        out += text::printable(table.substr(start, end == std::string::npos ? std::string::npos : end - start));
        if (end == std::string::npos) break;
        out += '\n';
        start = end + 1;
    }
    return out;
}

std::string format_table_raw(const RunResults& r) {
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
    if (!r.hops.empty()) {
        out += fmt::format("\n{:<16} {:<28} {:>6} {:>11} {:>11} {:>6}  {}\n", "phase", "hop", "images", "E_a (eV)",
                           "reverse", "saddle", "converged");
        for (const auto& h : r.hops)
            out += fmt::format("{:<16} {:<28} {:>6} {:>11.3f} {:>11.3f} {:>6}  {}\n", h.host.empty() ? "-" : h.host,
                               h.hop, h.energy.size() - 2, h.forward_barrier, h.reverse_barrier, h.saddle_index,
                               h.converged ? "yes" : fmt::format("NO (fmax {:.3f})", h.fmax));
        bool any = false;
        for (const auto& p : r.pairs)
            any = any || !std::isnan(p.surface_barrier_a) || !std::isnan(p.surface_barrier_b) || !std::isnan(p.interface_barrier) ||
                  !std::isnan(p.bulk_barrier_a) || !std::isnan(p.bulk_barrier_b);
        if (any) {
            out += fmt::format("\n{:<34} {:>10} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}\n", "pair A | B", "ΔE (eV)",
                               "surf E_a(A)", "surf E_a(B)", "bulk E_a(A)", "bulk E_a(B)", "E_a A->B", "E_a B->A");
            auto num = [](double x) { return std::isnan(x) ? std::string("-") : fmt::format("{:.3f}", x); };
            for (const auto& p : r.pairs)
                out += fmt::format("{:<34} {:>10.3f} {:>12} {:>12} {:>12} {:>12} {:>12} {:>12}\n", p.a + " | " + p.b, p.delta_e,
                                   num(p.surface_barrier_a), num(p.surface_barrier_b), num(p.bulk_barrier_a),
                                   num(p.bulk_barrier_b), num(p.interface_barrier), num(p.interface_barrier_reverse));
            out += "surf/bulk E_a: lowest converged hop on each host's own surface / inside its bulk; E_a A->B: across "
                   "the interface (in-situ rows).\n";
        }
    }
    if (!r.user_values.empty()) {
        out += fmt::format("\n{:<28} {:>12} {:<8} {}\n", "task", "value", "unit", "definition");
        for (const auto& v : r.user_values)
            out += fmt::format("{:<28} {:>12.6g} {:<8} {}\n", v.task, v.value, v.unit, v.definition);
    }
    return out;
}

}  // namespace

std::string format_table(const RunResults& r) { return printable_lines(format_table_raw(r)); }

std::string format_csv(const RunResults& r) {
    std::string out = "record,phase,site,binding_energy_eV,reference,pair_b,delta_e_eV,value,unit\n";
    // Every text field quoted; one that a spreadsheet would run as a formula (=, +, -, @, tab,
    // CR first) gets a leading apostrophe (OWASP's CSV-injection advice), control bytes escaped.
    auto q = [](const std::string& s) {
        std::string e = "\"";
        if (!s.empty() && std::string("=+-@\t\r").find(s.front()) != std::string::npos) e += '\'';
        for (char c : text::printable(s)) {
            if (c == '"') e += '"';
            e += c;
        }
        return e + "\"";
    };
    for (const auto& h : r.hosts)
        for (const auto& s : h.sites)
            out += fmt::format("binding_energy,{},{},{:.6f},{},,,,\n", q(h.host), q(s.site), s.binding_energy, h.reference);
    // NEB barriers: record "neb_barrier" / "neb_reverse_barrier", host in "phase", hop in "site".
    for (const auto& h : r.hops) {
        out += fmt::format("neb_barrier,{},{},,,,,{:.6f},eV\n", q(h.host), q(h.hop), h.forward_barrier);
        out += fmt::format("neb_reverse_barrier,{},{},,,,,{:.6f},eV\n", q(h.host), q(h.hop), h.reverse_barrier);
    }
    for (const auto& p : r.pairs)
        out += fmt::format("delta_e,{},,,{},{},{:.6f},,\n", q(p.a), p.reference, q(p.b), p.delta_e);
    // User tasks in the same table: record "user_task", name in "phase", value in "value".
    for (const auto& v : r.user_values)
        out += fmt::format("user_task,{},,,,,,{:.10g},{}\n", q(v.task), v.value, q(v.unit));
    return out;
}

namespace {
nlohmann::json number_or_null(double x) { return std::isnan(x) ? nlohmann::json() : nlohmann::json(x); }
}  // namespace

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
                         {"binding_energy_b_eV", p.binding_energy_b}, {"reference", p.reference},
                         {"surface_barrier_a_eV", number_or_null(p.surface_barrier_a)},
                         {"surface_barrier_b_eV", number_or_null(p.surface_barrier_b)},
                         {"bulk_barrier_a_eV", number_or_null(p.bulk_barrier_a)},
                         {"bulk_barrier_b_eV", number_or_null(p.bulk_barrier_b)},
                         {"interface", p.interface},
                         {"interface_barrier_eV", number_or_null(p.interface_barrier)},
                         {"interface_barrier_reverse_eV", number_or_null(p.interface_barrier_reverse)}});
    nlohmann::json hops = nlohmann::json::array();
    for (const auto& h : r.hops)
        hops.push_back({{"task", h.task}, {"host", h.host}, {"hop", h.hop}, {"from", h.from}, {"to", h.to},
                        {"method", h.method}, {"optimizer", h.optimizer}, {"climb", h.climb},
                        {"reaction_coordinate_A", h.reaction_coordinate}, {"energy_eV", h.energy},
                        {"forward_barrier_eV", h.forward_barrier}, {"reverse_barrier_eV", h.reverse_barrier},
                        {"saddle_index", h.saddle_index}, {"converged", h.converged}, {"fmax_eV_per_A", h.fmax},
                        {"iterations", h.iterations}, {"force_calls", h.force_calls}});
    nlohmann::json user = nlohmann::json::array();
    for (const auto& v : r.user_values)
        user.push_back({{"task", v.task}, {"kind", v.kind}, {"value", v.value}, {"unit", v.unit},
                        {"definition", v.definition}, {"detail", nlohmann::json::parse(v.detail)}});
    return {{"workflow", r.workflow}, {"calculator", r.calculator}, {"code_version", r.code_version},
            {"protocol", nlohmann::json::parse(r.protocol)}, {"binding_energies", hosts}, {"pairs", pairs},
            {"user_tasks", user}, {"hops", hops}};
}

}  // namespace interphase::workflows
