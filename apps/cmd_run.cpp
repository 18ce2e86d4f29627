// run, resume, status, results, graph: the commands that drive and inspect a run folder.
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <sstream>
#include <map>
#include <memory>
#include <optional>

#include "apps/command.hpp"
#include "common/errors.hpp"
#include "common/text.hpp"
#include "workflows/results.hpp"
#include "engine/runner.hpp"
#include "engine/store.hpp"
#include "engine/task_kind.hpp"
#include "workflows/run.hpp"
#include "workflows/workflow_file.hpp"

namespace fs = std::filesystem;

namespace interphase::cli {
namespace {

int exit_code(const engine::RunSummary& s) {
    if (s.interrupted) return 130;
    return s.ok() ? 0 : 1;
}

void require_run_folder(const fs::path& run_dir) {
    if (!engine::RunStore::exists(run_dir))
        throw InputError(run_dir.string(), "", "not an Interphase run folder (no state.sqlite)");
}

std::string read_text(const fs::path& file) {
    std::ifstream in(file);
    if (!in) throw InputError(file.string(), "", "cannot read the file");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Inspecting writes nothing: read-only media, another user's run and a running engine all work.
constexpr auto kReadOnly = engine::RunStore::Access::ReadOnly;

int cmd_status(const fs::path& run_dir) {
    require_run_folder(run_dir);
    engine::RunStore store(run_dir, kReadOnly);
    const auto tasks = store.tasks();
    std::map<std::string, int> counts;
    std::size_t width = 4;
    for (const auto& t : tasks) {
        ++counts[t.state];
        width = std::max(width, t.name.size());
    }
    std::cout << fmt::format("workflow {}  (run folder {})\n", store.meta("workflow_name").value_or("?"), run_dir.string());
    std::cout << fmt::format("{:<8} {:<{}} {:<18} {:>8} {:>10}  {}\n", "state", "task", width, "kind", "attempts", "wall (s)", "note");
    for (const auto& t : tasks) {
        std::string note = t.reused ? (t.reused_from == "this run" || t.reused_from.empty() ? "reused" : "reused from " + t.reused_from) : "";
        if (!t.error.empty()) note = t.error.size() > 100 ? t.error.substr(0, 97) + "..." : t.error;
        // A code's error message or an old store's name may hold control characters: one line each.
        std::cout << text::printable(fmt::format("{:<8} {:<{}} {:<18} {:>8} {:>10.1f}  {}", t.state, t.name, width,
                                                 t.kind, t.attempts, t.wall_seconds, note))
                  << "\n";
    }
    std::cout << fmt::format("\n{}/{} done", counts["done"], tasks.size());
    for (const auto& [state, n] : counts)
        if (state != "done") std::cout << fmt::format(", {} {}", n, state);
    std::cout << "\n";
    return counts["failed"] + counts["blocked"] > 0 ? 1 : 0;
}

int cmd_results(const fs::path& run_dir, bool csv, bool json) {
    require_run_folder(run_dir);
    engine::RunStore store(run_dir, kReadOnly);
    workflows::RunResults results;
    try {
        results = workflows::collect_results(store);
    } catch (const nlohmann::json::exception& e) {
        // A stored output of the wrong shape (edited, or from a foreign tool): a storage
        // problem of this run folder, not a bug.
        throw StorageError(fmt::format("{}: a stored output does not have the expected fields ({}); `interphase verify "
                                       "{}` checks every entry",
                                       store.file().string(), e.what(), run_dir.string()));
    } catch (const std::bad_optional_access&) {
        throw StorageError(fmt::format("{}: a done task has no stored output; `interphase verify {}` names it",
                                       store.file().string(), run_dir.string()));
    }
    if (csv) std::cout << workflows::format_csv(results);
    else if (json) std::cout << workflows::results_json(results).dump(2) << "\n";
    else std::cout << workflows::format_table(results);
    return 0;
}

}  // namespace

void add_run_commands(CLI::App& app, Commands& commands) {
    struct Options {
        std::string workflow_file, run_dir, resume_dir, status_dir, results_dir, graph_file, cache, cancel_dir;
        std::string executor, cluster_profile;
        int cores = 0;
        bool quiet = false, csv = false, json = false, dot = true, force = false;
    };
    auto o = std::make_shared<Options>();

    auto* run = app.add_subcommand("run", "Run (or continue) a workflow; reuses finished tasks");
    run->add_option("WORKFLOW", o->workflow_file, "Workflow YAML file")->required();
    run->add_option("--run-dir", o->run_dir, "Run folder (default: runs/<workflow name>)");
    run->add_option("--cores", o->cores, "Core budget (default: all cores)")->check(CLI::Range(1, 100000));
    run->add_flag("--quiet", o->quiet, "No progress lines");
    run->add_option("--cache", o->cache, "Result cache shared across runs (SQLite file; default: the workflow's "
                                         "`cache:`, else $INTERPHASE_CACHE)");
    run->add_option("--executor", o->executor, "Where calculations run: local (default), slurm, pbs, lsf or mpi (docs/cluster.md)");
    run->add_option("--cluster-profile", o->cluster_profile, "Cluster profile YAML of a batch executor (docs/cluster.md)");
    run->add_flag("--force", o->force, "Continue a run folder that holds another workflow's run with this workflow");
    commands.push_back({run, [o] {
        const auto spec = workflows::load_workflow(o->workflow_file);
        engine::RunOptions opt{o->run_dir.empty() ? workflows::default_run_dir(spec) : fs::path(o->run_dir), o->cores, o->quiet, {}};
        if (!o->cache.empty()) opt.cache = fs::path(o->cache);
        opt.executor = o->executor;
        opt.cluster_profile = o->cluster_profile;
        opt.adopt = o->force;
        return exit_code(workflows::run_workflow(spec, opt, std::cout));
    }});

    auto* resume = app.add_subcommand("resume", "Continue a run after a crash, kill or interruption");
    resume->add_option("RUN_DIR", o->resume_dir, "Run folder")->required();
    resume->add_option("--cores", o->cores, "Core budget (default: all cores)")->check(CLI::Range(1, 100000));
    resume->add_flag("--quiet", o->quiet, "No progress lines");
    resume->add_option("--cache", o->cache, "Result cache shared across runs (as for run)");
    resume->add_option("--executor", o->executor, "Executor (default: the one the run used)");
    resume->add_option("--cluster-profile", o->cluster_profile, "Cluster profile (default: the one the run used)");
    commands.push_back({resume, [o] {
        engine::RunOptions opt{o->resume_dir, o->cores, o->quiet, {}};
        if (!o->cache.empty()) opt.cache = fs::path(o->cache);
        opt.executor = o->executor;
        opt.cluster_profile = o->cluster_profile;
        return exit_code(workflows::resume_run(o->resume_dir, opt, std::cout));
    }});

    auto* status = app.add_subcommand("status", "Task states and progress of a run");
    status->add_option("RUN_DIR", o->status_dir, "Run folder")->required();
    commands.push_back({status, [o] { return cmd_status(o->status_dir); }});

    auto* results = app.add_subcommand("results", "Binding energies and ΔE of a run");
    results->add_option("RUN_DIR", o->results_dir, "Run folder")->required();
    auto* csv_flag = results->add_flag("--csv", o->csv, "CSV instead of a table");
    results->add_flag("--json", o->json, "JSON instead of a table")->excludes(csv_flag);
    commands.push_back({results, [o] { return cmd_results(o->results_dir, o->csv, o->json); }});

    auto* cancel = app.add_subcommand("cancel", "Stop the engine working on a run folder (resume continues it)");
    cancel->add_option("RUN_DIR", o->cancel_dir, "Run folder")->required();
    commands.push_back({cancel, [o] {
        switch (engine::cancel_run(o->cancel_dir)) {
            case engine::CancelOutcome::NotRunning:
                std::cout << fmt::format("nothing runs in {}\n", o->cancel_dir);
                return 0;
            case engine::CancelOutcome::Stopped:
                std::cout << fmt::format("stopped the engine of {}; `interphase resume {}` continues\n", o->cancel_dir,
                                         o->cancel_dir);
                return 0;
            case engine::CancelOutcome::StillRunning:
                std::cerr << fmt::format("interphase: the engine of {} has not stopped within 60 s\n", o->cancel_dir);
                return 1;
        }
        return 1;
    }});

    auto* graph = app.add_subcommand("graph", "Print the task graph of a workflow file or a run folder (Graphviz dot)");
    graph->add_option("WORKFLOW", o->graph_file, "Workflow YAML file, or a run folder (nodes coloured by state)")->required();
    graph->add_flag("--dot", o->dot, "Graphviz dot output (the default)");
    commands.push_back({graph, [o] {
        if (fs::is_directory(o->graph_file)) {
            // A run folder: its workflow copy, grown by the tasks the run added, coloured by state.
            require_run_folder(o->graph_file);
            engine::RunStore store(o->graph_file, kReadOnly);
            auto g = workflows::expand_workflow(workflows::parse_workflow(
                read_text(fs::path(o->graph_file) / "workflow.yaml"),
                store.meta("workflow_source").value_or(o->graph_file + "/workflow.yaml")));
            for (std::size_t i = 0; i < g.size(); ++i)  // regrow what finished tasks added at run time
                if (engine::grows_graph(g.tasks()[i].kind))
                    if (auto out = store.output_of(g.tasks()[i].name)) engine::grow(g, g.tasks()[i], *out);
            std::map<std::string, std::string> states;
            for (const auto& t : store.tasks()) states[t.name] = t.state;
            std::cout << g.to_dot(states);
            return 0;
        }
        std::cout << workflows::expand_workflow(workflows::load_workflow(o->graph_file)).to_dot();
        return 0;
    }});
}

}  // namespace interphase::cli
