// build slab: a slab of a phase or structure file along a Miller plane.
#include <algorithm>
#include <cctype>
#include <fmt/format.h>
#include <iostream>
#include <memory>

#include "apps/command.hpp"
#include "common/errors.hpp"
#include "structures/io.hpp"
#include "structures/slab.hpp"

namespace interphase::cli {

void add_build_slab_command(CLI::App& build, Commands& commands) {
    struct Options {
        std::string output, slab_input, miller = "1,1,1", termination, supercell = "1,1";
        int layers = 3, fix_layers = 0;
        double vacuum = 12.0;
        bool list_terms = false;
    };
    auto o = std::make_shared<Options>();

    auto* slab = build.add_subcommand("slab", "A slab of a phase or structure file");
    slab->add_option("INPUT", o->slab_input, "Phase name or bulk structure file")->required();
    slab->add_option("--miller", o->miller, "Miller index h,k,l (or hexagonal h,k,i,l)")->required();
    slab->add_option("--layers", o->layers, "Repeats of the interplanar period d_hkl")->check(CLI::Range(1, 100));
    slab->add_option("--vacuum", o->vacuum, "Vacuum thickness in Å")->check(CLI::Range(0.0, 200.0));
    slab->add_option("--supercell", o->supercell, "In-plane repetitions a,b");
    slab->add_option("--termination", o->termination, "Top-plane species (e.g. S) or index (see --list-terminations)");
    slab->add_option("--fix-bottom-layers", o->fix_layers, "Atomic planes fixed from the bottom")->check(CLI::Range(0, 1000));
    slab->add_flag("--list-terminations", o->list_terms, "List the terminations of the plane and exit");
    slab->add_option("-o,--output", o->output, "Output file (.cif, .vasp/POSCAR, .xyz)");
    commands.push_back({slab, [o] {
        const auto b = load_bulk(o->slab_input);
        structures::SlabSpec spec;
        spec.miller = structures::parse_miller(o->miller, "--miller");
        if (o->list_terms) {
            for (const auto& t : structures::terminations(b, spec.miller))
                std::cout << fmt::format("{}  top {:<6} bottom {:<6} shift {:.4f}  gap {:.3f} Å\n", t.index,
                                         t.top_species, t.bottom_species, t.shift, t.gap);
            return 0;
        }
        if (o->output.empty()) throw InputError("build slab", "--output", "is required (unless --list-terminations)");
        spec.layers = o->layers;
        spec.vacuum = o->vacuum;
        spec.fix_bottom_layers = o->fix_layers;
        spec.supercell = parse_supercell(o->supercell, "build slab", "--supercell");
        if (!o->termination.empty()) {
            if (std::isdigit(static_cast<unsigned char>(o->termination[0]))) spec.termination_index = std::stoi(o->termination);
            else spec.termination_species = o->termination;
        }
        const auto s = structures::build_slab(b, spec);
        structures::write_structure(o->output, s);
        report_written(o->output, s);
        std::cout << fmt::format("termination {} (index {}), {} atomic layers, area {:.3f} Å², {} fixed atoms\n",
                                 s.info["termination"].get<std::string>(), s.info["termination_index"].get<int>(),
                                 s.info["atomic_layers"].get<int>(), s.info["area"].get<double>(),
                                 std::count_if(s.atoms().begin(), s.atoms().end(), [](const auto& a) { return a.fixed; }));
        return 0;
    }});
}

}  // namespace interphase::cli
