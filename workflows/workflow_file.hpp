// Workflow files: a YAML description of a screening — the shared settings (name, calculator,
// protocol, retries, cache, user tasks) and the keys of one workflow kind (`workflow:`,
// workflows/workflow_kind.hpp) — validated before anything runs (errors name the file, line and
// field) and expanded into a TaskGraph. The reference is docs/workflow.md.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "engine/graph.hpp"
#include "engine/run_settings.hpp"
#include "engine/user_tasks.hpp"

namespace interphase::workflows {

using engine::RetryPolicy;

/// The part of a workflow only its kind understands (e.g. binding_energy::Spec: hosts, pairs,
/// hops); each kind derives its own.
struct KindSpec {
    virtual ~KindSpec() = default;
};

struct WorkflowSpec : engine::RunSettings {
    /// `tasks:` — expressions and aggregates over other tasks' results (engine/user_tasks.hpp).
    std::vector<engine::UserTaskSpec> user_tasks;
    std::shared_ptr<const KindSpec> science;  ///< the kind's own spec

    /// The kind's spec as `T`; throws Error when the workflow is of another kind.
    template <class T>
    const T& as() const {
        if (const auto* p = dynamic_cast<const T*>(science.get())) return *p;
        throw Error("workflow '" + name + "' is a '" + kind + "' workflow");
    }
};

/// Parses and validates a workflow file. Throws ParseError (YAML syntax, with line) or
/// InputError ("FILE:LINE: field 'hosts[0].phase': unknown phase 'Alx'; did you mean 'Al'?").
WorkflowSpec load_workflow(const std::filesystem::path& path);
/// `input_copies` (a run folder's inputs/): read each structure file from its copy there when
/// the copy exists (resume), else from the file itself.
WorkflowSpec parse_workflow(const std::string& yaml_text, const std::filesystem::path& source,
                            const std::filesystem::path& input_copies = {});

/// The task graph of a workflow: its kind's expansion, then the user tasks.
engine::TaskGraph expand_workflow(const WorkflowSpec& spec);

using engine::input_copy_path;

}  // namespace interphase::workflows
