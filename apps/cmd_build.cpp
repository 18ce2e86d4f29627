// build bulk: conventional cells of the built-in phases, of the argyrodite family at any x,
// and of a phase given as a structure file (CIF with partial occupancies, POSCAR...). A
// disordered phase is ordered by the rule of structures/ordering.hpp and the choice is
// printed. Other builders (slab, ...) attach their own subcommand to `build` from their own
// cmd_*.cpp.
#include <algorithm>
#include <filesystem>
#include <fmt/format.h>
#include <iostream>
#include <memory>

#include "apps/command.hpp"
#include "common/errors.hpp"
#include "common/text.hpp"
#include "structures/io.hpp"
#include "structures/prototypes.hpp"

namespace interphase::cli {
namespace {

// "a,b,c" (diagonal multiples of the cell) or "auto".
void parse_bulk_supercell(std::string text, structures::OrderingOptions& o) {
    const std::string original = text;
    if (text::to_lower(text::trim(text)) == "auto") {
        o.auto_supercell = true;
        return;
    }
    std::replace(text.begin(), text.end(), ',', ' ');
    const auto tokens = text::split_ws(text);
    int n[3] = {0, 0, 0};
    for (std::size_t i = 0; i < tokens.size() && i < 3; ++i) n[i] = static_cast<int>(text::parse_int(tokens[i]).value_or(0));
    if (tokens.size() != 3 || std::any_of(n, n + 3, [](int v) { return v < 1 || v > 20; }))
        throw InputError("build bulk", "--supercell", "'" + original + "' must be three integers 1..20 (e.g. 1,1,5) or 'auto'");
    o.supercell = Eigen::Vector3i(n[0], n[1], n[2]).asDiagonal();
}

void report_ordering(const structures::Structure& s) {
    if (!s.info.contains("ordering")) return;
    const auto& r = s.info.at("ordering");
    if (r.value("method", "") == "none") return;
    std::cout << fmt::format("ordering: {}\n", r.value("rule", ""));
    std::cout << fmt::format("  cell: {} (supercell {})\n", r.value("cell", ""), r.value("supercell", ""));
    for (const auto& g : r.at("site_groups"))
        std::cout << fmt::format("  site group {}: {} sites, {}\n", g.at("occupants").get<std::string>(),
                                 g.at("sites").get<std::size_t>(), g.at("counts").dump());
    std::cout << fmt::format("  method: {}\n", r.value("method", ""));
    std::cout << fmt::format("  arrangements: 10^{:.2f}; site permutations by symmetry: {}; candidates compared: {}\n",
                             r.value("log10_arrangements", 0.0), r.value("site_permutations", 0),
                             r.value("candidates", 0));
    std::cout << fmt::format("  chosen: Ewald energy {:.6f} eV (formal charges {})\n", r.value("ewald_energy_eV", 0.0),
                             r.at("charges").dump());
}

}  // namespace

CLI::App* add_build_commands(CLI::App& app, Commands& commands) {
    auto* build = app.add_subcommand("build", "Build structures: bulk phases, slabs, ...");
    build->require_subcommand(1);

    struct Options {
        std::string phase, output, supercell;
        double x = 0;
    };
    auto o = std::make_shared<Options>();

    auto* bulk = build->add_subcommand("bulk", "Conventional cell of a phase (ordered model when disordered)");
    bulk->add_option("PHASE", o->phase,
                     "Built-in phase (Al, Li, Li2S, Li6PS5Cl, Li5.5PS4.5Cl1.5...) or a structure file (.cif with "
                     "partial occupancies, POSCAR, .xyz)")
        ->required();
    bulk->add_option("-o,--output", o->output, "Output file (.cif, .vasp/POSCAR, .xyz)")->required();
    auto* x_opt = bulk->add_option("--x", o->x, "x of the argyrodite Li(7-x)PS(6-x)Cl(x), 0..2 (e.g. 1.6)");
    bulk->add_option("--supercell", o->supercell,
                     "Supercell for ordering: a,b,c multiples of the cell, or 'auto' (smallest cell with whole "
                     "numbers of atoms)");
    commands.push_back({bulk, [o, x_opt] {
        structures::BulkOptions options;
        if (!o->supercell.empty()) parse_bulk_supercell(o->supercell, options.ordering);
        if (x_opt->count() > 0) options.x = o->x;
        structures::Structure s;
        if (std::filesystem::is_regular_file(o->phase)) {
            if (options.x)
                throw InputError("build bulk", "--x", "applies to the built-in argyrodite family, not to a structure file");
            s = structures::load_phase(o->phase, options.ordering);
        } else {
            s = structures::build_bulk(o->phase, options);
        }
        report_ordering(s);
        structures::write_structure(o->output, s);
        report_written(o->output, s);
        return 0;
    }});

    return build;
}

}  // namespace interphase::cli
