// build bulk: conventional cells of the built-in phases. Other builders (slab, ...) attach their
// own subcommand to `build` from their own cmd_*.cpp.
#include <fmt/format.h>
#include <iostream>
#include <memory>

#include "apps/command.hpp"
#include "common/errors.hpp"
#include "structures/io.hpp"
#include "structures/prototypes.hpp"

namespace interphase::cli {

CLI::App* add_build_commands(CLI::App& app, Commands& commands) {
    auto* build = app.add_subcommand("build", "Build structures: bulk phases, slabs, ...");
    build->require_subcommand(1);

    struct Options {
        std::string phase, output;
    };
    auto o = std::make_shared<Options>();

    auto* bulk = build->add_subcommand("bulk", "Conventional cell of a built-in phase");
    bulk->add_option("PHASE", o->phase, "Phase name (e.g. Al, Li, Li2S)")->required();
    bulk->add_option("-o,--output", o->output, "Output file (.cif, .vasp/POSCAR, .xyz)")->required();
    commands.push_back({bulk, [o] {
        const auto s = structures::build_bulk(o->phase);
        structures::write_structure(o->output, s);
        report_written(o->output, s);
        return 0;
    }});

    return build;
}

}  // namespace interphase::cli
