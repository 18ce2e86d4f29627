// Interfaces A|B for four pairs of the project's phases, timed against pymatgen 2022.11
// (ZSLGenerator + CoherentInterfaceBuilder, bench_interfaces_pymatgen.py beside this file) in
// one run: the same bulk crystals, planes and ZSL settings on both sides.
//
//   bench_interfaces [--repeat N] [--no-pymatgen]
//
// Prints per pair: ZSL matches (ours and pymatgen's: equal when both searches agree),
// interfaces built (ours: distinct matches x termination pairs, one registry each; pymatgen:
// every match x termination pair, no merging), atoms written, the time of each and the ratio.
// Exit status 1 when the ZSL match counts differ.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "structures/interface.hpp"
#include "structures/prototypes.hpp"

namespace fs = std::filesystem;
using namespace interphase::structures;

namespace {

struct Pair {
    std::string a;
    std::array<int, 3> ma;
    std::string b;
    std::array<int, 3> mb;
    double max_area;  // Å², below the default 400 where pymatgen would take minutes
};

// The pairs of the interface test (tests/structures/test_interface.cpp), A = substrate.
const std::vector<Pair> kPairs = {
    {"Al", {1, 1, 1}, "Li2S", {1, 1, 1}, 200},
    {"LiAl", {1, 1, 0}, "Al", {1, 1, 1}, 250},
    {"Li", {1, 1, 0}, "Al", {1, 0, 0}, 130},
    {"LiCl", {1, 0, 0}, "Li2S", {1, 0, 0}, 400},
};

nlohmann::json bulk_json(const Structure& s, const std::array<int, 3>& miller) {
    nlohmann::json lat = nlohmann::json::array(), sp = nlohmann::json::array(), frac = nlohmann::json::array();
    for (int i = 0; i < 3; ++i) lat.push_back({s.lattice()(i, 0), s.lattice()(i, 1), s.lattice()(i, 2)});
    for (const auto& a : s.atoms()) {
        sp.push_back(a.species);
        frac.push_back({a.frac[0], a.frac[1], a.frac[2]});
    }
    return {{"lattice", lat}, {"species", sp}, {"frac", frac}, {"miller", miller}};
}

std::string name_of(const Pair& p) {
    return fmt::format("{}({}{}{})|{}({}{}{})", p.a, p.ma[0], p.ma[1], p.ma[2], p.b, p.mb[0], p.mb[1], p.mb[2]);
}

InterfaceSpec spec_of(const Pair& p) {
    InterfaceSpec spec;
    spec.miller_a = p.ma;
    spec.miller_b = p.mb;
    spec.layers_a = 1;  // pymatgen: substrate_thickness = film_thickness = 1 (d_hkl units)
    spec.layers_b = 1;
    spec.zsl.max_area = p.max_area;  // other tolerances: ZSLGenerator's, bidirectional
    spec.shifts = 1;
    spec.max_interfaces = 1000000;  // build every candidate
    return spec;
}

}  // namespace

int main(int argc, char** argv) {
    int repeat = 5;
    bool pymatgen = true;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--repeat" && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
        else if (arg == "--no-pymatgen") pymatgen = false;
        else {
            std::cerr << "usage: bench_interfaces [--repeat N] [--no-pymatgen]\n";
            return 2;
        }
    }

    struct Ours {
        std::size_t matches = 0, distinct = 0, interfaces = 0, atoms = 0;
        double seconds = 0;
    };
    std::vector<Ours> ours;
    nlohmann::json cases = nlohmann::json::array();
    for (const auto& p : kPairs) {
        const auto a = build_bulk(p.a), b = build_bulk(p.b);
        const auto spec = spec_of(p);
        Ours o;
        double best = 1e300;
        for (int r = 0; r < repeat; ++r) {
            const auto t0 = std::chrono::steady_clock::now();
            const auto set = build_interfaces(a, b, spec);
            const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            best = std::min(best, dt);
            o.matches = set.matches.size();
            o.distinct = 0;
            for (const auto& m : set.matches) o.distinct += m.buildable && m.equivalent_to < 0;
            o.interfaces = set.interfaces.size();
            o.atoms = 0;
            for (const auto& c : set.interfaces) o.atoms += c.structure.size();
        }
        o.seconds = best;
        ours.push_back(o);
        cases.push_back({{"name", name_of(p)},
                         {"a", bulk_json(a, p.ma)},
                         {"b", bulk_json(b, p.mb)},
                         {"gap", spec.gap},
                         {"vacuum", spec.vacuum},
                         {"settings",
                          {{"max_area_ratio_tol", spec.zsl.max_area_ratio_tol},
                           {"max_area", spec.zsl.max_area},
                           {"max_length_tol", spec.zsl.max_length_tol},
                           {"max_angle_tol", spec.zsl.max_angle_tol},
                           {"bidirectional", spec.zsl.bidirectional}}}});
    }

    nlohmann::json ref = nlohmann::json::array();
    if (pymatgen) {
#ifdef INTERPHASE_BENCH_STRUCTURES_DIR
        const fs::path script = fs::path(INTERPHASE_BENCH_STRUCTURES_DIR) / "bench_interfaces_pymatgen.py";
#else
        const fs::path script = fs::path(__FILE__).parent_path() / "bench_interfaces_pymatgen.py";
#endif
        const fs::path input = fs::temp_directory_path() / fmt::format("bench_interfaces_{}.json", ::getpid());
        std::ofstream(input) << cases.dump();
        const std::string cmd = "/usr/bin/python3 '" + script.string() + "' '" + input.string() + "'";
        std::string text;
        if (FILE* pipe = ::popen(cmd.c_str(), "r")) {
            char buf[4096];
            std::size_t n;
            while ((n = std::fread(buf, 1, sizeof buf, pipe)) > 0) text.append(buf, n);
            const int rc = ::pclose(pipe);
            if (rc != 0) std::cerr << "bench_interfaces: the pymatgen reference failed (exit " << rc << ")\n";
        }
        fs::remove(input);
        try {
            ref = nlohmann::json::parse(text);
        } catch (const std::exception&) {
            std::cerr << "bench_interfaces: no pymatgen numbers (is python3-pymatgen installed?)\n";
            ref = nlohmann::json::array();
        }
    }

    std::cout << fmt::format("{:<24} {:>9} {:>9} {:>9} {:>11} {:>11} {:>10} {:>10} {:>11} {:>11} {:>8}\n", "pair",
                             "area Å²", "matches", "pmg", "interfaces", "pmg", "atoms", "pmg", "ours (s)", "pmg (s)",
                             "ratio");
    double total_ours = 0, total_pmg = 0;
    bool counts_differ = false;
    for (std::size_t i = 0; i < kPairs.size(); ++i) {
        const auto& o = ours[i];
        total_ours += o.seconds;
        std::string pm = "-", pi = "-", pa = "-", pt = "-", ratio = "-";
        if (i < ref.size()) {
            const auto& r = ref[i];
            pm = std::to_string(r["matches"].get<int>());
            counts_differ |= r["matches"].get<std::size_t>() != o.matches;
            pi = std::to_string(r["interfaces"].get<int>());
            pa = std::to_string(r["atoms"].get<long>());
            const double t = r["seconds_total"].get<double>();
            total_pmg += t;
            pt = fmt::format("{:.3f}", t);
            ratio = fmt::format("{:.0f}x", t / o.seconds);
        }
        std::cout << fmt::format("{:<24} {:>9.0f} {:>9} {:>9} {:>11} {:>11} {:>10} {:>10} {:>11.4f} {:>11} {:>8}\n",
                                 name_of(kPairs[i]), kPairs[i].max_area,
                                 fmt::format("{} ({})", o.matches, o.distinct), pm, o.interfaces, pi, o.atoms, pa,
                                 o.seconds, pt, ratio);
    }
    if (!ref.empty())
        std::cout << fmt::format("total: ours {:.4f} s, pymatgen {:.2f} s, ratio {:.0f}x\n", total_ours, total_pmg,
                                 total_pmg / total_ours);
    std::cout << "matches: all ZSL matches (distinct after merging symmetry-equivalent ones); interfaces: ours one per\n"
                 "distinct match x termination pair (one registry), pymatgen one per match x termination pair.\n";
    if (counts_differ) std::cout << "ZSL match counts differ from pymatgen's\n";
    return counts_differ ? 1 : 0;
}
