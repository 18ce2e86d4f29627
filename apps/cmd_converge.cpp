// converge: one workflow run once per value of one setting, through a shared cache, and the
// binding energies and ΔE compared against the tightest value (workflows/convergence/).
#include <fmt/format.h>
#include <iostream>
#include <memory>

#include "apps/command.hpp"
#include "workflows/convergence/convergence.hpp"

namespace fs = std::filesystem;

namespace interphase::cli {

void add_converge_command(CLI::App& app, Commands& commands) {
    struct Options {
        workflows::convergence::StudyOptions study;
        std::string out_dir, cache, workflow;
    };
    auto o = std::make_shared<Options>();
    std::string names;
    for (const auto& s : workflows::convergence::settings()) names += (names.empty() ? "" : ", ") + s.name;
    auto* c = app.add_subcommand("converge", "Run a workflow once per value of one setting and report how E_b and ΔE "
                                             "converge (docs/convergence.md)");
    c->add_option("WORKFLOW", o->workflow, "Workflow YAML file (a binding_energy workflow)")->required();
    c->add_option("--setting", o->study.setting, "The setting varied: " + names)->required();
    c->add_option("--values", o->study.values, "Its values, loosest first, tightest (the reference) last; YAML each "
                                                "(0.3; a supercell as 3x3)")
        ->required()
        ->expected(2, 50);
    c->add_option("--tolerance", o->study.tolerance, "eV: how close to the reference counts as converged (default 0.01)");
    c->add_option("--out", o->out_dir, "Folder of the study: one run folder per value, the cache, convergence.json/.csv "
                                       "(default: runs/converge-<setting>)");
    c->add_option("--cache", o->cache, "Result cache shared by the runs (default: the workflow's cache:, else OUT/cache.sqlite)");
    c->add_option("--cores", o->study.cores, "Core budget (default: all cores)")->check(CLI::Range(1, 100000));
    c->add_flag("--quiet", o->study.quiet, "No progress lines of the runs");
    c->add_option("--executor", o->study.executor, "Where calculations run (as for run)");
    c->add_option("--cluster-profile", o->study.cluster_profile, "Cluster profile YAML of a batch executor");
    commands.push_back({c, [o] {
        auto study = o->study;
        study.workflow = o->workflow;
        study.out_dir = o->out_dir.empty() ? fs::path("runs") / ("converge-" + study.setting) : fs::path(o->out_dir);
        if (!o->cache.empty()) study.cache = fs::path(o->cache);
        const auto result = workflows::convergence::run_study(study, std::cout);
        std::cout << "\n" << workflows::convergence::format_study(result);
        std::cout << fmt::format("study in {} (convergence.json, convergence.csv)\n", study.out_dir.string());
        if (result.interrupted) return 130;
        return result.all_ok() ? 0 : 1;
    }});
}

}  // namespace interphase::cli
