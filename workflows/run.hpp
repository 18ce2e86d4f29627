// Running a workflow file: its kind expands the graph, the engine runs it (engine/runner.hpp),
// the results are written to RUN_DIR/results.h5 (workflows/results.hpp). `resume` reads the
// workflow copy the run folder keeps.
#pragma once

#include <filesystem>
#include <iosfwd>

#include "engine/runner.hpp"
#include "workflows/workflow_file.hpp"

namespace interphase::workflows {

/// The run folder used when none is given: "runs/<workflow name>" under the current directory.
std::filesystem::path default_run_dir(const WorkflowSpec& spec);

/// The graph, the settings and the results writer of a workflow (what run_workflow runs).
engine::RunPlan plan_of(const WorkflowSpec& spec);

/// Runs (or resumes) the workflow. Validation happens before the run folder is touched, so a
/// bad workflow or a missing executable never alters an existing run. Progress goes to `log`.
/// Writes RUN_DIR/results.h5 when every task finished.
engine::RunSummary run_workflow(const WorkflowSpec& spec, const engine::RunOptions& options, std::ostream& log);

/// Resumes the run stored in `run_dir` from the workflow copy saved there.
engine::RunSummary resume_run(const std::filesystem::path& run_dir, const engine::RunOptions& options, std::ostream& log);

}  // namespace interphase::workflows
