// How a CLI subcommand plugs into `interphase`: each group of commands lives in its own
// apps/cmd_*.cpp, declares its CLI11 options there and registers a handler; main.cpp only calls
// the add_* functions below and dispatches to the subcommand the user chose. Options live in
// shared_ptr-held structs captured by the handlers, so they outlive the registration call.
#pragma once

#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "structures/structure.hpp"

namespace interphase::cli {

struct Command {
    CLI::App* app = nullptr;       ///< the subcommand (its parsed() says whether the user chose it)
    std::function<int()> run;      ///< returns the exit code; throws interphase::Error
};
using Commands = std::vector<Command>;

/// run, resume, status, results, graph (apps/cmd_run.cpp).
void add_run_commands(CLI::App& app, Commands& commands);
/// converge: a convergence study of one setting over a workflow (apps/cmd_converge.cpp).
void add_converge_command(CLI::App& app, Commands& commands);
/// verify: a run folder's store, checksums and shared cache (apps/cmd_verify.cpp).
void add_verify_command(CLI::App& app, Commands& commands);
/// `build` and its `bulk` subcommand (apps/cmd_build.cpp); returns the `build` parent to which
/// the other builders attach their own subcommand.
CLI::App* add_build_commands(CLI::App& app, Commands& commands);
/// build slab (apps/cmd_slab.cpp).
void add_build_slab_command(CLI::App& build, Commands& commands);
/// build path and build sites (apps/cmd_path.cpp).
void add_build_path_commands(CLI::App& build, Commands& commands);
/// build interface (apps/cmd_interface.cpp).
void add_build_interface_command(CLI::App& build, Commands& commands);
/// calc and neb: one structure or one band through the engine (apps/cmd_calc.cpp).
void add_calc_commands(CLI::App& app, Commands& commands);

/// cluster check, and the hidden calc-task that batch jobs run (apps/cmd_cluster.cpp).
void add_cluster_commands(CLI::App& app, Commands& commands);
/// worker: the MPI pilot, `mpirun -np N interphase worker RUN_DIR` (apps/cmd_worker.cpp).
void add_worker_command(CLI::App& app, Commands& commands);
/// submit: one batch job running the MPI pilot on a run folder (apps/cmd_submit.cpp).
void add_submit_command(CLI::App& app, Commands& commands);

// Helpers shared by the command files (apps/cli_common.cpp).
/// A built-in phase name or a structure file.
structures::Structure load_bulk(const std::string& phase_or_file);
/// "a,b" with 1 <= a, b <= 50; throws InputError naming `field` of `source`.
std::array<int, 2> parse_supercell(std::string text, const std::string& source, const std::string& field);
/// "wrote FILE (formula, N atoms)" on stdout.
void report_written(const std::filesystem::path& out, const structures::Structure& s);

}  // namespace interphase::cli
