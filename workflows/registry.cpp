// The one place where workflow kinds and result sections are registered: one line each
// (docs/extending.md).
// Registering a workflow kind also registers its task kinds with the engine.
#include <set>

#include "workflows/binding_energy/binding_energy.hpp"
#include "workflows/binding_energy/results.hpp"
#include "workflows/calculation/calculation.hpp"
#include "workflows/neb/neb_tasks.hpp"
#include "workflows/neb/neb_workflow.hpp"
#include "workflows/neb/results.hpp"
#include "workflows/results_section.hpp"
#include "workflows/structure_tasks.hpp"
#include "workflows/workflow_kind.hpp"

namespace interphase::workflows {

WorkflowKindRegistry::WorkflowKindRegistry() : Registry<WorkflowKind>("workflow") {
    add(binding_energy::workflow_kind());
    add(calculation::workflow_kind());
    add(neb::workflow_kind());

    // Task kinds shared by several workflow kinds, then each kind's own.
    auto& tasks = engine::TaskKindRegistry::instance();
    tasks.add(build_bulk_kind());
    tasks.add(neb::build_neb_path_kind());
    tasks.add(neb::neb_kind());
    for (const auto& kind : entries())
        for (auto& task_kind : kind.task_kinds()) tasks.add(std::move(task_kind));
}

WorkflowKindRegistry& WorkflowKindRegistry::instance() {
    static WorkflowKindRegistry registry;
    return registry;
}

// What a run reports, one line per section, in the order of the printed table.
ResultSectionRegistry::ResultSectionRegistry() : Registry<ResultSection>("result section") {
    add(binding_energy::results_section());
    add(neb::results_section());
}

ResultSectionRegistry& ResultSectionRegistry::instance() {
    static ResultSectionRegistry registry;
    return registry;
}

std::vector<std::string> WorkflowKindRegistry::all_keys() const {
    std::vector<std::string> keys;
    std::set<std::string> seen;
    for (const auto& kind : entries())
        for (const auto& k : kind.keys)
            if (seen.insert(k).second) keys.push_back(k);
    return keys;
}

}  // namespace interphase::workflows

namespace interphase::workflows {

void register_kinds() { (void)WorkflowKindRegistry::instance(); }

namespace {
// Any program that links the workflows library has every task kind registered before main().
const bool registered = (register_kinds(), true);
}  // namespace

}  // namespace interphase::workflows
