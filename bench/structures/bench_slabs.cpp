// Slabs of every shipped phase (Li, Al, LiAl, Li2S, Li3P, LiCl) for all symmetrically distinct
// Miller indices up to --max-index, timed against pymatgen 2022.11's SlabGenerator
// (bench_slabs_pymatgen.py beside this file) in one run, on the same bulk files and arguments
// (min_slab_size, min_vacuum_size, center_slab, primitive, ftol = tol = 0.1).
//
//   bench_slabs [--max-index N] [--thickness Å] [--vacuum Å] [--phases Li,Al,...] [--work DIR]
//
// Prints per case the terminations and atoms per slab of both (they must be equal), both
// times and the ratio; then the totals. Our time is the SlabGenerator plus every slab built
// with its metadata (what `interphase build slab --all-terminations` computes), averaged over
// as many repeats as fit in 20 ms. Exit status 1 when any count differs.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <unistd.h>
#include <vector>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "structures/io.hpp"
#include "structures/prototypes.hpp"
#include "structures/slab.hpp"

namespace fs = std::filesystem;
using namespace interphase;
using namespace interphase::structures;

namespace {

struct Options {
    int max_index = 1;
    double thickness = 10, vacuum = 10;
    std::vector<std::string> phases{"Li", "Al", "LiAl", "Li2S", "Li3P", "LiCl"};
    fs::path work;
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) throw InputError("bench_slabs", a, "needs a value");
            return argv[++i];
        };
        if (a == "--max-index") o.max_index = static_cast<int>(text::parse_int(value()).value_or(0));
        else if (a == "--thickness") o.thickness = text::parse_double(value()).value_or(-1);
        else if (a == "--vacuum") o.vacuum = text::parse_double(value()).value_or(-1);
        else if (a == "--phases") {
            std::string s = value();
            std::replace(s.begin(), s.end(), ',', ' ');
            o.phases = text::split_ws(s);
        } else if (a == "--work") o.work = value();
        else if (a == "-h" || a == "--help") {
            std::cout << "bench_slabs [--max-index N] [--thickness Å] [--vacuum Å] [--phases Li,Al,...] [--work DIR]\n";
            std::exit(0);
        } else throw InputError("bench_slabs", a, "unknown option (see --help)");
    }
    if (o.max_index < 1 || o.max_index > 3) throw InputError("bench_slabs", "--max-index", "must be 1..3");
    if (o.thickness <= 0) throw InputError("bench_slabs", "--thickness", "must be > 0 Å");
    if (o.vacuum <= 0) throw InputError("bench_slabs", "--vacuum", "must be > 0 Å");
    if (o.work.empty()) o.work = fs::temp_directory_path() / fmt::format("interphase-bench-slabs-{}", ::getpid());
    return o;
}

int run(const Options& o) {
    fs::create_directories(o.work);
    nlohmann::json input = {{"phases", nlohmann::json::object()},
                            {"max_index", o.max_index},
                            {"min_slab", o.thickness},
                            {"min_vacuum", o.vacuum}};
    for (const auto& p : o.phases) {
        const auto file = o.work / (p + ".cif");
        write_structure(file, build_bulk(p));
        input["phases"][p] = file.string();
    }
    std::ofstream(o.work / "input.json") << input.dump(1);
    const std::string script = std::string(INTERPHASE_BENCH_STRUCTURES_DIR) + "/bench_slabs_pymatgen.py";
    const std::string cmd = fmt::format("/usr/bin/python3 '{}' '{}' '{}'", script, (o.work / "input.json").string(),
                                        (o.work / "pymatgen.json").string());
    std::cerr << "running pymatgen (" << cmd << ")\n";
    if (std::system(cmd.c_str()) != 0) {
        std::cerr << "bench_slabs: the pymatgen reference failed (python3-pymatgen installed?)\n";
        return 2;
    }
    nlohmann::json ref;
    std::ifstream(o.work / "pymatgen.json") >> ref;

    std::cout << fmt::format("{:<6} {:<9} {:>14} {:>14}  {:<24} {:>10} {:>10} {:>8}\n", "phase", "hkl", "terms pmg/ours",
                             "atoms equal", "atoms per slab", "pmg ms", "ours ms", "ratio");
    double total_pmg = 0, total_ours = 0;
    int mismatches = 0;
    for (const auto& c : ref["cases"]) {
        const std::string phase = c["phase"];
        const auto miller = c["miller"].get<std::array<int, 3>>();
        const auto bulk = read_structure(o.work / (phase + ".cif"));
        SlabSpec spec;
        spec.miller = miller;
        spec.thickness = o.thickness;
        spec.vacuum = o.vacuum;
        std::vector<int> atoms;
        std::size_t terms = 0;
        int repeats = 0;
        const auto start = std::chrono::steady_clock::now();
        double elapsed = 0;
        do {
            const SlabGenerator gen(bulk, spec);
            const auto slabs = gen.all_slabs(spec);
            terms = gen.terminations().size();
            atoms.clear();
            for (const auto& s : slabs) atoms.push_back(static_cast<int>(s.size()));
            ++repeats;
            elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        } while (elapsed < 0.02);
        const double ours = elapsed / repeats;
        std::sort(atoms.begin(), atoms.end());
        const double pmg = c["seconds"].get<double>();
        const bool same = terms == c["terminations"].get<std::size_t>() && atoms == c["atoms"].get<std::vector<int>>();
        mismatches += !same;
        total_pmg += pmg;
        total_ours += ours;
        std::string list;
        for (auto n : atoms) list += (list.empty() ? "" : ",") + std::to_string(n);
        std::cout << fmt::format("{:<6} {:<9} {:>6}/{:<7} {:>14}  {:<24} {:>10.2f} {:>10.4f} {:>7.0f}x\n", phase,
                                 fmt::format("({}{}{})", miller[0], miller[1], miller[2]), c["terminations"].get<int>(), terms,
                                 same ? "yes" : "NO", list, 1e3 * pmg, 1e3 * ours, pmg / ours);
    }
    std::cout << fmt::format("\n{} cases (max index {}, min_slab_size {} Å, min_vacuum_size {} Å), pymatgen {}\n",
                             ref["cases"].size(), o.max_index, o.thickness, o.vacuum, ref["pymatgen"].get<std::string>());
    std::cout << fmt::format("total: pymatgen {:.2f} s, Interphase {:.4f} s: {:.0f}x faster (target >= 50x); "
                             "counts {} (target: all equal)\n",
                             total_pmg, total_ours, total_pmg / total_ours,
                             mismatches == 0 ? "all equal" : fmt::format("{} DIFFERENT", mismatches));
    return mismatches == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run(parse(argc, argv));
    } catch (const Error& e) {
        std::cerr << "bench_slabs: " << e.what() << "\n";
        return 2;
    }
}
