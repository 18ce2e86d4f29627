#include "workflows/convergence/convergence.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <sstream>
#include <yaml-cpp/yaml.h>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "engine/store.hpp"
#include "workflows/results.hpp"
#include "workflows/run.hpp"
#include "workflows/workflow_file.hpp"

namespace interphase::workflows::convergence {

namespace fs = std::filesystem;

const std::vector<Setting>& settings() {
    static const std::vector<Setting> table{
        {"kpoint_spacing", Scope::Protocol, "Å⁻¹",
         "k-point spacing of insulators and molecules (and of metals too unless the protocol sets kpoint_spacing_metal)"},
        {"kpoint_spacing_metal", Scope::Protocol, "Å⁻¹", "k-point spacing of metals and metal|insulator interfaces"},
        {"smearing", Scope::Protocol, "eV", "Fermi-Dirac electronic temperature"},
        {"cutoff", Scope::Calculator, "Ry", "plane-wave cutoff of the finest grid (CP2K CUTOFF)"},
        {"rel_cutoff", Scope::Calculator, "Ry", "CP2K REL_CUTOFF"},
        {"basis_set", Scope::Calculator, "", "basis set of every element"},
        {"vacuum", Scope::SurfaceHosts, "Å", "vacuum above every surface slab"},
        {"layers", Scope::SurfaceHosts, "", "slab thickness in layers of every surface host"},
        {"supercell", Scope::SurfaceHosts, "", "in-plane supercell of every surface host (adsorbate coverage)"},
        {"thickness", Scope::SurfaceHosts, "Å", "slab thickness in Å of every surface host (replaces its layers)"},
        {"area_per_adsorbate", Scope::SurfaceHosts, "Å²", "area per adsorbate of every surface host (replaces its supercell)"},
        {"reference_box", Scope::Workflow, "Å", "box of the isolated reference atom"},
    };
    return table;
}

const Setting& setting(const std::string& name) {
    for (const auto& s : settings())
        if (s.name == name) return s;
    std::vector<std::string> names;
    for (const auto& s : settings()) names.push_back(s.name);
    throw InputError("command line", "--setting", text::unknown_name_message("convergence setting", name, names));
}

bool Study::all_ok() const {
    return !interrupted && std::all_of(points.begin(), points.end(), [](const Point& p) { return p.ok; });
}

std::string workflow_with(const std::string& yaml_text, const fs::path& source, const Setting& s,
                          const std::string& value_text) {
    const std::string field = "--values " + value_text;
    YAML::Node value;
    try {
        // "3x3" for a supercell: a YAML list would need brackets and commas that shells and
        // option parsers split.
        unsigned na = 0, nb = 0;
        char x = 0, rest = 0;
        if (s.name == "supercell" && std::sscanf(value_text.c_str(), "%u%c%u%c", &na, &x, &nb, &rest) == 3 && x == 'x')
            value = YAML::Load(fmt::format("[{}, {}]", na, nb));
        else
            value = YAML::Load(value_text);
    } catch (const YAML::Exception& e) {
        throw InputError("command line", field, fmt::format("not a YAML value: {}", e.msg));
    }
    if (!value.IsDefined() || value.IsNull()) throw InputError("command line", field, "a value is empty");
    YAML::Node root = YAML::Load(yaml_text);  // the file was validated (size, aliases) before
    const auto fail = [&](const std::string& why) {
        throw InputError(source.string(), s.name, fmt::format("cannot vary '{}' in this workflow: {}", s.name, why));
    };
    switch (s.scope) {
        case Scope::Protocol: {
            YAML::Node p = root["protocol"];
            if (!p || p.IsNull()) {
                YAML::Node m(YAML::NodeType::Map);
                root["protocol"] = m;
            } else if (p.IsScalar()) {
                YAML::Node m(YAML::NodeType::Map);
                m["name"] = p.as<std::string>();
                root["protocol"] = m;
            } else if (!p.IsMap()) {
                fail("'protocol' is neither a name nor a mapping");
            }
            root["protocol"][s.name] = value;
            break;
        }
        case Scope::Calculator: {
            YAML::Node c = root["calculator"];
            if (!c || !c.IsMap()) fail("'calculator' is not a mapping");
            c[s.name] = value;
            break;
        }
        case Scope::SurfaceHosts: {
            YAML::Node hosts = root["hosts"];
            if (!hosts || !hosts.IsSequence()) fail("the workflow has no 'hosts' list");
            int set = 0;
            for (std::size_t i = 0; i < hosts.size(); ++i) {
                YAML::Node h = hosts[i];
                if (!h.IsMap()) continue;
                // Bulk, interface and molecule hosts have no slab: the setting does not apply to them.
                if (h["kind"] && h["kind"].as<std::string>() != "surface") continue;
                // The varied setting replaces the host's other way of saying the same thing.
                static const std::map<std::string, std::string> alternative{{"layers", "thickness"},
                                                                            {"thickness", "layers"},
                                                                            {"supercell", "area_per_adsorbate"},
                                                                            {"area_per_adsorbate", "supercell"}};
                if (const auto alt = alternative.find(s.name); alt != alternative.end()) h.remove(alt->second);
                h[s.name] = value;
                ++set;
            }
            if (set == 0) fail("it has no surface host");
            break;
        }
        case Scope::Workflow: root[s.name] = value; break;
    }
    YAML::Emitter out;
    out << root;
    return std::string(out.c_str()) + "\n";
}

namespace {

// A run folder name for a value: readable, and distinct for distinct values.
std::string folder_for(const std::string& setting, std::size_t index, const std::string& value) {
    std::string slug;
    for (char c : value) {
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') slug += c;
        else if (!slug.empty() && slug.back() != '_') slug += '_';
        if (slug.size() >= 40) break;
    }
    return fmt::format("{:02}-{}-{}", index + 1, setting, slug.empty() ? "value" : slug);
}

// Columns a string takes on a terminal: its code points ("ΔE" is 2, not 3 bytes).
std::size_t display_width(const std::string& s) {
    return static_cast<std::size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

void compare(Study& study) {
    if (study.points.empty() || !study.points.back().ok || study.points.back().value != study.reference) return;
    const Point& ref = study.points.back();
    const auto deviation = [](const auto& mine, const auto& theirs) {
        double worst = 0;
        for (const auto& [name, v] : theirs) {
            const auto it = std::find_if(mine.begin(), mine.end(), [&name](const auto& e) { return e.first == name; });
            // A number the reference has and this value lacks is as far off as can be.
            worst = std::max(worst, it == mine.end() ? INFINITY : std::abs(it->second - v));
        }
        return worst;
    };
    for (auto& p : study.points)
        p.max_deviation = p.ok ? std::max(deviation(p.binding_energies, ref.binding_energies),
                                          deviation(p.delta_e, ref.delta_e))
                               : INFINITY;
    // Walk back from the reference while every value stays within the tolerance.
    std::optional<std::string> from;
    for (auto it = study.points.rbegin(); it != study.points.rend(); ++it) {
        if (!(it->max_deviation <= study.tolerance)) break;
        from = it->value;
    }
    study.converged_from = from;
}

void write_text(const fs::path& file, const std::string& text) {
    const fs::path tmp = file.string() + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        if (!out.flush()) throw StorageError("cannot write " + tmp.string());
    }
    fs::rename(tmp, file);
}

}  // namespace

Study run_study(const StudyOptions& o, std::ostream& log) {
    const Setting& s = setting(o.setting);
    if (o.values.size() < 2)
        throw InputError("command line", "--values", "a convergence study needs at least two values (loosest first, tightest last)");
    if (!(o.tolerance > 0)) throw InputError("command line", "--tolerance", "must be > 0 (eV)");
    const auto base = load_workflow(o.workflow);  // the file as it is must be valid first
    if (base.kind != "binding_energy")
        throw InputError(o.workflow.string(), "workflow",
                         fmt::format("a convergence study compares binding energies and ΔE; this is a '{}' workflow", base.kind));
    std::string text;
    {
        std::ifstream in(o.workflow, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        text = ss.str();
    }
    // Every variant is validated before the first one runs: a bad value fails in seconds, not
    // after the hours the earlier values took.
    std::vector<WorkflowSpec> specs;
    for (const auto& v : o.values) {
        const auto variant = workflow_with(text, o.workflow, s, v);
        try {
            specs.push_back(parse_workflow(variant, o.workflow));
        } catch (const Error& e) {
            throw InputError(o.workflow.string(), s.name + "=" + v, fmt::format("this value does not give a valid workflow: {}", e.what()));
        }
    }
    for (std::size_t i = 0; i < o.values.size(); ++i)
        for (std::size_t j = 0; j < i; ++j)
            if (o.values[i] == o.values[j])
                throw InputError("command line", "--values", fmt::format("'{}' is given twice", o.values[i]));

    fs::create_directories(o.out_dir);
    Study study;
    study.workflow_name = base.name;
    study.setting = s.name;
    study.unit = s.unit;
    study.reference = o.values.back();
    study.tolerance = o.tolerance;
    // --cache, else the workflow's own `cache:`, else one beside the study's run folders.
    const fs::path cache = o.cache ? *o.cache : base.cache ? *base.cache : o.out_dir / "cache.sqlite";
    for (std::size_t i = 0; i < specs.size(); ++i) {
        Point p;
        p.value = o.values[i];
        p.run_dir = o.out_dir / folder_for(s.name, i, p.value);
        log << fmt::format("convergence {} = {}{}: run folder {}\n", s.name, p.value, s.unit.empty() ? "" : " " + s.unit,
                           p.run_dir.string());
        log.flush();
        engine::RunOptions opt{p.run_dir, o.cores, o.quiet, cache};
        opt.executor = o.executor;
        opt.cluster_profile = o.cluster_profile;
        const auto summary = run_workflow(specs[i], opt, log);
        p.ok = summary.ok();
        p.state = summary.interrupted ? "interrupted" : p.ok ? "done" : "incomplete";
        if (summary.interrupted) {
            study.interrupted = true;
            study.points.push_back(p);
            break;
        }
        if (p.ok) {
            engine::RunStore store(p.run_dir, engine::RunStore::Access::ReadOnly);
            const auto r = collect_results(store);
            p.protocol = r.protocol;
            for (const auto& h : r.hosts) p.binding_energies.emplace_back(h.host, h.binding_energy);
            for (const auto& pr : r.pairs)
                p.delta_e.emplace_back(fmt::format("{} − {}{}", pr.a, pr.b, pr.in_situ ? " (in situ)" : ""), pr.delta_e);
        }
        log << fmt::format("convergence {} = {}: {} ({} tasks, {} reused, {:.2f} s)\n", s.name, p.value,
                           p.ok ? "done" : "incomplete", summary.total, summary.reused, summary.wall_seconds);
        study.points.push_back(std::move(p));
    }
    compare(study);
    write_text(o.out_dir / "convergence.json", study_json(study).dump(2) + "\n");
    write_text(o.out_dir / "convergence.csv", study_csv(study));
    return study;
}

std::string format_study(const Study& st) {
    std::vector<std::string> columns;
    const auto add = [&columns](const std::string& c) {
        if (std::find(columns.begin(), columns.end(), c) == columns.end()) columns.push_back(c);
    };
    for (const auto& p : st.points) {
        for (const auto& [h, v] : p.binding_energies) add("E_b " + h);
        for (const auto& [pr, v] : p.delta_e) add("ΔE " + pr);
    }
    const auto value_of = [](const Point& p, const std::string& column) -> std::optional<double> {
        for (const auto& [h, v] : p.binding_energies)
            if ("E_b " + h == column) return v;
        for (const auto& [pr, v] : p.delta_e)
            if ("ΔE " + pr == column) return v;
        return std::nullopt;
    };
    std::string out = fmt::format("convergence of '{}' in {}: energies in eV, reference = the last value ({})\n",
                                  st.setting, st.workflow_name, st.reference);
    if (!st.points.empty() && !st.points.front().protocol.empty())
        out += fmt::format("protocol of the first value: {}\n", st.points.front().protocol);
    const std::string head = st.setting + (st.unit.empty() ? "" : " (" + st.unit + ")");
    std::size_t w0 = std::max<std::size_t>(head.size(), 8);
    for (const auto& p : st.points) w0 = std::max(w0, p.value.size());
    out += fmt::format("{:<{}}", head, w0);
    std::vector<std::size_t> widths;
    for (const auto& c : columns) {
        widths.push_back(std::max<std::size_t>(display_width(c), 10));
        out += fmt::format("  {:>{}}", c, widths.back() + (c.size() - display_width(c)));
    }
    out += fmt::format("  {:>12}\n", "max |dev|");
    for (const auto& p : st.points) {
        out += fmt::format("{:<{}}", p.value, w0);
        for (std::size_t i = 0; i < columns.size(); ++i) {
            const auto v = value_of(p, columns[i]);
            out += v ? fmt::format("  {:>{}.4f}", *v, widths[i]) : fmt::format("  {:>{}}", p.ok ? "—" : p.state, widths[i]);
        }
        out += std::isfinite(p.max_deviation) ? fmt::format("  {:>12.4f}", p.max_deviation) : fmt::format("  {:>12}", "—");
        out += "\n";
    }
    if (st.interrupted)
        out += "interrupted: run the same command again to continue (finished tasks are reused)\n";
    else if (st.points.empty() || !st.points.back().ok || st.points.back().value != st.reference)
        out += "the reference (last value) did not finish: nothing to compare against\n";
    else if (st.converged_from)
        out += fmt::format("within {} eV of the reference from {} = {}{} on\n", st.tolerance, st.setting,
                           *st.converged_from, st.converged_from == st.points.back().value ? " (only the reference itself: tighten further to show convergence)" : "");
    else
        out += fmt::format("no value before the reference is within {} eV of it\n", st.tolerance);
    return out;
}

nlohmann::json study_json(const Study& st) {
    nlohmann::json j{{"workflow", st.workflow_name}, {"setting", st.setting}, {"unit", st.unit},
                     {"tolerance_eV", st.tolerance}, {"interrupted", st.interrupted},
                     {"reference", st.reference},
                     {"converged_from", st.converged_from ? nlohmann::json(*st.converged_from) : nlohmann::json()}};
    j["points"] = nlohmann::json::array();
    for (const auto& p : st.points) {
        nlohmann::json e{{"value", p.value}, {"run_dir", p.run_dir.string()}, {"ok", p.ok}, {"state", p.state}};
        e["protocol"] = p.protocol.empty() ? nlohmann::json() : nlohmann::json::parse(p.protocol, nullptr, false);
        e["binding_energy_eV"] = nlohmann::json::object();
        for (const auto& [h, v] : p.binding_energies) e["binding_energy_eV"][h] = v;
        e["delta_e_eV"] = nlohmann::json::object();
        for (const auto& [pr, v] : p.delta_e) e["delta_e_eV"][pr] = v;
        e["max_deviation_eV"] = std::isfinite(p.max_deviation) ? nlohmann::json(p.max_deviation) : nlohmann::json();
        j["points"].push_back(std::move(e));
    }
    return j;
}

std::string study_csv(const Study& st) {
    std::string out = "setting,value,quantity,name,energy_eV,deviation_from_reference_eV\n";
    const auto quote = [](const std::string& s) {
        std::string e = "\"";
        for (char c : s) {
            if (c == '"') e += '"';
            e += c;
        }
        return e + "\"";
    };
    const Point* ref =
        !st.points.empty() && st.points.back().ok && st.points.back().value == st.reference ? &st.points.back() : nullptr;
    using Numbers = std::vector<std::pair<std::string, double>>;
    const auto ref_of = [ref](Numbers Point::*member, const std::string& name) -> std::optional<double> {
        if (!ref) return std::nullopt;
        for (const auto& [n, v] : ref->*member)
            if (n == name) return v;
        return std::nullopt;
    };
    for (const auto& p : st.points) {
        for (const auto& [h, v] : p.binding_energies) {
            const auto r = ref_of(&Point::binding_energies, h);
            out += fmt::format("{},{},binding_energy,{},{:.6f},{}\n", st.setting, quote(p.value), quote(h), v,
                               r ? fmt::format("{:.6f}", v - *r) : "");
        }
        for (const auto& [pr, v] : p.delta_e) {
            const auto r = ref_of(&Point::delta_e, pr);
            out += fmt::format("{},{},delta_e,{},{:.6f},{}\n", st.setting, quote(p.value), quote(pr), v,
                               r ? fmt::format("{:.6f}", v - *r) : "");
        }
    }
    return out;
}

}  // namespace interphase::workflows::convergence
