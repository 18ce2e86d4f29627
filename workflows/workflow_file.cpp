#include "workflows/workflow_file.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <yaml-cpp/yaml.h>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "common/yaml_reader.hpp"
#include "structures/io.hpp"
#include "structures/slab.hpp"
#include "workflows/workflow_kind.hpp"
#include "workflows/workflow_reader.hpp"

namespace interphase::workflows {

// Plugin settings and driver options as JSON. Strings must be UTF-8 (JSON's own rule): checked
// here, where the line is known, rather than when the settings are hashed mid-run.
nlohmann::json to_json(const YAML::Node& n, const WorkflowReader& r, const std::string& field) {
    if (n.IsScalar() && !text::is_valid_utf8(n.Scalar()))
        r.fail(n, field, fmt::format("'{}' is not valid UTF-8", text::printable(n.Scalar())));
    if (n.IsMap()) {
        nlohmann::json j = nlohmann::json::object();
        for (const auto& kv : n) {
            const auto key = kv.first.as<std::string>();
            if (!text::is_valid_utf8(key)) r.fail(kv.first, field, fmt::format("key '{}' is not valid UTF-8", text::printable(key)));
            j[key] = to_json(kv.second, r, field + "." + key);
        }
        return j;
    }
    if (n.IsSequence()) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& v : n) j.push_back(to_json(v, r, field));
        return j;
    }
    if (n.IsNull()) return nullptr;
    const std::string s = n.Scalar();
    if (n.Tag() == "!") return s;  // quoted scalar stays a string
    if (s == "true" || s == "True") return true;
    if (s == "false" || s == "False") return false;
    if (auto i = text::parse_int(s)) return *i;
    if (auto d = text::parse_double(s)) return *d;
    return s;
}

std::array<int, 3> read_miller(const WorkflowReader& r, const YAML::Node& n, const std::string& field) {
    std::string text;
    if (n.IsSequence()) {
        for (const auto& v : n) text += (text.empty() ? "" : ",") + std::to_string(r.integer(v, field));
    } else {
        text = r.str(n, field);
    }
    try {
        return structures::parse_miller(text, r.where(n));
    } catch (const InputError& e) {
        r.fail(n, field, e.what());
    }
}

nlohmann::json read_structure_file(const WorkflowReader& r, const YAML::Node& n, const std::string& field,
                                   const InputFiles& files, std::string& source) {
    auto file = std::filesystem::path(r.str(n, field));
    if (file.is_relative()) file = files.base / file;
    // Absolute: the same file is the same source (and the same build-task hash) whether the
    // workflow was named relative to the current folder (run) or from its recorded path (resume).
    file = std::filesystem::absolute(file).lexically_normal();
    source = file.string();
    files.read->push_back(file);
    std::filesystem::path from = file;
    if (!files.copies.empty())
        if (const auto copy = input_copy_path(files.copies, file); std::filesystem::exists(copy)) from = copy;
    try {
        auto s = structures::read_structure(from);
        if (s.title.empty()) s.title = file.stem().string();
        return structures::to_json(s);
    } catch (const Error& e) {
        r.fail(n, field, e.what());
    }
}

// Names reach folders, HDF5 groups, batch scripts and terminals: printable UTF-8, bounded.
void check_name(const WorkflowReader& r, const YAML::Node& n, const std::string& field, const std::string& name) {
    if (const auto why = text::name_problem(name, engine::kMaxNameBytes))
        r.fail(n, field, "'" + text::printable(name) + "' " + *why);
}

WorkflowSpec load_workflow(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) throw InputError(path.string(), "", "cannot open workflow file");
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_workflow(ss.str(), path);
}

WorkflowSpec parse_workflow(const std::string& yaml_text, const std::filesystem::path& source,
                            const std::filesystem::path& input_copies) {
    const WorkflowReader r(source.string());
    const YAML::Node root = yaml::load(yaml_text, source.string());
    if (!root || root.IsNull()) throw InputError(source.string(), "", "the workflow file is empty");
    const auto& kinds = WorkflowKindRegistry::instance();
    std::vector<std::string> keys{"name", "description", "workflow", "calculator", "protocol", "cache", "retries", "tasks"};
    for (const auto& k : kinds.all_keys()) keys.push_back(k);
    r.only_keys(root, "", keys);
    WorkflowSpec spec;
    spec.kind = "binding_energy";
    spec.source = source;
    spec.yaml_text = yaml_text;
    const auto base = source.has_parent_path() ? source.parent_path() : std::filesystem::path(".");
    const InputFiles files{base, input_copies, &spec.input_files};
    spec.input_copies = input_copies;
    spec.name = root["name"] ? r.str(root["name"], "name") : source.stem().string();
    // The name is the default run folder (runs/NAME) and a job name on clusters.
    check_name(r, root["name"] ? root["name"] : root, "name", spec.name);
    if (spec.name.find_first_of("/\\") != std::string::npos || spec.name == "." || spec.name == "..")
        r.fail(root["name"] ? root["name"] : root, "name", fmt::format("'{}' must not be '.', '..' or contain slashes", spec.name));
    if (root["description"]) spec.description = r.str(root["description"], "description");
    if (root["cache"]) {
        const std::filesystem::path c = r.str(root["cache"], "cache");
        if (c.empty()) r.fail(root["cache"], "cache", "must be a file path (the shared result cache)");
        spec.cache = c.is_absolute() ? c : base / c;
    }
    if (const auto& rt = root["retries"]) {
        // `retries: N` (N extra attempts) or {max_attempts: N, on: [reasons]}.
        static const std::vector<std::string> reasons{"killed", "crashed", "truncated_output", "missing_output",
                                                      "scf_not_converged", "geometry_not_converged"};
        if (rt.IsScalar()) {
            spec.retry.max_attempts = 1 + r.integer(rt, "retries");
        } else if (rt.IsMap()) {
            r.only_keys(rt, "retries", {"max_attempts", "on"});
            if (rt["max_attempts"]) spec.retry.max_attempts = r.integer(rt["max_attempts"], "retries.max_attempts");
            if (rt["on"]) {
                if (!rt["on"].IsSequence()) r.fail(rt["on"], "retries.on", "must be a list of failure reasons");
                spec.retry.on.clear();
                for (const auto& x : rt["on"]) {
                    const auto reason = r.str(x, "retries.on");
                    if (std::find(reasons.begin(), reasons.end(), reason) == reasons.end())
                        r.fail(x, "retries.on", text::unknown_name_message("failure reason", reason, reasons));
                    spec.retry.on.push_back(reason);
                }
            }
        } else {
            r.fail(rt, "retries", "must be a number of retries or {max_attempts: N, on: [reasons]}");
        }
        if (spec.retry.max_attempts < 1 || spec.retry.max_attempts > 20)
            r.fail(rt, "retries", "allows 0..19 retries (max_attempts 1..20)");
    }
    if (root["workflow"]) {
        const auto w = r.str(root["workflow"], "workflow");
        if (!kinds.contains(w)) r.fail(root["workflow"], "workflow", text::unknown_name_message("workflow", w, kinds.names()));
        spec.kind = w;
    }
    const WorkflowKind& kind = *kinds.find(spec.kind);
    // Keys of one workflow kind are errors in another.
    for (const auto& other : kinds.entries())
        if (other.name != kind.name)
            for (const auto& k : other.keys)
                if (root[k] && std::find(kind.keys.begin(), kind.keys.end(), k) == kind.keys.end())
                    r.fail(root[k], k, fmt::format("is not a key of a '{}' workflow", spec.kind));

    if (!root["calculator"]) r.fail(root, "calculator", "is required (e.g. calculator: {code: cp2k})");
    const auto& calc = root["calculator"];
    if (!calc.IsMap() || !calc["code"]) r.fail(calc, "calculator", "must be a mapping with 'code'");
    spec.calculator_code = r.str(calc["code"], "calculator.code");
    try {
        plugins::CalculatorRegistry::instance().info(spec.calculator_code, r.where(calc["code"]));
    } catch (const InputError&) {
        r.fail(calc["code"], "calculator.code",
               text::unknown_name_message("calculator", spec.calculator_code, plugins::CalculatorRegistry::instance().names()));
    }
    for (const auto& kv : calc) {
        const auto key = kv.first.as<std::string>();
        if (key == "code") continue;
        if (key == "cores_per_task") {
            spec.cores_per_task = r.integer(kv.second, "calculator.cores_per_task");
            if (spec.cores_per_task < 1) r.fail(kv.second, "calculator.cores_per_task", "must be >= 1");
            continue;
        }
        spec.calculator_config[key] = to_json(kv.second, r, "calculator." + key);
    }
    // Let the plugin validate its own keys now, before anything runs.
    plugins::CalculatorRegistry::instance().create(spec.calculator_code, spec.calculator_config, r.where(calc));

    spec.protocol = plugins::Protocol::from_json(root["protocol"] ? to_json(root["protocol"], r, "protocol") : nlohmann::json("fast"),
                                                 root["protocol"] ? r.where(root["protocol"]) : r.file());
    spec.science = kind.read(r, root, files, spec);
    if (root["tasks"]) spec.user_tasks = engine::read_user_tasks(root["tasks"], r.file());
    return spec;
}

engine::TaskGraph expand_workflow(const WorkflowSpec& spec) {
    const auto* kind = WorkflowKindRegistry::instance().find(spec.kind);
    if (!kind) throw InputError(spec.source.string(), "workflow", "unknown workflow kind '" + spec.kind + "'");
    engine::TaskGraph g = kind->expand(spec);
    engine::add_user_tasks(g, spec.user_tasks);
    g.validate();
    return g;
}

}  // namespace interphase::workflows
