#include "engine/task_kind.hpp"

#include <fmt/format.h>

#include "common/errors.hpp"
#include "engine/user_tasks.hpp"

namespace interphase::engine {

const nlohmann::json& task_input(const Inputs& inputs, const std::string& role, const Task& task) {
    auto it = inputs.find(role);
    if (it == inputs.end()) throw Error(fmt::format("task '{}' is missing its input '{}'", task.name, role));
    return it->second;
}

structures::Structure output_structure(const nlohmann::json& output, const std::string& what) {
    if (!output.contains("structure")) throw Error(what + " produced no structure");
    return structures::structure_from_json(output.at("structure"), what);
}

// The engine's own kinds, one line each; workflow kinds add theirs (workflows/registry.cpp).
TaskKindRegistry::TaskKindRegistry() : Registry<TaskKind>("task kind") {
    add({kinds::kCalculation, "one single point or relaxation by the workflow's calculator", TaskKind::Runs::Calculation,
         nullptr, nullptr, true, true, std::vector<std::string>{"energy_eV", "ionic_steps"}, nullptr, nullptr});
    add(expression_task_kind());
    add(aggregate_task_kind());
}

TaskKindRegistry& TaskKindRegistry::instance() {
    static TaskKindRegistry registry;
    return registry;
}

const TaskKind& TaskKindRegistry::of(const Task& task) const {
    return at(task.kind, task.name, "kind");
}

nlohmann::json run_in_process(const Task& task, const Inputs& inputs) {
    const TaskKind& kind = TaskKindRegistry::instance().of(task);
    if (kind.runs != TaskKind::Runs::InProcess || !kind.run)
        throw Error(fmt::format("task '{}': kind '{}' does not run in the engine's process", task.name, task.kind));
    return kind.run(task, inputs);
}

std::vector<std::string> grow(TaskGraph& graph, const Task& finished, const nlohmann::json& output) {
    const TaskKind& kind = TaskKindRegistry::instance().of(finished);
    return kind.grow ? kind.grow(graph, finished, output) : std::vector<std::string>{};
}

bool grows_graph(const std::string& kind) {
    const auto* k = TaskKindRegistry::instance().find(kind);
    return k && k->grow;
}

}  // namespace interphase::engine
