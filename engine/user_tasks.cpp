#include "engine/user_tasks.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <fnmatch.h>
#include <muParser.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <set>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "common/yaml_reader.hpp"
#include "engine/graph.hpp"
#include "engine/task_kind.hpp"

namespace interphase::engine {

namespace {

const std::vector<std::string> kOps{"mean", "min", "max", "sum", "std", "count", "argmin", "argmax"};

std::string where(const std::string& file, const YAML::Node& n) { return yaml::Reader(file).where(n); }

std::string scalar(const std::string& file, const YAML::Node& n, const std::string& field) {
    if (!n.IsScalar()) throw InputError(where(file, n), field, "expected a string");
    if (!text::is_valid_utf8(n.Scalar()))
        throw InputError(where(file, n), field, fmt::format("'{}' is not valid UTF-8", text::printable(n.Scalar())));
    return n.Scalar();
}

bool is_identifier(const std::string& s) {
    if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
    return std::all_of(s.begin(), s.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

bool has_wildcard(const std::string& p) { return p.find_first_of("*?[") != std::string::npos; }

// "TASK:FIELD" (split at the last ':') or {task: TASK, field: FIELD}.
ValueReference read_reference(const std::string& file, const YAML::Node& n, const std::string& field) {
    ValueReference ref;
    ref.where = where(file, n);
    if (n.IsMap()) {
        for (const auto& kv : n) {
            const auto key = kv.first.as<std::string>();
            if (key != "task" && key != "field")
                throw InputError(where(file, kv.first), field + "." + key,
                                 text::unknown_name_message("key", key, {"task", "field"}));
        }
        if (!n["task"] || !n["field"]) throw InputError(ref.where, field, "needs 'task' and 'field'");
        ref.task = scalar(file, n["task"], field + ".task");
        ref.field = scalar(file, n["field"], field + ".field");
    } else {
        const auto text = scalar(file, n, field);
        const auto colon = text.rfind(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
            throw InputError(ref.where, field,
                             fmt::format("'{}' is not TASK:FIELD (e.g. 'Al(111)/binding_energy:binding_energy')", text));
        ref.task = text.substr(0, colon);
        ref.field = text.substr(colon + 1);
    }
    return ref;
}

// Checks the formula with muParser: it parses and uses exactly the declared variables.
void check_expression(const UserTaskSpec& t) {
    mu::Parser parser;
    std::map<std::string, double> values;
    for (const auto& [name, ref] : t.variables) values[name] = 1.0;
    try {
        for (auto& [name, v] : values) parser.DefineVar(name, &v);
        parser.SetExpr(t.expression);
        const auto used = parser.GetUsedVar();  // parses the whole formula
        for (const auto& [name, ref] : t.variables)
            if (!used.count(name))
                throw InputError(ref.where, t.field_prefix + ".variables." + name,
                                 fmt::format("variable '{}' is not used in the expression '{}'", name, t.expression));
        parser.Eval();
    } catch (const mu::Parser::exception_type& e) {
        std::string msg = e.GetMsg();
        const auto token = e.GetToken();
        if (e.GetCode() == mu::ecUNASSIGNABLE_TOKEN && is_identifier(token)) {
            std::vector<std::string> declared;
            for (const auto& [name, ref] : t.variables) declared.push_back(name);
            msg = fmt::format("'{}' is not a declared variable (declare it under 'variables:' as {}: TASK:FIELD)",
                              token, token);
            if (!declared.empty()) msg += "; declared: " + fmt::format("{}", fmt::join(declared, ", "));
        }
        throw InputError(t.expression_where, t.field_prefix + ".expression",
                         fmt::format("cannot evaluate '{}': {}", t.expression, msg));
    }
}

double number_at(const nlohmann::json& output, const std::string& field, const std::string& task) {
    const nlohmann::json* v = nullptr;
    if (!field.empty() && field[0] == '/') {
        const nlohmann::json::json_pointer ptr(field);
        if (output.contains(ptr)) v = &output.at(ptr);
    } else if (output.contains(field)) {
        v = &output.at(field);
    }
    if (!v) throw Error(fmt::format("task '{}' has no output field '{}'", task, field));
    if (!v->is_number()) throw Error(fmt::format("output '{}' of task '{}' is not a number: {}", field, task, v->dump()));
    return v->get<double>();
}

}  // namespace

const std::vector<std::string>* numeric_fields_of(const std::string& kind) {
    const auto* k = TaskKindRegistry::instance().find(kind);
    return k && k->numeric_fields ? &*k->numeric_fields : nullptr;
}

bool is_user_task_kind(const std::string& kind) { return kind == kinds::kExpression || kind == kinds::kAggregate; }

std::vector<UserTaskSpec> read_user_tasks(const YAML::Node& node, const std::string& file) {
    if (!node.IsSequence()) throw InputError(where(file, node), "tasks", "must be a list of tasks");
    std::vector<UserTaskSpec> out;
    for (std::size_t i = 0; i < node.size(); ++i) {
        const auto& n = node[i];
        UserTaskSpec t;
        t.field_prefix = fmt::format("tasks[{}]", i);
        t.where = where(file, n);
        if (!n.IsMap()) throw InputError(t.where, t.field_prefix, "must be a mapping with 'name' and 'kind'");
        if (!n["kind"]) throw InputError(t.where, t.field_prefix + ".kind", "is required (expression or aggregate)");
        t.kind = scalar(file, n["kind"], t.field_prefix + ".kind");
        if (!is_user_task_kind(t.kind))
            throw InputError(where(file, n["kind"]), t.field_prefix + ".kind",
                             text::unknown_name_message("task kind", t.kind, {kinds::kExpression, kinds::kAggregate}));
        const std::vector<std::string> allowed =
            t.kind == kinds::kExpression
                ? std::vector<std::string>{"name", "kind", "description", "unit", "expression", "variables"}
                : std::vector<std::string>{"name", "kind", "description", "unit", "over", "field", "op"};
        for (const auto& kv : n) {
            const auto key = kv.first.as<std::string>();
            if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
                throw InputError(where(file, kv.first), t.field_prefix + "." + key,
                                 text::unknown_name_message(fmt::format("key of an {} task", t.kind), key, allowed));
        }
        if (!n["name"]) throw InputError(t.where, t.field_prefix + ".name", "is required");
        t.name = scalar(file, n["name"], t.field_prefix + ".name");
        if (const auto why = text::name_problem(t.name, kMaxNameBytes))
            throw InputError(where(file, n["name"]), t.field_prefix + ".name", "'" + text::printable(t.name) + "' " + *why);
        if (t.name.empty() || t.name.find('|') != std::string::npos || has_wildcard(t.name) ||
            t.name.find(':') != std::string::npos)
            throw InputError(where(file, n["name"]), t.field_prefix + ".name",
                             fmt::format("'{}': a task name must be non-empty without '|', ':', '*', '?' or '['", t.name));
        if (n["description"]) t.description = scalar(file, n["description"], t.field_prefix + ".description");
        if (n["unit"]) t.unit = scalar(file, n["unit"], t.field_prefix + ".unit");
        if (t.kind == kinds::kExpression) {
            if (!n["expression"]) throw InputError(t.where, t.field_prefix + ".expression", "is required");
            t.expression = scalar(file, n["expression"], t.field_prefix + ".expression");
            t.expression_where = where(file, n["expression"]);
            const auto& vars = n["variables"];
            if (vars && !vars.IsMap())
                throw InputError(where(file, vars), t.field_prefix + ".variables", "must map variable names to TASK:FIELD");
            if (vars)
                for (const auto& kv : vars) {
                    const auto name = kv.first.as<std::string>();
                    const auto f = t.field_prefix + ".variables." + name;
                    if (!is_identifier(name))
                        throw InputError(where(file, kv.first), f, fmt::format("'{}' is not a variable name (letters, digits, _)", name));
                    t.variables[name] = read_reference(file, kv.second, f);
                }
        } else {
            if (!n["over"]) throw InputError(t.where, t.field_prefix + ".over", "is required (task names or patterns)");
            t.over_where = where(file, n["over"]);
            if (n["over"].IsSequence()) {
                for (const auto& p : n["over"]) t.over.push_back(scalar(file, p, t.field_prefix + ".over"));
            } else {
                t.over.push_back(scalar(file, n["over"], t.field_prefix + ".over"));
            }
            if (t.over.empty()) throw InputError(t.over_where, t.field_prefix + ".over", "is an empty list");
            if (!n["field"]) throw InputError(t.where, t.field_prefix + ".field", "is required (the output field aggregated)");
            t.field = scalar(file, n["field"], t.field_prefix + ".field");
            t.field_where = where(file, n["field"]);
            if (n["op"]) {
                t.op = scalar(file, n["op"], t.field_prefix + ".op");
                if (std::find(kOps.begin(), kOps.end(), t.op) == kOps.end())
                    throw InputError(where(file, n["op"]), t.field_prefix + ".op", text::unknown_name_message("op", t.op, kOps));
            }
        }
        out.push_back(std::move(t));
    }
    return out;
}

void add_user_tasks(TaskGraph& graph, const std::vector<UserTaskSpec>& tasks) {
    // Names first: user tasks may consume each other in any order of the file.
    std::map<std::string, const UserTaskSpec*> user;
    for (const auto& t : tasks) {
        if (graph.contains(t.name))
            throw InputError(t.where, t.field_prefix + ".name",
                             fmt::format("'{}' is already the name of a task of the workflow", t.name));
        if (!user.emplace(t.name, &t).second)
            throw InputError(t.where, t.field_prefix + ".name", fmt::format("task name '{}' used twice", t.name));
    }
    auto kind_of = [&](const std::string& name) -> std::string {
        if (user.count(name)) return user.at(name)->kind;
        return graph.at(name).kind;
    };
    auto all_names = [&] {
        std::vector<std::string> names;
        for (const auto& g : graph.tasks()) names.push_back(g.name);
        for (const auto& [n, t] : user) names.push_back(n);
        return names;
    };
    auto check_field = [&](const std::string& task, const std::string& field, const std::string& at, const std::string& f) {
        if (!field.empty() && field[0] == '/') return;  // a JSON pointer into the output: checked when it runs
        const auto kind = kind_of(task);
        const auto* numeric = numeric_fields_of(kind);
        if (!numeric || std::find(numeric->begin(), numeric->end(), field) != numeric->end()) return;
        if (numeric->empty())
            throw InputError(at, f, fmt::format("task '{}' ({}) produces no numbers", task, kind));
        throw InputError(at, f,
                         fmt::format("task '{}' ({}) has no numeric output '{}' (numeric outputs: {})", task, kind, field,
                                     fmt::join(*numeric, ", ")));
    };

    // References and patterns, resolved to producer names.
    std::map<std::string, std::vector<std::string>> deps;  // user task -> producers
    std::vector<Task> resolved;
    for (const auto& t : tasks) {
        Task task{t.name, t.kind, nlohmann::json::object(), {}};
        task.params["description"] = t.description;
        task.params["unit"] = t.unit;
        if (t.kind == kinds::kExpression) {
            check_expression(t);
            task.params["expression"] = t.expression;
            for (const auto& [var, ref] : t.variables) {
                const auto f = t.field_prefix + ".variables." + var;
                if (!graph.contains(ref.task) && !user.count(ref.task))
                    throw InputError(ref.where, f, text::unknown_name_message("task", ref.task, all_names()));
                if (ref.task == t.name) throw InputError(ref.where, f, fmt::format("task '{}' uses its own value", t.name));
                check_field(ref.task, ref.field, ref.where, f);
                task.params["variables"][var] = {{"task", ref.task}, {"field", ref.field}};
                task.inputs["var:" + var] = ref.task;
                deps[t.name].push_back(ref.task);
            }
        } else {
            std::vector<std::string> members;
            for (const auto& pattern : t.over) {
                std::size_t matched = 0;
                for (const auto& name : all_names()) {
                    const bool hit = has_wildcard(pattern) ? ::fnmatch(pattern.c_str(), name.c_str(), 0) == 0 : name == pattern;
                    if (!hit || name == t.name) continue;
                    ++matched;
                    if (std::find(members.begin(), members.end(), name) == members.end()) members.push_back(name);
                }
                if (matched == 0)
                    throw InputError(t.over_where, t.field_prefix + ".over",
                                     has_wildcard(pattern)
                                         ? fmt::format("the pattern '{}' matches no task", pattern)
                                         : text::unknown_name_message("task", pattern, all_names()));
            }
            for (const auto& m : members) check_field(m, t.field, t.field_where, t.field_prefix + ".field");
            task.params["op"] = t.op;
            task.params["field"] = t.field;
            task.params["members"] = members;
            for (const auto& m : members) {
                task.inputs["member:" + m] = m;
                deps[t.name].push_back(m);
            }
        }
        resolved.push_back(std::move(task));
    }

    // Cycles among user tasks (generated tasks never consume user tasks).
    std::map<std::string, int> mark;  // 0 new, 1 on the stack, 2 done
    std::vector<std::string> stack;
    std::function<void(const std::string&)> visit = [&](const std::string& name) {
        mark[name] = 1;
        stack.push_back(name);
        for (const auto& d : deps[name]) {
            if (!user.count(d)) continue;
            if (mark[d] == 1) {
                const auto from = std::find(stack.begin(), stack.end(), d);
                std::vector<std::string> cycle(from, stack.end());
                cycle.push_back(d);
                const auto* spec = user.at(d);
                throw InputError(spec->where, spec->field_prefix,
                                 fmt::format("the tasks form a cycle: {}", fmt::join(cycle, " -> ")));
            }
            if (mark[d] == 0) visit(d);
        }
        stack.pop_back();
        mark[name] = 2;
    };
    for (const auto& t : tasks)
        if (mark[t.name] == 0) visit(t.name);

    for (auto& task : resolved) graph.add(std::move(task));
}

nlohmann::json run_user_task(const Task& t, const Inputs& in) {
    const std::string unit = t.params.value("unit", "");
    if (t.kind == kinds::kExpression) {
        mu::Parser parser;
        std::map<std::string, double> values;
        nlohmann::json vars = nlohmann::json::object();
        const nlohmann::json variables = t.params.value("variables", nlohmann::json::object());
        for (const auto& [var, ref] : variables.items()) {
            const auto task = ref.at("task").get<std::string>();
            const auto field = ref.at("field").get<std::string>();
            const auto it = in.find("var:" + var);
            if (it == in.end()) throw Error(fmt::format("task '{}' is missing its input '{}'", t.name, var));
            values[var] = number_at(it->second, field, task);
            vars[var] = {{"task", task}, {"field", field}, {"value", values[var]}};
        }
        double value = 0;
        try {
            for (auto& [var, v] : values) parser.DefineVar(var, &v);
            parser.SetExpr(t.params.at("expression").get<std::string>());
            value = parser.Eval();
        } catch (const mu::Parser::exception_type& e) {
            throw Error(fmt::format("task '{}': cannot evaluate '{}': {}", t.name, e.GetExpr(), e.GetMsg()));
        }
        if (!std::isfinite(value))
            throw Error(fmt::format("task '{}': '{}' is not finite ({}) for {}", t.name, t.params.at("expression").get<std::string>(),
                                    value, vars.dump()));
        return {{"value", value}, {"unit", unit}, {"expression", t.params.at("expression")}, {"variables", vars}};
    }
    if (t.kind == kinds::kAggregate) {
        const auto op = t.params.at("op").get<std::string>();
        const auto field = t.params.at("field").get<std::string>();
        nlohmann::json members = nlohmann::json::array();
        std::vector<std::pair<double, std::string>> xs;
        for (const auto& m : t.params.at("members")) {
            const auto name = m.get<std::string>();
            const auto it = in.find("member:" + name);
            if (it == in.end()) throw Error(fmt::format("task '{}' is missing its input '{}'", t.name, name));
            xs.emplace_back(number_at(it->second, field, name), name);
            members.push_back({{"task", name}, {"value", xs.back().first}});
        }
        if (xs.empty()) throw Error(fmt::format("task '{}': nothing to aggregate", t.name));
        const double n = static_cast<double>(xs.size());
        double sum = 0;
        for (const auto& x : xs) sum += x.first;
        const auto [lo, hi] = std::minmax_element(xs.begin(), xs.end());
        nlohmann::json out{{"op", op}, {"field", field}, {"count", xs.size()}, {"unit", unit}, {"members", members}};
        if (op == "mean") out["value"] = sum / n;
        else if (op == "sum") out["value"] = sum;
        else if (op == "count") out["value"] = n;
        else if (op == "min" || op == "argmin") out["value"] = lo->first;
        else if (op == "max" || op == "argmax") out["value"] = hi->first;
        else if (op == "std") {
            double ss = 0;
            for (const auto& x : xs) ss += (x.first - sum / n) * (x.first - sum / n);
            out["value"] = std::sqrt(ss / n);  // population standard deviation
        } else {
            throw Error(fmt::format("task '{}': unknown op '{}'", t.name, op));
        }
        if (op == "argmin") out["task"] = lo->second;
        if (op == "argmax") out["task"] = hi->second;
        return out;
    }
    throw InputError(t.name, "kind", fmt::format("'{}' is not a user task kind", t.kind));
}

}  // namespace interphase::engine

namespace interphase::engine {

TaskKind expression_task_kind() {
    TaskKind k;
    k.name = kinds::kExpression;
    k.description = "a formula (muParser) over numbers produced by other tasks (`tasks:`)";
    k.run = run_user_task;
    k.numeric_fields = std::vector<std::string>{"value"};
    return k;
}

TaskKind aggregate_task_kind() {
    TaskKind k;
    k.name = kinds::kAggregate;
    k.description = "a statistic of one output field over tasks chosen by name patterns (`tasks:`)";
    k.run = run_user_task;
    k.numeric_fields = std::vector<std::string>{"value", "count"};
    return k;
}

}  // namespace interphase::engine
