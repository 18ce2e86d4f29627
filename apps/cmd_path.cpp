// build path: the initial NEB path between two end points (linear or IDPP), written as VTST-style
// image folders 00..N+1 with a summary of the closest atom pair per image.
// build sites: Li sites of a structure (adsorption on either face, interstitial, vacancy,
// interface), optionally with the end points of the hops between them.
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/command.hpp"
#include "common/errors.hpp"
#include "common/files.hpp"
#include "common/text.hpp"
#include "structures/interface_hops.hpp"
#include "structures/interstitials.hpp"
#include "structures/io.hpp"
#include "structures/neb_path.hpp"
#include "structures/sites.hpp"

namespace fs = std::filesystem;

namespace interphase::cli {
namespace {

/// The file name of an image inside its folder, by format (VASP reads POSCAR from the folder).
std::string image_file_name(const std::string& format) {
    if (format == "poscar") return "POSCAR";
    if (format == "cif") return "image.cif";
    if (format == "extxyz") return "image.xyz";
    throw InputError("build path", "--format", text::unknown_name_message("image format", format, {"poscar", "cif", "extxyz"}));
}

void write_json(const fs::path& path, const nlohmann::json& j) {
    if (path.has_parent_path()) fs::create_directories(path.parent_path());
    write_file_atomically(path, j.dump(2) + "\n");
}

nlohmann::json vec_json(const Eigen::Vector3d& v) { return {v[0], v[1], v[2]}; }

std::array<int, 3> parse_repeats(std::string text) {
    const std::string original = text;
    std::replace(text.begin(), text.end(), ',', ' ');
    const auto t = text::split_ws(text);
    std::array<int, 3> n{0, 0, 0};
    for (std::size_t k = 0; k < t.size() && k < 3; ++k) n[k] = static_cast<int>(text::parse_int(t[k]).value_or(0));
    if (t.size() != 3 || n[0] < 1 || n[1] < 1 || n[2] < 1 || n[0] > 20 || n[1] > 20 || n[2] > 20)
        throw InputError("build sites", "--supercell", "'" + original + "' must be three integers 1..20, e.g. 2,2,2");
    return n;
}

void add_path_command(CLI::App& build, Commands& commands) {
    struct Options {
        std::string start, end, output, method = "linear", format = "poscar";
        int images = 5, steps = 100;
        double min_distance = 1.0, fmax = 0.1;
        bool no_mic = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = build.add_subcommand("path", "Initial NEB path between two end points (linear or IDPP)");
    cmd->add_option("START", o->start, "Initial end point (structure file)")->required();
    cmd->add_option("END", o->end, "Final end point (same atoms in the same order)")->required();
    cmd->add_option("--images", o->images, "Intermediate images N (writes 00..N+1)")->required()->check(CLI::Range(1, 98));
    cmd->add_option("--method", o->method, "linear or idpp (Smidstrup et al. 2014, as ASE)");
    cmd->add_option("--min-distance", o->min_distance,
                    "Fail when two atoms of an image are closer than this (Å; 0 disables the check)")
        ->check(CLI::Range(0.0, 10.0));
    cmd->add_option("--fmax", o->fmax, "IDPP band convergence (ASE's default 0.1)")->check(CLI::PositiveNumber);
    cmd->add_option("--steps", o->steps, "IDPP MDMin steps at most (ASE's default 100)")->check(CLI::Range(0, 100000));
    cmd->add_flag("--no-mic", o->no_mic, "Take END - START as written instead of the minimum image");
    cmd->add_option("--format", o->format, "Image files: poscar (DIR/NN/POSCAR), cif or extxyz");
    cmd->add_option("-o,--output", o->output, "Output folder")->required();
    commands.push_back({cmd, [o] {
        const std::string format = text::to_lower(o->format);
        const std::string file_name = image_file_name(format);
        structures::PathOptions po;
        po.images = o->images;
        po.method = structures::parse_path_method(o->method, "build path --method");
        po.mic = !o->no_mic;
        po.idpp.fmax = o->fmax;
        po.idpp.max_steps = o->steps;
        const auto start = structures::read_structure(o->start);
        const auto end = structures::read_structure(o->end);
        const auto path = structures::interpolate_path(start, end, po);
        const auto distances = structures::path_min_distances(path.images);
        // Validation before side effects: a path that pushes atoms into each other is not written.
        if (o->min_distance > 0) structures::check_path_distances(path.images, o->min_distance);

        const fs::path dir = o->output;
        nlohmann::json summary = {{"start", o->start},
                                  {"end", o->end},
                                  {"method", structures::to_string(path.method)},
                                  {"images", o->images},
                                  {"mic", po.mic},
                                  {"min_distance_threshold", o->min_distance},
                                  {"format", format}};
        if (path.method == structures::PathMethod::Idpp)
            summary["idpp"] = {{"steps", path.idpp_steps}, {"converged", path.idpp_converged}, {"fmax", path.idpp_fmax},
                               {"fmax_target", o->fmax}, {"max_steps", o->steps}};
        nlohmann::json list = nlohmann::json::array();
        std::cout << fmt::format("{} path, {} images + 2 end points{}\n", structures::to_string(path.method), o->images,
                                 path.method == structures::PathMethod::Idpp
                                     ? fmt::format(" (IDPP: {} steps, fmax {:.4f}, {})", path.idpp_steps, path.idpp_fmax,
                                                   path.idpp_converged ? "converged" : "not converged")
                                     : "");
        std::cout << "image  min distance (Å)  pair\n";
        for (std::size_t k = 0; k < path.images.size(); ++k) {
            const std::string sub = fmt::format("{:02d}", k);
            const fs::path file = dir / sub / file_name;
            structures::write_structure(file, path.images[k], format);
            const auto& d = distances[k];
            const auto& s = path.images[k];
            nlohmann::json entry = {{"image", k}, {"file", (fs::path(sub) / file_name).string()}};
            if (s.size() >= 2) {
                entry["min_distance"] = d.min_distance;
                entry["pair"] = {d.atom_a + 1, d.atom_b + 1};
                entry["species"] = {s[d.atom_a].species, s[d.atom_b].species};
                std::cout << fmt::format("{}     {:8.3f}          {} ({}) - {} ({})\n", sub, d.min_distance, d.atom_a + 1,
                                         s[d.atom_a].species, d.atom_b + 1, s[d.atom_b].species);
            }
            list.push_back(std::move(entry));
        }
        summary["path"] = std::move(list);
        write_json(dir / "summary.json", summary);
        std::cout << fmt::format("wrote {} images to {} and {}\n", path.images.size(), dir.string(),
                                 (dir / "summary.json").string());
        return 0;
    }});
}

void add_sites_command(CLI::App& build, Commands& commands) {
    struct Options {
        std::string input, kind = "interstitial", face = "top", species = "Li", output, hops, supercell = "1,1,1", from, to;
        double min_distance = 1.5, depth = 3.0, symprec = 1e-3, min_hop = 2.0, max_hop = 4.5;
        bool face_centres = false, reverse = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = build.add_subcommand("sites", "Li sites: adsorption, interstitial, vacancy or interface");
    cmd->add_option("FILE", o->input, "Phase name or structure file")->required();
    cmd->add_option("--kind", o->kind, "adsorption, interstitial, vacancy or interface");
    cmd->add_option("--face", o->face, "Adsorption: top or bottom face of the slab");
    cmd->add_option("--species", o->species, "Vacancy: the species removed; hops: the species that moves");
    cmd->add_option("--min-distance", o->min_distance, "Interstitial/interface: minimum distance to any atom (Å)")
        ->check(CLI::Range(0.0, 10.0));
    cmd->add_flag("--face-centres", o->face_centres, "Interstitial/interface: also Voronoi face centres (bcc octahedral sites)");
    cmd->add_option("--depth", o->depth, "Interface: distance from the interface plane (Å)")->check(CLI::PositiveNumber);
    cmd->add_option("--symprec", o->symprec, "Symmetry tolerance (Å)")->check(CLI::PositiveNumber);
    cmd->add_option("--supercell", o->supercell, "Repeat the cell a,b,c times first (for hops)");
    cmd->add_option("--hops", o->hops, "Also write the end points of the hops between sites to this folder");
    cmd->add_option("--from", o->from,
                    "Interface hops: the site to start from (inside A, or inside B with --reverse; default: the "
                    "shortest admissible hop)");
    cmd->add_option("--to", o->to, "Interface hops: the site to end on (inside B, or inside A with --reverse)");
    cmd->add_flag("--reverse", o->reverse, "Interface hops: from inside B into A instead of from A into B");
    cmd->add_option("--min-hop", o->min_hop, "Interface hops: shortest hop considered (Å)")->check(CLI::Range(0.0, 20.0));
    cmd->add_option("--max-hop", o->max_hop, "Interface hops: fail when the shortest admissible hop is longer (Å)")
        ->check(CLI::Range(0.0, 50.0));
    cmd->add_option("-o,--output", o->output, "Write the sites as JSON to this file");
    commands.push_back({cmd, [o] {
        const std::string kind = text::to_lower(o->kind);
        const std::vector<std::string> kinds{"adsorption", "interstitial", "vacancy", "interface"};
        if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end())
            throw InputError("build sites", "--kind", text::unknown_name_message("site kind", o->kind, kinds));
        auto s = load_bulk(o->input);
        const auto repeats = parse_repeats(o->supercell);
        if (repeats != std::array<int, 3>{1, 1, 1}) s = structures::repeat_cell(s, repeats);
        structures::InterstitialSearch is;
        is.min_distance = o->min_distance;
        is.face_centres = o->face_centres;
        is.symprec = o->symprec;
        structures::HopSearch hs;
        hs.species = o->species;
        hs.symprec = o->symprec;
        std::vector<structures::HopEndpoints> hops;
        nlohmann::json out = nlohmann::json::array();
        std::cout << fmt::format("{} sites of {} ({} atoms)\n", kind, s.formula(), s.size());
        if (kind == "adsorption") {
            structures::SiteSearch ss;
            ss.face = structures::parse_face(o->face, "build sites --face");
            const auto sites = structures::find_adsorption_sites(s, ss);
            std::cout << "name            mult  position (Å)\n";
            for (const auto& site : sites) {
                std::cout << fmt::format("{:<15} {:>4}  {:8.3f} {:8.3f} {:8.3f}\n", site.name, site.multiplicity,
                                         site.position[0], site.position[1], site.position[2]);
                out.push_back({{"name", site.name}, {"kind", structures::to_string(site.kind)},
                               {"face", structures::to_string(site.face)}, {"multiplicity", site.multiplicity},
                               {"position", vec_json(site.position)}});
                if (!o->hops.empty()) hops.push_back(structures::adsorbate_hop(s, site, o->species));
            }
        } else if (kind == "interstitial") {
            const auto sites = structures::find_interstitial_sites(s, is);
            std::cout << "name  wyckoff mult  radius (Å)  shell       polyhedron    fractional position\n";
            for (const auto& site : sites) {
                std::cout << fmt::format("{:<5} {:<7} {:>4}  {:9.3f}   {:<10}  {:<12}  {:.4f} {:.4f} {:.4f}\n", site.name,
                                         site.wyckoff, site.multiplicity, site.radius, site.shell, site.polyhedron,
                                         site.frac[0], site.frac[1], site.frac[2]);
                out.push_back({{"name", site.name}, {"wyckoff", site.wyckoff}, {"multiplicity", site.multiplicity},
                               {"radius", site.radius}, {"shell", site.shell}, {"polyhedron", site.polyhedron},
                               {"frac", vec_json(site.frac)}, {"position", vec_json(site.position)},
                               {"face_centre", site.face_centre}});
            }
            if (!o->hops.empty()) hops = structures::interstitial_hops(s, is, hs);
        } else if (kind == "vacancy") {
            const auto sites = structures::find_vacancy_sites(s, o->species, o->symprec);
            std::cout << "atom  species wyckoff mult  fractional position\n";
            for (const auto& site : sites) {
                std::cout << fmt::format("{:<5} {:<7} {:<7} {:>4}  {:.4f} {:.4f} {:.4f}\n", site.atom + 1, site.species,
                                         site.wyckoff, site.multiplicity, site.frac[0], site.frac[1], site.frac[2]);
                out.push_back({{"atom", site.atom + 1}, {"species", site.species}, {"wyckoff", site.wyckoff},
                               {"multiplicity", site.multiplicity}, {"frac", vec_json(site.frac)}});
            }
            if (!o->hops.empty()) hops = structures::vacancy_hops(s, hs);
        } else {
            structures::InterfaceSiteSearch fs_;
            fs_.interstitial = is;
            fs_.depth = o->depth;
            const auto sites = structures::find_interface_sites(s, fs_);
            std::cout << "name  side plane height (Å)  mult  radius (Å)  shell\n";
            for (const auto& site : sites) {
                std::cout << fmt::format("{:<5} {:<4} {:>5} {:10.3f}   {:>4}  {:9.3f}   {}\n", site.site.name, site.side,
                                         site.plane, site.height, site.site.multiplicity, site.site.radius, site.site.shell);
                out.push_back({{"name", site.site.name}, {"side", std::string(1, site.side)}, {"plane", site.plane},
                               {"height", site.height}, {"multiplicity", site.site.multiplicity},
                               {"radius", site.site.radius}, {"shell", site.site.shell},
                               {"frac", vec_json(site.site.frac)}, {"position", vec_json(site.site.position)}});
            }
            if (!o->hops.empty()) {
                structures::InterfaceHopOptions ho;
                ho.sites = fs_;
                ho.species = o->species;
                ho.from = o->from;
                ho.to = o->to;
                ho.reverse = o->reverse;
                ho.min_hop = o->min_hop;
                ho.max_hop = o->max_hop;
                hops.push_back(structures::interface_hop(s, ho));
            }
        }
        if (!o->output.empty()) {
            write_json(o->output, {{"input", o->input}, {"kind", kind}, {"sites", out}});
            std::cout << "wrote " << o->output << "\n";
        }
        for (std::size_t k = 0; k < hops.size(); ++k) {
            const fs::path dir = fs::path(o->hops) / fmt::format("hop_{}", k + 1);
            structures::write_structure(dir / "initial.vasp", hops[k].initial);
            structures::write_structure(dir / "final.vasp", hops[k].final);
            std::cout << fmt::format("hop {}: {} -> {}/{{initial,final}}.vasp\n", k + 1, hops[k].description, dir.string());
        }
        return 0;
    }});
}

}  // namespace

void add_build_path_commands(CLI::App& build, Commands& commands) {
    add_path_command(build, commands);
    add_sites_command(build, commands);
}

}  // namespace interphase::cli
