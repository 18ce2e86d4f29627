// /neb of results.h5, the hop table, CSV rows and JSON of CI-NEB bands (docs/results-hdf5.md).
#include "workflows/neb/results.hpp"

#include <fmt/format.h>

#include "workflows/neb/neb_tasks.hpp"
#include "workflows/results.hpp"
#include "workflows/results_section.hpp"

namespace interphase::workflows::neb {

namespace {

void collect(const engine::TaskRecord& t, const engine::RunStore& store, RunResults& r) {
    if (t.kind != kNeb) return;
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

void write_h5(engine::h5::File& f, const RunResults& r, const std::function<void()>& check) {
    if (r.hops.empty()) return;
    auto ng = f.create_group("neb");
    ng.set_attribute("definition", "CI-NEB; forward_barrier = max image energy - E(initial), "
                                   "reverse_barrier = max image energy - E(final)");
    ng.write_strings("task", column(r.hops, &HopResult::task));
    ng.write_strings("host", column(r.hops, &HopResult::host));
    ng.write_strings("hop", column(r.hops, &HopResult::hop));
    ng.write_doubles("forward_barrier", column(r.hops, &HopResult::forward_barrier)).set_attribute("units", "eV");
    ng.write_doubles("reverse_barrier", column(r.hops, &HopResult::reverse_barrier)).set_attribute("units", "eV");
    ng.write_int64s("saddle_index",
                    column(r.hops, [](const HopResult& h) { return static_cast<std::int64_t>(h.saddle_index); }));
    ng.write_int64s("converged", flag_column(r.hops, &HopResult::converged));
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
        g.set_attribute("mechanism",
                        h.mechanism.empty() ? std::string(h.across_interface ? "interface" : "surface") : h.mechanism);
        g.set_attribute("units", "eV, Å, eV/Å");
        g.write_doubles("reaction_coordinate", h.reaction_coordinate).set_attribute("units", "Å");
        g.write_doubles("energy", h.energy).set_attribute("units", "eV");
        g.write_doubles("total_energy", h.total_energy).set_attribute("units", "eV");
        write_structure_group(g, "saddle", h.saddle);
        write_structure_group(g, "initial", h.initial);
        write_structure_group(g, "final", h.final);
    }
}

std::string table(const RunResults& r) {
    if (r.hops.empty()) return "";
    std::string out = fmt::format("\n{:<16} {:<28} {:>6} {:>11} {:>11} {:>6}  {}\n", "phase", "hop", "images", "E_a (eV)",
                                  "reverse", "saddle", "converged");
    for (const auto& h : r.hops)
        out += fmt::format("{:<16} {:<28} {:>6} {:>11.3f} {:>11.3f} {:>6}  {}\n", h.host.empty() ? "-" : h.host, h.hop,
                           h.energy.size() - 2, h.forward_barrier, h.reverse_barrier, h.saddle_index,
                           h.converged ? "yes" : fmt::format("NO (fmax {:.3f})", h.fmax));
    return out;
}

// Records "neb_barrier" / "neb_reverse_barrier": host in "phase", hop in "site".
std::string csv(const RunResults& r) {
    std::string out;
    for (const auto& h : r.hops) {
        out += fmt::format("neb_barrier,{},{},,,,,{:.6f},eV\n", csv_quote(h.host), csv_quote(h.hop), h.forward_barrier);
        out += fmt::format("neb_reverse_barrier,{},{},,,,,{:.6f},eV\n", csv_quote(h.host), csv_quote(h.hop),
                           h.reverse_barrier);
    }
    return out;
}

void json(const RunResults& r, nlohmann::json& out) {
    nlohmann::json hops = nlohmann::json::array();
    for (const auto& h : r.hops)
        hops.push_back({{"task", h.task}, {"host", h.host}, {"hop", h.hop}, {"from", h.from}, {"to", h.to},
                        {"method", h.method}, {"optimizer", h.optimizer}, {"climb", h.climb},
                        {"reaction_coordinate_A", h.reaction_coordinate}, {"energy_eV", h.energy},
                        {"forward_barrier_eV", h.forward_barrier}, {"reverse_barrier_eV", h.reverse_barrier},
                        {"saddle_index", h.saddle_index}, {"converged", h.converged}, {"fmax_eV_per_A", h.fmax},
                        {"iterations", h.iterations}, {"force_calls", h.force_calls},
                        {"across_interface", h.across_interface},
                        {"mechanism", h.mechanism.empty() ? std::string(h.across_interface ? "interface" : "surface")
                                                          : h.mechanism}});
    out["hops"] = hops;
}

}  // namespace

ResultSection results_section() {
    return {"neb", "CI-NEB bands: barriers, profiles, saddle and end points (/neb)", collect, {}, write_h5, table, csv, json};
}

}  // namespace interphase::workflows::neb
