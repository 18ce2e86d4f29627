#include "workflows/run.hpp"

#include <fmt/format.h>
#include <fstream>
#include <optional>
#include <sstream>

#include "common/errors.hpp"
#include "engine/store.hpp"
#include "workflows/results.hpp"

namespace interphase::workflows {

namespace fs = std::filesystem;

fs::path default_run_dir(const WorkflowSpec& spec) { return engine::default_run_dir(spec.name); }

engine::RunPlan plan_of(const WorkflowSpec& spec) {
    return {spec, expand_workflow(spec),
            [](const engine::RunStore& store, const fs::path& results_h5, const std::function<bool()>& interrupted) {
                const auto results = collect_results(store, interrupted);
                write_results_h5(results_h5, results, interrupted);
                return format_table(results);
            }};
}

engine::RunSummary run_workflow(const WorkflowSpec& spec, const engine::RunOptions& options, std::ostream& log) {
    return engine::run_graph(plan_of(spec), options, log);
}

engine::RunSummary resume_run(const fs::path& run_dir, const engine::RunOptions& options, std::ostream& log) {
    if (!engine::RunStore::exists(run_dir))
        throw InputError(run_dir.string(), "", "not an Interphase run folder (no state.sqlite)");
    std::string source;
    std::optional<std::string> stored_protocol;
    {
        engine::RunStore store(run_dir);
        source = store.meta("workflow_source").value_or((run_dir / "workflow.yaml").string());
        stored_protocol = store.meta("protocol");
    }
    const fs::path copy = run_dir / "workflow.yaml";
    std::ifstream in(copy);
    if (!in) throw InputError(run_dir.string(), "", "the run folder has no workflow.yaml copy to resume from");
    std::stringstream ss;
    ss << in.rdbuf();
    if (ss.str().empty())
        throw InputError(copy.string(), "", fmt::format("the run folder's copy of the workflow ({}) is empty", source));
    WorkflowSpec spec;
    try {
        spec = parse_workflow(ss.str(), source, run_dir / "inputs");
    } catch (const Error& e) {
        throw InputError(copy.string(), "", fmt::format("the run folder's copy of {} does not load: {}", source, e.what()));
    }
    // A resumed run keeps the protocol it started with, setting by setting: a named protocol
    // ("fast"...) may have been redefined by a newer Interphase (docs/protocols.md), and the
    // finished tasks were computed with the old definition. `run` with the workflow file takes
    // the current definition.
    if (stored_protocol) {
        const auto j = nlohmann::json::parse(*stored_protocol, nullptr, false);
        if (j.is_object()) {
            try {
                spec.protocol = plugins::Protocol::from_json(j, (run_dir / "state.sqlite").string() + " (meta protocol)");
            } catch (const InputError& e) {
                // Not loadable by this version: the workflow copy's protocol, as written — said,
                // because the tasks still to run may then differ from the finished ones.
                log << fmt::format("warning: the protocol this run started with does not load ({}); the workflow "
                                   "copy's protocol is used for the tasks still to run\n",
                                   e.what());
            }
        } else {
            log << fmt::format("warning: the protocol stored in {} is not a JSON object; the workflow copy's protocol is "
                               "used for the tasks still to run\n",
                               (run_dir / "state.sqlite").string());
        }
    }
    engine::RunOptions opt = options;
    opt.run_dir = fs::absolute(run_dir).lexically_normal();
    return engine::run_graph(plan_of(spec), opt, log);
}

}  // namespace interphase::workflows
