// User tasks: the `tasks:` section of a workflow file adds tasks of two kinds to the generated
// graph —
//   expression  a formula over numbers produced by other tasks (muParser syntax:
//               + - * / ^, parentheses, abs, sqrt, exp, log, min, max, sum, avg, ...),
//   aggregate   one statistic (mean, min, max, sum, std, count, argmin, argmax) of one field over
//               a set of tasks chosen by name patterns ("*/binding_energy").
// Both may consume each other. Everything is checked before anything runs, against the expanded
// graph: unknown tasks (with a suggestion), fields that a task kind does not produce or that
// are not numbers, formulas that do not parse or use undeclared variables, patterns that match
// nothing, name clashes and cycles — each error names the file, the line and the field.
// The reference is docs/workflow.md, section "User tasks".
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace interphase::engine {

class TaskGraph;
struct Task;
using Inputs = std::map<std::string, nlohmann::json>;

namespace kinds {
inline constexpr const char* kExpression = "expression";
inline constexpr const char* kAggregate = "aggregate";
}  // namespace kinds

/// "TASK:FIELD" — a number in the output of another task.
struct ValueReference {
    std::string task;
    std::string field;
    std::string where;  ///< "FILE:LINE" of the reference in the workflow file
};

struct UserTaskSpec {
    std::string name;
    std::string kind;                                  ///< kinds::kExpression | kinds::kAggregate
    std::string description;
    std::string unit;                                  ///< free text, written to results.h5
    std::string where;                                 ///< "FILE:LINE" of the task
    std::string field_prefix;                          ///< "tasks[3]"
    // expression
    std::string expression;
    std::string expression_where;
    std::map<std::string, ValueReference> variables;   ///< variable name -> value
    // aggregate
    std::vector<std::string> over;                     ///< task names or glob patterns (* ?)
    std::string over_where;
    std::string field;                                 ///< the output field aggregated
    std::string field_where;
    std::string op = "mean";
};

/// Reads the `tasks:` list (syntax only; references are checked by add_user_tasks).
std::vector<UserTaskSpec> read_user_tasks(const YAML::Node& node, const std::string& file);

/// Checks the user tasks against the expanded graph and adds them (see the file comment).
void add_user_tasks(TaskGraph& graph, const std::vector<UserTaskSpec>& tasks);

bool is_user_task_kind(const std::string& kind);
/// Evaluates an expression or aggregate task from its inputs' outputs.
nlohmann::json run_user_task(const Task& task, const Inputs& inputs);

struct TaskKind;
/// The registry entries of the two kinds (engine/task_kind.cpp registers them).
TaskKind expression_task_kind();
TaskKind aggregate_task_kind();

/// The numeric output fields a task kind declares (TaskKind::numeric_fields); nullptr for kinds
/// that declare none or are unknown (checked when the task runs). The type check before a run.
const std::vector<std::string>* numeric_fields_of(const std::string& kind);

}  // namespace interphase::engine
