// Workflow kinds: what `workflow:` in a workflow file selects. Each kind lives in its own folder
// (workflows/<kind>/) and owns its keys and their validation, its graph expansion, its task
// kinds and task names, and the results it writes; it registers with one line in
// workflows/registry.cpp. docs/extending.md has the checklist for adding one.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/registry.hpp"
#include "engine/graph.hpp"
#include "engine/task_kind.hpp"
#include "workflows/workflow_file.hpp"
#include "workflows/workflow_reader.hpp"

namespace interphase::workflows {

struct WorkflowKind {
    std::string name;
    std::string description;
    /// The top-level keys this kind reads (a key of another kind is an error in this one).
    std::vector<std::string> keys;
    /// Reads and validates the kind's keys (the shared ones are read already) and returns its
    /// spec; may fill `spec.metadata` and `spec.input_files` (through `files`).
    std::function<std::shared_ptr<const KindSpec>(const WorkflowReader&, const YAML::Node& root, const InputFiles& files,
                                                  WorkflowSpec& spec)>
        read;
    /// The task graph (user tasks are added after it by the caller).
    std::function<engine::TaskGraph(const WorkflowSpec&)> expand;
    /// The task kinds the graph uses beyond the engine's own and the shared ones
    /// (workflows/structure_tasks.hpp, workflows/neb/neb_tasks.hpp).
    std::function<std::vector<engine::TaskKind>()> task_kinds;
};

class WorkflowKindRegistry : public Registry<WorkflowKind> {
public:
    /// Also registers every kind's task kinds with engine::TaskKindRegistry (once).
    static WorkflowKindRegistry& instance();
    /// Every top-level key some workflow kind reads.
    std::vector<std::string> all_keys() const;

private:
    WorkflowKindRegistry();
};

/// Registers every workflow kind and its task kinds (idempotent; also done before main() in any
/// program linking the library). Call it before running a hand-built graph of science kinds.
void register_kinds();

}  // namespace interphase::workflows
