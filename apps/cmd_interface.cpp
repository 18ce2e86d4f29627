// build interface: heterointerfaces A|B by Zur–McGill lattice matching (structures/interface.hpp);
// writes the ranked interfaces as extended XYZ and a summary.json listing every match.
#include <cmath>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <memory>

#include "apps/command.hpp"
#include "common/errors.hpp"
#include "common/files.hpp"
#include "common/text.hpp"
#include "structures/interface.hpp"
#include "structures/io.hpp"
#include "structures/slab.hpp"

namespace fs = std::filesystem;

namespace interphase::cli {

namespace {

constexpr const char* kSource = "build interface";

void write_json_atomically(const fs::path& path, const nlohmann::json& j) { write_file_atomically(path, j.dump(2) + "\n"); }

nlohmann::json face_json(const structures::InterfaceFace& f, const std::string& input, int layers) {
    nlohmann::json cuts = nlohmann::json::array();
    for (const auto& c : f.cuts)
        cuts.push_back({{"index", c.index},
                        {"top", c.top},
                        {"bottom", c.bottom},
                        {"facing", c.facing},
                        {"shift", c.shift},
                        {"gap", c.gap},
                        {"atoms", c.slab.size()}});
    const auto& v = f.unit_vectors;
    return {{"input", input},
            {"name", f.name},
            {"miller", f.miller},
            {"layers", layers},
            {"d_hkl", f.d_spacing},
            {"unit_vectors", {{v[0][0], v[0][1], v[0][2]}, {v[1][0], v[1][1], v[1][2]}}},
            {"unit_area", f.unit_area},
            {"terminations", cuts}};
}

}  // namespace

void add_build_interface_command(CLI::App& build, Commands& commands) {
    struct Options {
        std::string input_a, input_b, miller_a, miller_b, output, strained = "b";
        int layers_a = 3, layers_b = 3, shifts = 1, max = 20;
        double max_area = 400, max_strain = 3, max_angle_strain = 1, area_ratio_tol = 0.09, gap = 2.0, vacuum = 15.0;
        bool periodic = false, unidirectional = false;
    };
    auto o = std::make_shared<Options>();

    auto* cmd = build.add_subcommand("interface", "Heterointerfaces A|B by Zur–McGill lattice matching");
    cmd->add_option("A", o->input_a, "Bottom crystal (pymatgen's substrate): phase name or bulk structure file")->required();
    cmd->add_option("B", o->input_b, "Top crystal (pymatgen's film): phase name or bulk structure file")->required();
    cmd->add_option("--miller-a", o->miller_a, "Miller index of A, h,k,l")->required();
    cmd->add_option("--miller-b", o->miller_b, "Miller index of B, h,k,l")->required();
    cmd->add_option("--layers-a", o->layers_a, "Repeats of d_hkl in A's slab (default 3)");
    cmd->add_option("--layers-b", o->layers_b, "Repeats of d_hkl in B's slab (default 3)");
    cmd->add_option("--max-area", o->max_area, "Largest supercell area searched, Å² (ZSL max_area, default 400)");
    cmd->add_option("--max-strain", o->max_strain, "Largest length mismatch of the reduced vectors, % (ZSL max_length_tol, default 3)");
    cmd->add_option("--max-angle-strain", o->max_angle_strain, "Largest relative mismatch of the angle, % (ZSL max_angle_tol, default 1)");
    cmd->add_option("--area-ratio-tol", o->area_ratio_tol, "ZSL max_area_ratio_tol (default 0.09)");
    cmd->add_flag("--unidirectional", o->unidirectional, "Only strain B onto A in the tolerance test (default: both ways)");
    cmd->add_option("--strained", o->strained, "Side that takes the strain: a or b (default b)");
    cmd->add_option("--gap", o->gap, "Å between A's top plane and B's bottom plane (default 2)");
    cmd->add_option("--shifts", o->shifts, "n: n x n in-plane shifts of B over A's surface cell (default 1)");
    auto* vac = cmd->add_option("--vacuum", o->vacuum, "Å of vacuum above B (default 15)");
    cmd->add_flag("--periodic", o->periodic, "Fully periodic: a second B|A interface across the cell")->excludes(vac);
    cmd->add_option("--max", o->max, "How many ranked interfaces to write (default 20; 0: only summary.json)");
    cmd->add_option("-o,--output", o->output, "Output folder")->required();

    commands.push_back({cmd, [o] {
        auto bad = [](const std::string& option, const std::string& why) { throw InputError(kSource, option, why); };
        structures::InterfaceSpec spec;
        spec.miller_a = structures::parse_miller(o->miller_a, "--miller-a");
        spec.miller_b = structures::parse_miller(o->miller_b, "--miller-b");
        if (o->layers_a < 1 || o->layers_a > 100) bad("--layers-a", fmt::format("must be 1..100 (got {})", o->layers_a));
        if (o->layers_b < 1 || o->layers_b > 100) bad("--layers-b", fmt::format("must be 1..100 (got {})", o->layers_b));
        // The enumeration grows as (area / cell area)^2: beyond a few thousand Å² it takes minutes.
        if (!(o->max_area > 0) || o->max_area > 5000) bad("--max-area", fmt::format("must be in (0, 5000] Å² (got {})", o->max_area));
        if (!(o->max_strain > 0) || o->max_strain >= 50) bad("--max-strain", fmt::format("must be in (0, 50) % (got {})", o->max_strain));
        if (!(o->max_angle_strain > 0) || o->max_angle_strain >= 50)
            bad("--max-angle-strain", fmt::format("must be in (0, 50) % (got {})", o->max_angle_strain));
        if (!(o->area_ratio_tol > 0) || o->area_ratio_tol > 1)
            bad("--area-ratio-tol", fmt::format("must be in (0, 1] (got {})", o->area_ratio_tol));
        if (!(o->gap > 0) || o->gap > 50) bad("--gap", fmt::format("must be in (0, 50] Å (got {})", o->gap));
        if (o->shifts < 1 || o->shifts > 20) bad("--shifts", fmt::format("must be 1..20 (got {})", o->shifts));
        if (!o->periodic && (!(o->vacuum > 0) || o->vacuum > 500))
            bad("--vacuum", fmt::format("must be in (0, 500] Å (got {}); use --periodic for no vacuum", o->vacuum));
        if (o->max < 0 || o->max > 10000) bad("--max", fmt::format("must be 0..10000 (got {})", o->max));
        const auto side = text::to_lower(o->strained);
        if (side != "a" && side != "b") bad("--strained", fmt::format("must be a or b (got '{}')", o->strained));

        spec.layers_a = o->layers_a;
        spec.layers_b = o->layers_b;
        spec.zsl.max_area = o->max_area;
        spec.zsl.max_length_tol = o->max_strain / 100;
        spec.zsl.max_angle_tol = o->max_angle_strain / 100;
        spec.zsl.max_area_ratio_tol = o->area_ratio_tol;
        spec.zsl.bidirectional = !o->unidirectional;
        spec.strained = side == "a" ? structures::InterfaceSide::A : structures::InterfaceSide::B;
        spec.gap = o->gap;
        spec.shifts = o->shifts;
        spec.periodic = o->periodic;
        spec.vacuum = o->vacuum;
        spec.max_interfaces = o->max;

        const auto bulk_a = load_bulk(o->input_a);
        const auto bulk_b = load_bulk(o->input_b);
        const auto set = structures::build_interfaces(bulk_a, bulk_b, spec);

        const fs::path dir = o->output;
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) throw StorageError(fmt::format("cannot create {}: {}", dir.string(), ec.message()));

        nlohmann::json summary;
        summary["a"] = face_json(set.a, o->input_a, spec.layers_a);
        summary["b"] = face_json(set.b, o->input_b, spec.layers_b);
        summary["settings"] = {{"max_area", spec.zsl.max_area},
                               {"max_length_tol", spec.zsl.max_length_tol},
                               {"max_angle_tol", spec.zsl.max_angle_tol},
                               {"max_area_ratio_tol", spec.zsl.max_area_ratio_tol},
                               {"bidirectional", spec.zsl.bidirectional},
                               {"strained", structures::to_string(spec.strained)},
                               {"gap", spec.gap},
                               {"shifts", spec.shifts},
                               {"periodic", spec.periodic},
                               {"vacuum", spec.periodic ? 0.0 : spec.vacuum},
                               {"max", spec.max_interfaces}};
        summary["zsl_matches"] = nlohmann::json::array();
        std::size_t distinct = 0;
        for (const auto& m : set.matches) {
            summary["zsl_matches"].push_back(structures::to_json(m));
            distinct += m.buildable && m.equivalent_to < 0;
        }
        summary["distinct_matches"] = distinct;
        summary["candidates"] = set.candidates;
        summary["interfaces"] = nlohmann::json::array();
        summary["no_match"] = nullptr;

        if (set.no_match) {
            const auto& nm = *set.no_match;
            summary["no_match"] = {{"message", nm.message},
                                   {"relaxed_area", nm.relaxed_area},
                                   {"first_beyond", nm.first_beyond ? structures::to_json(*nm.first_beyond) : nlohmann::json(nullptr)},
                                   {"closest_within", nm.closest_within ? structures::to_json(*nm.closest_within) : nlohmann::json(nullptr)}};
            write_json_atomically(dir / "summary.json", summary);
            throw InputError(kSource, "--max-area", nm.message + fmt::format(" (details in {})", (dir / "summary.json").string()));
        }

        std::cout << fmt::format("{} ZSL matches of {}({}{}{}) on {}({}{}{}) ({} distinct), {} candidate interfaces\n",
                                 set.matches.size(), set.b.name, set.b.miller[0], set.b.miller[1], set.b.miller[2],
                                 set.a.name, set.a.miller[0], set.a.miller[1], set.a.miller[2], distinct, set.candidates);
        for (const auto& c : set.interfaces) {
            const auto file = fmt::format("interface_{:03d}.extxyz", c.rank);
            structures::write_structure(dir / file, c.structure);
            const auto& m = set.matches[static_cast<std::size_t>(c.match)];
            const auto& ca = set.a.cuts[static_cast<std::size_t>(c.cut_a)];
            const auto& cb = set.b.cuts[static_cast<std::size_t>(c.cut_b)];
            summary["interfaces"].push_back({{"rank", c.rank},
                                             {"file", file},
                                             {"match", c.match},
                                             {"termination", {{"a", {{"cut", ca.index}, {"label", ca.label()}, {"facing", ca.facing}}},
                                                              {"b", {{"cut", cb.index}, {"label", cb.label()}, {"facing", cb.facing}}}}},
                                             {"shift", {c.shift[0], c.shift[1]}},
                                             {"atoms", c.structure.size()},
                                             {"formula", c.structure.formula()},
                                             {"area", m.area},
                                             {"von_mises_strain", m.von_mises_strain}});
            std::cout << fmt::format("wrote {} ({}, {} atoms): match {}, area {:.2f} Å², von Mises strain {:.2f}% ({} "
                                     "strained), {} on {} (cuts A {}, B {}), shift ({:.3f}, {:.3f})\n",
                                     (dir / file).string(), c.structure.formula(), c.structure.size(), c.match, m.area,
                                     100 * m.von_mises_strain, structures::to_string(spec.strained), cb.facing,
                                     ca.facing, ca.label(), cb.label(), c.shift[0], c.shift[1]);
        }
        write_json_atomically(dir / "summary.json", summary);
        std::cout << fmt::format("wrote {}\n", (dir / "summary.json").string());
        return 0;
    }});
}

}  // namespace interphase::cli
