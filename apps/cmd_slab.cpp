// build slab: slabs of a phase or structure file along a Miller plane — one termination or all
// of them (pymatgen SlabGenerator semantics, structures/slab.hpp), into a file or a folder with
// one file per slab and a summary.json (docs/slabs.md).
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fmt/format.h>
#include <iostream>
#include <memory>

#include "apps/command.hpp"
#include "common/errors.hpp"
#include "common/text.hpp"
#include "structures/io.hpp"
#include "structures/slab.hpp"

namespace fs = std::filesystem;

namespace interphase::cli {

namespace {

constexpr const char* kSource = "build slab";

/// "Li=1,S=-2" -> {Li: 1, S: -2}.
std::map<std::string, double> parse_charges(const std::string& text) {
    std::map<std::string, double> q;
    std::string s = text;
    std::replace(s.begin(), s.end(), ',', ' ');
    for (const auto& item : text::split_ws(s)) {
        const auto eq = item.find('=');
        const auto value = eq == std::string::npos ? std::nullopt : text::parse_double(item.substr(eq + 1));
        if (eq == 0 || !value)
            throw InputError(kSource, "--charges", fmt::format("'{}' is not SPECIES=CHARGE (e.g. Li=1,S=-2)", item));
        q[item.substr(0, eq)] = *value;
    }
    if (q.empty()) throw InputError(kSource, "--charges", "give SPECIES=CHARGE pairs, e.g. Li=1,S=-2");
    return q;
}

void print_slab(const structures::Structure& s, const std::string& where) {
    const auto& i = s.info;
    std::cout << fmt::format("t{} {:<10} shift {:.4f}  {:>4} atoms {:<10} {:>2} layers  {}  {}  broken bonds {:.4f}/Å²  -> {}\n",
                             i["termination_index"].get<int>(), i["termination_label"].get<std::string>(),
                             i["shift"].get<double>(), s.size(), i["formula"].get<std::string>(),
                             i["atomic_layers"].get<int>(), i["symmetric"].get<bool>() ? "symmetric " : "asymmetric",
                             i["polar"].get<bool>() ? "polar    " : "non-polar", i["broken_bonds_per_area"].get<double>(),
                             where);
}

}  // namespace

void add_build_slab_command(CLI::App& build, Commands& commands) {
    struct Options {
        std::string output, slab_input, miller = "1,1,1", termination, supercell = "1,1", format = "extxyz", charges;
        int layers = 3, fix_layers = 0;
        double vacuum = 12.0, thickness = 0, fix_bottom = 0, plane_tolerance = 0.1, bond_scale = 1.2, symprec = 0.01;
        bool list_terms = false, all_terms = false, symmetric = false, in_unit_planes = false;
        CLI::Option* thickness_opt = nullptr;
    };
    auto o = std::make_shared<Options>();

    auto* slab = build.add_subcommand("slab", "Slabs of a phase or structure file along a Miller plane");
    slab->add_option("INPUT", o->slab_input, "Phase name or bulk structure file")->required();
    slab->add_option("--miller", o->miller, "Miller index h,k,l (or hexagonal h,k,i,l) of the input cell")->required();
    o->thickness_opt = slab->add_option("--thickness", o->thickness,
                                        "Minimum slab thickness in Å (pymatgen min_slab_size: whole oriented cells); "
                                        "overrides --layers");
    slab->add_flag("--in-unit-planes", o->in_unit_planes, "--thickness and --vacuum count d_hkl planes (pymatgen in_unit_planes)");
    slab->add_option("--layers", o->layers, "Repeats of the interplanar period d_hkl (default 3)")->check(CLI::Range(1, 100));
    slab->add_option("--vacuum", o->vacuum, "Vacuum thickness in Å (default 12)")->check(CLI::Range(0.0, 200.0));
    slab->add_option("--supercell", o->supercell, "In-plane repetitions a,b");
    slab->add_option("--termination", o->termination,
                     "Top-plane species (e.g. S), label (e.g. 'S|Li') or index (see --list-terminations)");
    slab->add_flag("--all-terminations", o->all_terms, "One slab per unique termination (needs a folder for -o)");
    slab->add_flag("--symmetric", o->symmetric, "Add planes at the bottom until both faces are equivalent");
    slab->add_option("--fix-bottom", o->fix_bottom, "Fix atoms within this many Å of the bottom");
    slab->add_option("--fix-bottom-layers", o->fix_layers, "Atomic planes fixed from the bottom")->check(CLI::Range(0, 1000));
    slab->add_option("--charges", o->charges, "Formal charges for the dipole, e.g. Li=1,S=-2 (default: docs/slabs.md)");
    slab->add_option("--plane-tolerance", o->plane_tolerance, "Å: atoms closer along the normal share a plane (default 0.1)");
    slab->add_option("--symprec", o->symprec, "Å: tolerance of the bulk's primitive cell and symmetry (default 0.01)");
    slab->add_option("--bond-scale", o->bond_scale, "Bond = within (r_cov,i + r_cov,j) x this (default 1.2)");
    slab->add_option("--format", o->format, "File format in an output folder: extxyz (default), cif, poscar");
    slab->add_flag("--list-terminations", o->list_terms, "List the terminations of the plane and exit");
    slab->add_option("-o,--output", o->output, "Output file (.cif, .vasp/POSCAR, .xyz) or folder");
    commands.push_back({slab, [o] {
        const auto b = load_bulk(o->slab_input);
        structures::SlabSpec spec;
        spec.miller = structures::parse_miller(o->miller, "--miller");
        if (o->thickness_opt->count() > 0) {
            if (!std::isfinite(o->thickness) || o->thickness <= 0)
                throw InputError(kSource, "--thickness", fmt::format("must be > 0 (got {})", o->thickness));
            spec.thickness = o->thickness;
        }
        if (!std::isfinite(o->fix_bottom) || o->fix_bottom < 0)
            throw InputError(kSource, "--fix-bottom", fmt::format("must be >= 0 Å (got {})", o->fix_bottom));
        if (!std::isfinite(o->plane_tolerance) || o->plane_tolerance <= 0 || o->plane_tolerance > 1)
            throw InputError(kSource, "--plane-tolerance", "must be in (0, 1] Å");
        if (!std::isfinite(o->bond_scale) || o->bond_scale <= 0 || o->bond_scale > 3)
            throw InputError(kSource, "--bond-scale", "must be in (0, 3]");
        if (!std::isfinite(o->symprec) || o->symprec <= 0 || o->symprec > 0.5)
            throw InputError(kSource, "--symprec", "must be in (0, 0.5] Å");
        const std::vector<std::string> formats{"extxyz", "xyz", "cif", "poscar", "vasp"};
        if (std::find(formats.begin(), formats.end(), text::to_lower(o->format)) == formats.end())
            throw InputError(kSource, "--format", text::unknown_name_message("format", o->format, {"extxyz", "cif", "poscar"}));
        spec.in_unit_planes = o->in_unit_planes;
        spec.layers = o->layers;
        spec.vacuum = o->vacuum;
        spec.fix_bottom_layers = o->fix_layers;
        spec.fix_bottom = o->fix_bottom;
        spec.symmetric = o->symmetric;
        spec.plane_tolerance = o->plane_tolerance;
        spec.bond_scale = o->bond_scale;
        spec.symprec = o->symprec;
        if (!o->charges.empty()) spec.charges = parse_charges(o->charges);
        spec.supercell = parse_supercell(o->supercell, kSource, "--supercell");
        if (!o->termination.empty()) {
            if (std::all_of(o->termination.begin(), o->termination.end(), [](unsigned char c) { return std::isdigit(c); }))
                spec.termination_index = std::stoi(o->termination.substr(0, 6));
            else
                spec.termination_species = o->termination;
        }
        const structures::SlabGenerator gen(b, spec);
        if (o->list_terms) {
            const auto& oc = gen.oriented();
            std::cout << fmt::format("{}({}{}{}): d_hkl {:.4f} Å, {} unique terminations of {} cuts\n",
                                     b.title.empty() ? b.formula(true) : b.title, spec.miller[0], spec.miller[1],
                                     spec.miller[2], oc.d_spacing, gen.terminations().size(),
                                     gen.pymatgen_shifts().size() / static_cast<std::size_t>(std::lround(
                                                                       std::abs(oc.pymatgen_height) / oc.d_spacing)));
            for (const auto& t : gen.terminations())
                std::cout << fmt::format("{}  {:<12} top {:<6} bottom {:<6} shift {:.4f}  gap {:.3f} Å  x{}  {}  "
                                         "broken bonds {:.4f}/Å²\n",
                                         t.index, t.name, t.top_species, t.bottom_species, t.shift, t.gap, t.multiplicity,
                                         t.symmetric ? "symmetric" : "asymmetric", t.broken_bonds_per_area);
            return 0;
        }
        if (o->output.empty()) throw InputError(kSource, "--output", "is required (unless --list-terminations)");

        const fs::path out = o->output;
        bool folder = o->all_terms || fs::is_directory(out) || o->output.back() == '/';
        if (!folder && !out.has_extension()) {
            try {
                structures::FormatRegistry::instance().for_path(out);
            } catch (const InputError&) {
                folder = true;  // no extension and not POSCAR/CONTCAR: a folder name
            }
        }
        if (o->all_terms && fs::exists(out) && !fs::is_directory(out))
            throw InputError(kSource, "--output", fmt::format("'{}' is a file; --all-terminations writes a folder", o->output));
        if (o->all_terms && out.has_extension() && !fs::is_directory(out))
            throw InputError(kSource, "--output",
                             fmt::format("'{}': --all-terminations writes one file per slab into a folder (e.g. slabs/)", o->output));

        if (!folder) {
            const auto s = gen.slab(spec);
            structures::write_slab(out, s);
            print_slab(s, out.string());
            report_written(out, s);
            return 0;
        }

        const auto slabs = o->all_terms ? gen.all_slabs(spec) : std::vector<structures::Structure>{gen.slab(spec)};
        const auto summary = structures::write_slabs(out, gen, spec, slabs, o->format);
        for (std::size_t k = 0; k < slabs.size(); ++k)
            print_slab(slabs[k], (out / summary["slabs"][k]["file"].get<std::string>()).string());
        std::cout << fmt::format("wrote {} slab{} and summary.json to {}\n", slabs.size(), slabs.size() == 1 ? "" : "s",
                                 out.string());
        return 0;
    }});
}

}  // namespace interphase::cli
