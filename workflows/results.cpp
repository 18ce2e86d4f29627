#include "workflows/results.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "common/errors.hpp"
#include "plugins/calculator.hpp"
#include "common/text.hpp"
#include "common/version.hpp"
#include "engine/graph.hpp"
#include "engine/hdf5.hpp"
#include "engine/runner.hpp"
#include "engine/store.hpp"
#include "engine/user_tasks.hpp"
#include "structures/structure.hpp"
#include "workflows/results_section.hpp"

namespace interphase::workflows {

using namespace interphase::engine;  // the store, HDF5 and the task states

RunResults collect_results(const RunStore& store, const std::function<bool()>& interrupted) {
    RunResults r;
    r.workflow = store.meta("workflow_name").value_or("");
    r.interphase_version = store.meta("interphase_version").value_or(kVersion);
    r.calculator = store.meta("calculator").value_or("");
    r.protocol = store.meta("protocol").value_or("{}");
    const auto& sections = ResultSectionRegistry::instance().entries();
    const auto* info = plugins::CalculatorRegistry::instance().find(r.calculator);
    const bool records_physics = info && info->electronic_structure();
    for (const auto& t : store.tasks()) {
        if (interrupted && interrupted()) throw engine::Interrupted{};
        r.tasks.push_back({t.name, t.kind, t.hash, t.state, t.reused, t.reused_from, t.wall_seconds});
        if (t.state != state::kDone) continue;
        // Electronic-structure codes record what they computed; in-process potentials do not, and
        // their runs (up to 10^5 calculations) are not read twice for nothing.
        if (t.kind == engine::kinds::kCalculation && (r.code_version.empty() || records_physics))
            if (auto out = store.output_of(t.name)) {
                if (r.code_version.empty()) r.code_version = out->value("code_version", "");
                if (records_physics && out->contains("physics"))
                    r.calculations.push_back({t.name, out->at("energy_eV").get<double>(),
                                              out->value("free_energy_eV", std::numeric_limits<double>::quiet_NaN()),
                                              out->at("physics")});
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
        for (const auto& section : sections) section.collect(t, store, r);
    }
    for (const auto& section : sections)
        if (section.link) section.link(r);
    return r;
}

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

std::string csv_quote(const std::string& s) {
    std::string e = "\"";
    if (!s.empty() && std::string("=+-@\t\r").find(s.front()) != std::string::npos) e += '\'';
    for (char c : text::printable(s)) {
        if (c == '"') e += '"';
        e += c;
    }
    return e + "\"";
}

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

        const std::function<void()> checkpoint = check;
        for (const auto& section : ResultSectionRegistry::instance().entries()) section.write_h5(f, r, checkpoint);

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

        if (!r.calculations.empty()) {
            auto cg = f.create_group("calculations");
            using Calc = std::decay_t<decltype(r.calculations)>::value_type;
            cg.write_strings("task", column(r.calculations, &Calc::task));
            cg.write_doubles("energy", column(r.calculations, &Calc::energy)).set_attribute("units", "eV");
            cg.write_doubles("free_energy", column(r.calculations, &Calc::free_energy)).set_attribute("units", "eV");
            cg.write_strings("physics", column(r.calculations, [](const Calc& c) { return c.physics.dump(); }));
            cg.set_attribute("definition", "every electronic-structure calculation: energy = sigma->0 estimate E0 = F + TS/2 "
                                           "where smeared (else the total energy), free_energy = F (NaN without "
                                           "smearing), physics = JSON of basis, potentials, cutoffs, k-mesh, smearing, "
                                           "spin, moment, dipole correction, dispersion, fixed atoms (docs/protocols.md)");
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
    // Which energy the numbers are made of, where smearing makes it a choice (docs/protocols.md).
    const auto protocol = nlohmann::json::parse(r.protocol);
    if (const auto* info = plugins::CalculatorRegistry::instance().find(r.calculator);
        info && std::find(info->capabilities.begin(), info->capabilities.end(), "smearing") != info->capabilities.end() &&
        protocol.value("smearing", 0.0) > 0)
        out += fmt::format("energies: sigma->0 estimate E0 = F + TS/2 of Fermi-Dirac smearing {} eV (free energy F kept "
                           "per task); k-spacing {} / {} 1/A (insulators / metals)\n",
                           protocol.value("smearing", 0.0), protocol.value("kpoint_spacing", 0.0),
                           protocol.value("kpoint_spacing_metal", protocol.value("kpoint_spacing", 0.0)));
    for (const auto& section : ResultSectionRegistry::instance().entries()) out += section.table(r);
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
    std::string out = kCsvHeader;
    for (const auto& section : ResultSectionRegistry::instance().entries()) out += section.csv(r);
    // User tasks in the same table: record "user_task", name in "phase", value in "value".
    for (const auto& v : r.user_values)
        out += fmt::format("user_task,{},,,,,,{:.10g},{}\n", csv_quote(v.task), v.value, csv_quote(v.unit));
    return out;
}

nlohmann::json results_json(const RunResults& r) {
    nlohmann::json out{{"workflow", r.workflow}, {"calculator", r.calculator}, {"code_version", r.code_version},
                       {"protocol", nlohmann::json::parse(r.protocol)}};
    for (const auto& section : ResultSectionRegistry::instance().entries()) section.json(r, out);
    nlohmann::json user = nlohmann::json::array();
    for (const auto& v : r.user_values)
        user.push_back({{"task", v.task}, {"kind", v.kind}, {"value", v.value}, {"unit", v.unit},
                        {"definition", v.definition}, {"detail", nlohmann::json::parse(v.detail)}});
    out["user_tasks"] = user;
    nlohmann::json calcs = nlohmann::json::array();
    for (const auto& c : r.calculations)
        calcs.push_back({{"task", c.task},
                         {"energy_eV", c.energy},
                         {"free_energy_eV", std::isnan(c.free_energy) ? nlohmann::json(nullptr) : nlohmann::json(c.free_energy)},
                         {"physics", c.physics}});
    out["calculations"] = calcs;
    return out;
}

}  // namespace interphase::workflows
