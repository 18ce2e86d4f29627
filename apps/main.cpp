// The `interphase` command line. Each group of subcommands lives in apps/cmd_*.cpp and registers
// itself here with one line (apps/command.hpp). Every Interphase error becomes one line on stderr
// and a non-zero exit code:
//   1 the run finished with failed or blocked tasks, 2 bad input (file, field, line named),
//   3 an external program cannot run, 4 storage failure (a file or folder that cannot be written,
//   a damaged store, out of memory), 130 interrupted, 70 internal error (a bug: please report it).
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <malloc.h>
#include <new>

#include "apps/command.hpp"
#include "common/errors.hpp"
#include "common/text.hpp"
#include "common/version.hpp"

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

}  // namespace

int main(int argc, char** argv) {
    // No glibc fastbins: a run of 10^5 tasks frees ~1.5 GB of small task outputs when it ends,
    // and with fastbins each large free re-consolidates the heap (seconds, measured): SIGTERM
    // must end a run within seconds, not after a heap walk. The run itself is not slower.
    ::mallopt(M_MXFAST, 0);
    CLI::App app{"Interphase: DFT workflows for Li binding energies and ΔE descriptors at battery interphases"};
    app.set_version_flag("--version", std::string("interphase ") + kVersion);
    app.require_subcommand(1);

    cli::Commands commands;
    cli::add_run_commands(app, commands);
    cli::add_verify_command(app, commands);
    cli::add_converge_command(app, commands);
    cli::add_cluster_commands(app, commands);
    cli::add_worker_command(app, commands);
    cli::add_submit_command(app, commands);
    cli::add_calc_commands(app, commands);
    CLI::App* build = cli::add_build_commands(app, commands);
    cli::add_build_slab_command(*build, commands);
    cli::add_build_path_commands(*build, commands);
    cli::add_build_interface_command(*build, commands);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }

    try {
        for (const auto& c : commands)
            if (c.app->parsed()) return c.run();
    } catch (const Error& e) {
        // One line whatever the message quotes from an input file (newlines, control bytes).
        std::cerr << "interphase: error: " << text::printable(e.what()) << "\n";
        return error_exit_code(e);
    } catch (const std::bad_alloc&) {
        std::cerr << "interphase: error: out of memory\n";
        return 4;
    } catch (const std::filesystem::filesystem_error& e) {
        // A folder or file the run needs cannot be created or written (permissions, full disk).
        std::cerr << "interphase: error: " << text::printable(e.what()) << "\n";
        return 4;
    } catch (const std::exception& e) {
        std::cerr << "interphase: internal error: " << text::printable(e.what()) << "\n";
        return 70;
    }
    return 0;
}
