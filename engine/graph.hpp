// The task graph as plain data (Taskflow's habit: the graph apart from its execution).
// A Task names its kind, its parameters and its inputs — a role (e.g. "structure", "host",
// "site:fcc_hollow") mapped to the name of the task whose output it consumes. The graph can be
// validated (unknown inputs, cycles), ordered and dumped as Graphviz dot.
#pragma once

#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace interphase::engine {

/// The engine's own task kinds (engine/task_kind.hpp); workflow kinds register the others.
namespace kinds {
inline constexpr const char* kCalculation = "calculation";
}  // namespace kinds

/// Longest name a user may give to a workflow, a host or a user task (bytes of UTF-8). Task
/// names are built from them; task folders are bounded separately (runner.hpp).
inline constexpr std::size_t kMaxNameBytes = 100;

struct Task {
    std::string name;                          ///< unique and readable: "Al(111)/slab/relax"
    std::string kind;                          ///< a TaskKindRegistry name (engine/task_kind.hpp)
    nlohmann::json params = nlohmann::json::object();
    std::map<std::string, std::string> inputs; ///< role -> producing task name
};

class TaskGraph {
public:
    /// Adds a task; throws Error if the name is taken.
    Task& add(Task task);
    const Task& at(const std::string& name) const;
    bool contains(const std::string& name) const { return index_.count(name) > 0; }
    /// A deque: references to tasks stay valid while the graph grows.
    const std::deque<Task>& tasks() const noexcept { return tasks_; }
    std::size_t size() const noexcept { return tasks_.size(); }

    /// Adds an input to an existing task (the graph grows at run time); throws Error if the task
    /// is unknown or already has that role.
    void add_input(const std::string& task, const std::string& role, const std::string& producer);

    /// Throws Error naming the task and role for inputs that name no task, and the cycle for cycles.
    void validate() const;
    /// Tasks in an order where every input comes before its consumer (stable: insertion order).
    std::vector<std::string> topological_order() const;
    /// Names of the tasks that consume `name`'s output, directly.
    std::vector<std::string> consumers(const std::string& name) const;
    /// Graphviz dot; `state` optionally colours nodes by task state.
    std::string to_dot(const std::map<std::string, std::string>& state = {}) const;

private:
    std::deque<Task> tasks_;
    std::map<std::string, std::size_t> index_;
};

}  // namespace interphase::engine
