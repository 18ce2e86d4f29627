// The `interphase` command line: run / resume / status / results / graph / build.
// Every Interphase error becomes one line on stderr and a non-zero exit code:
//   1 the run finished with failed or blocked tasks, 2 bad input (file, field, line named),
//   3 an external program cannot run, 4 storage failure, 130 interrupted.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <iostream>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "common/version.hpp"
#include "engine/results.hpp"
#include "engine/runner.hpp"
#include "engine/store.hpp"
#include "engine/workflow.hpp"
#include "structures/io.hpp"
#include "structures/prototypes.hpp"
#include "structures/slab.hpp"

namespace fs = std::filesystem;
using namespace interphase;

namespace {

// Exit codes by error type (see the header comment).
int error_exit_code(const Error& e) {
    if (dynamic_cast<const ParseError*>(&e) || dynamic_cast<const InputError*>(&e) ||
        dynamic_cast<const StructureError*>(&e))
        return 2;
    if (dynamic_cast<const ExecutionError*>(&e)) return 3;
    if (dynamic_cast<const StorageError*>(&e)) return 4;
    return 1;
}

int exit_code(const engine::RunSummary& s) {
    if (s.interrupted) return 130;
    return s.ok() ? 0 : 1;
}

int cmd_status(const fs::path& run_dir) {
    if (!engine::RunStore::exists(run_dir))
        throw InputError(run_dir.string(), "", "not an Interphase run folder (no state.sqlite)");
    engine::RunStore store(run_dir);
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
        std::string note = t.reused ? "reused" : "";
        if (!t.error.empty()) note = t.error.size() > 100 ? t.error.substr(0, 97) + "..." : t.error;
        std::cout << fmt::format("{:<8} {:<{}} {:<18} {:>8} {:>10.1f}  {}\n", t.state, t.name, width, t.kind, t.attempts,
                                 t.wall_seconds, note);
    }
    std::cout << fmt::format("\n{}/{} done", counts["done"], tasks.size());
    for (const auto& [state, n] : counts)
        if (state != "done") std::cout << fmt::format(", {} {}", n, state);
    std::cout << "\n";
    return counts["failed"] + counts["blocked"] > 0 ? 1 : 0;
}

int cmd_results(const fs::path& run_dir, bool csv, bool json) {
    if (!engine::RunStore::exists(run_dir))
        throw InputError(run_dir.string(), "", "not an Interphase run folder (no state.sqlite)");
    engine::RunStore store(run_dir);
    const auto results = engine::collect_results(store);
    if (csv) std::cout << engine::format_csv(results);
    else if (json) std::cout << engine::results_json(results).dump(2) << "\n";
    else std::cout << engine::format_table(results);
    return 0;
}

structures::Structure load_bulk(const std::string& phase_or_file) {
    if (fs::exists(phase_or_file)) return structures::read_structure(phase_or_file);
    return structures::build_bulk(phase_or_file);
}

std::array<int, 2> parse_supercell(std::string text) {
    std::replace(text.begin(), text.end(), ',', ' ');
    const auto tokens = text::split_ws(text);
    std::array<int, 2> sc{0, 0};
    for (std::size_t i = 0; i < tokens.size() && i < 2; ++i) sc[i] = static_cast<int>(text::parse_int(tokens[i]).value_or(0));
    if (tokens.size() != 2 || sc[0] < 1 || sc[1] < 1 || sc[0] > 50 || sc[1] > 50)
        throw InputError("build slab", "--supercell", "'" + text + "' must be two integers 1..50, e.g. 2,2");
    return sc;
}

void report_written(const fs::path& out, const structures::Structure& s) {
    std::cout << fmt::format("wrote {} ({}, {} atoms)\n", out.string(), s.formula(), s.size());
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"Interphase: DFT workflows for Li binding energies and ΔE descriptors at battery interphases"};
    app.set_version_flag("--version", std::string("interphase ") + kVersion);
    app.require_subcommand(1);

    // run
    auto* run = app.add_subcommand("run", "Run (or continue) a workflow; reuses finished tasks");
    std::string workflow_file, run_dir;
    int cores = 0;
    bool quiet = false;
    run->add_option("WORKFLOW", workflow_file, "Workflow YAML file")->required();
    run->add_option("--run-dir", run_dir, "Run folder (default: runs/<workflow name>)");
    run->add_option("--cores", cores, "Core budget (default: all cores)")->check(CLI::Range(1, 100000));
    run->add_flag("--quiet", quiet, "No progress lines");

    auto* resume = app.add_subcommand("resume", "Continue a run after a crash, kill or interruption");
    std::string resume_dir;
    resume->add_option("RUN_DIR", resume_dir, "Run folder")->required();
    resume->add_option("--cores", cores, "Core budget (default: all cores)")->check(CLI::Range(1, 100000));
    resume->add_flag("--quiet", quiet, "No progress lines");

    auto* status = app.add_subcommand("status", "Task states and progress of a run");
    std::string status_dir;
    status->add_option("RUN_DIR", status_dir, "Run folder")->required();

    auto* results = app.add_subcommand("results", "Binding energies and ΔE of a run");
    std::string results_dir;
    bool csv = false, json = false;
    results->add_option("RUN_DIR", results_dir, "Run folder")->required();
    auto* csv_flag = results->add_flag("--csv", csv, "CSV instead of a table");
    results->add_flag("--json", json, "JSON instead of a table")->excludes(csv_flag);

    auto* graph = app.add_subcommand("graph", "Print a workflow's task graph (Graphviz dot)");
    std::string graph_file;
    graph->add_option("WORKFLOW", graph_file, "Workflow YAML file")->required();
    bool dot = true;
    graph->add_flag("--dot", dot, "Graphviz dot output (the default)");

    auto* build = app.add_subcommand("build", "Build structures: bulk phases and slabs");
    build->require_subcommand(1);
    auto* bulk = build->add_subcommand("bulk", "Conventional cell of a built-in phase");
    std::string phase, output;
    bulk->add_option("PHASE", phase, "Phase name (e.g. Al, Li, Li2S)")->required();
    bulk->add_option("-o,--output", output, "Output file (.cif, .vasp/POSCAR, .xyz)")->required();

    auto* slab = build->add_subcommand("slab", "A slab of a phase or structure file");
    std::string slab_input, miller = "1,1,1", termination, supercell = "1,1";
    int layers = 3, fix_layers = 0;
    double vacuum = 12.0;
    slab->add_option("INPUT", slab_input, "Phase name or bulk structure file")->required();
    slab->add_option("--miller", miller, "Miller index h,k,l (or hexagonal h,k,i,l)")->required();
    slab->add_option("--layers", layers, "Repeats of the interplanar period d_hkl")->check(CLI::Range(1, 100));
    slab->add_option("--vacuum", vacuum, "Vacuum thickness in Å")->check(CLI::Range(0.0, 200.0));
    slab->add_option("--supercell", supercell, "In-plane repetitions a,b");
    slab->add_option("--termination", termination, "Top-plane species (e.g. S) or index (see --list-terminations)");
    slab->add_option("--fix-bottom-layers", fix_layers, "Atomic planes fixed from the bottom")->check(CLI::Range(0, 1000));
    bool list_terms = false;
    slab->add_flag("--list-terminations", list_terms, "List the terminations of the plane and exit");
    slab->add_option("-o,--output", output, "Output file (.cif, .vasp/POSCAR, .xyz)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }

    try {
        if (*run) {
            const auto spec = engine::load_workflow(workflow_file);
            engine::RunOptions opt{run_dir.empty() ? engine::default_run_dir(spec) : fs::path(run_dir), cores, quiet};
            return exit_code(engine::run_workflow(spec, opt, std::cout));
        }
        if (*resume) {
            engine::RunOptions opt{resume_dir, cores, quiet};
            return exit_code(engine::resume_run(resume_dir, opt, std::cout));
        }
        if (*status) return cmd_status(status_dir);
        if (*results) return cmd_results(results_dir, csv, json);
        if (*graph) {
            std::cout << engine::expand_workflow(engine::load_workflow(graph_file)).to_dot();
            return 0;
        }
        if (*bulk) {
            const auto s = structures::build_bulk(phase);
            structures::write_structure(output, s);
            report_written(output, s);
            return 0;
        }
        if (*slab) {
            const auto b = load_bulk(slab_input);
            structures::SlabSpec spec;
            spec.miller = structures::parse_miller(miller, "--miller");
            if (list_terms) {
                for (const auto& t : structures::terminations(b, spec.miller))
                    std::cout << fmt::format("{}  top {:<6} bottom {:<6} shift {:.4f}  gap {:.3f} Å\n", t.index,
                                             t.top_species, t.bottom_species, t.shift, t.gap);
                return 0;
            }
            if (output.empty()) throw InputError("build slab", "--output", "is required (unless --list-terminations)");
            spec.layers = layers;
            spec.vacuum = vacuum;
            spec.fix_bottom_layers = fix_layers;
            spec.supercell = parse_supercell(supercell);
            if (!termination.empty()) {
                if (std::isdigit(static_cast<unsigned char>(termination[0]))) spec.termination_index = std::stoi(termination);
                else spec.termination_species = termination;
            }
            const auto s = structures::build_slab(b, spec);
            structures::write_structure(output, s);
            report_written(output, s);
            std::cout << fmt::format("termination {} (index {}), {} atomic layers, area {:.3f} Å², {} fixed atoms\n",
                                     s.info["termination"].get<std::string>(), s.info["termination_index"].get<int>(),
                                     s.info["atomic_layers"].get<int>(), s.info["area"].get<double>(),
                                     std::count_if(s.atoms().begin(), s.atoms().end(), [](const auto& a) { return a.fixed; }));
            return 0;
        }
    } catch (const Error& e) {
        std::cerr << "interphase: error: " << e.what() << "\n";
        return error_exit_code(e);
    } catch (const std::exception& e) {
        std::cerr << "interphase: internal error: " << e.what() << "\n";
        return 70;
    }
    return 0;
}
