#include "engine/graph.hpp"

#include <algorithm>
#include <fmt/format.h>
#include <functional>
#include <set>

#include "common/errors.hpp"

namespace interphase::engine {

Task& TaskGraph::add(Task task) {
    if (index_.count(task.name)) throw Error(fmt::format("task '{}' defined twice", task.name));
    index_[task.name] = tasks_.size();
    tasks_.push_back(std::move(task));
    return tasks_.back();
}

const Task& TaskGraph::at(const std::string& name) const {
    auto it = index_.find(name);
    if (it == index_.end()) throw Error(fmt::format("no task named '{}'", name));
    return tasks_[it->second];
}

void TaskGraph::add_input(const std::string& task, const std::string& role, const std::string& producer) {
    auto it = index_.find(task);
    if (it == index_.end()) throw Error(fmt::format("no task named '{}'", task));
    if (!index_.count(producer))
        throw Error(fmt::format("task '{}': input '{}' refers to unknown task '{}'", task, role, producer));
    auto& inputs = tasks_[it->second].inputs;
    if (!inputs.emplace(role, producer).second)
        throw Error(fmt::format("task '{}' already has an input '{}'", task, role));
}

void TaskGraph::validate() const {
    for (const auto& t : tasks_)
        for (const auto& [role, dep] : t.inputs)
            if (!index_.count(dep))
                throw Error(fmt::format("task '{}': input '{}' refers to unknown task '{}'", t.name, role, dep));
    topological_order();  // throws on cycles
}

std::vector<std::string> TaskGraph::topological_order() const {
    // Depth-first with colours; reports the cycle path.
    std::vector<int> colour(tasks_.size(), 0);
    std::vector<std::string> order, stack;
    std::function<void(std::size_t)> visit = [&](std::size_t i) {
        if (colour[i] == 2) return;
        if (colour[i] == 1) {
            auto it = std::find(stack.begin(), stack.end(), tasks_[i].name);
            std::string cycle;
            for (; it != stack.end(); ++it) cycle += *it + " -> ";
            throw Error(fmt::format("task graph has a cycle: {}{}", cycle, tasks_[i].name));
        }
        colour[i] = 1;
        stack.push_back(tasks_[i].name);
        for (const auto& [role, dep] : tasks_[i].inputs) {
            auto it = index_.find(dep);
            if (it != index_.end()) visit(it->second);
        }
        stack.pop_back();
        colour[i] = 2;
        order.push_back(tasks_[i].name);
    };
    for (std::size_t i = 0; i < tasks_.size(); ++i) visit(i);
    return order;
}

std::vector<std::string> TaskGraph::consumers(const std::string& name) const {
    std::vector<std::string> out;
    for (const auto& t : tasks_)
        for (const auto& [role, dep] : t.inputs)
            if (dep == name) { out.push_back(t.name); break; }
    return out;
}

std::string TaskGraph::to_dot(const std::map<std::string, std::string>& state) const {
    static const std::map<std::string, std::string> colours{
        {"done", "palegreen"}, {"running", "lightskyblue"}, {"failed", "salmon"}, {"blocked", "lightgrey"},
        {"pending", "white"}};
    auto quote = [](const std::string& s) {
        std::string q = "\"";
        for (char c : s) { if (c == '"' || c == '\\') q += '\\'; q += c; }
        return q + "\"";
    };
    std::string out = "digraph interphase {\n  rankdir=LR;\n  node [shape=box, style=filled, fillcolor=white];\n";
    for (const auto& t : tasks_) {
        std::string fill = "white";
        if (auto it = state.find(t.name); it != state.end())
            if (auto c = colours.find(it->second); c != colours.end()) fill = c->second;
        const std::string label = quote(t.name);
        out += fmt::format("  {} [label={}\\n{}\", fillcolor={}];\n", label, label.substr(0, label.size() - 1), t.kind, fill);
    }
    for (const auto& t : tasks_)
        for (const auto& [role, dep] : t.inputs)
            out += fmt::format("  {} -> {} [label={}];\n", quote(dep), quote(t.name), quote(role));
    return out + "}\n";
}

}  // namespace interphase::engine
