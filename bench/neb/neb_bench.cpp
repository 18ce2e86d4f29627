// bench/neb: Interphase's CI-NEB against ASE 3.22's NEB(method='improvedtangent', climb=True)
// on the same EMT systems and the same initial paths. For each system, ase_neb.py (beside this
// file) relaxes the endpoints with ASE, writes the linear initial path and runs ASE's FIRE and
// BFGS on it; then this program runs our FIRE, BFGS and L-BFGS band optimizers from that path
// with the builtin EMT and prints, per optimizer: the barrier (ours, ASE's, difference; target
// within 5 meV) and the force calls on the moving images (ours and ASE's; target: fewer).
//
//   bench_neb [--python /usr/bin/python3] [--systems au_al100,pt_pt100,cu_vacancy] [--fmax 0.05]
//             [--cache DIR]
//
// With --cache, ASE's results are read from DIR/<system>.json when present (and written there
// otherwise), so our side can be re-run without waiting for ASE (ASE's runs take ~1 min).
//
// Exit status 1 when a barrier differs by more than 5 meV or a run did not converge.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

#include "engine/drivers/forces.hpp"
#include "engine/drivers/neb.hpp"
#include "plugins/builtin/emt.hpp"
#include "structures/structure.hpp"

#ifndef INTERPHASE_BENCH_NEB_DIR
#define INTERPHASE_BENCH_NEB_DIR "."
#endif

using namespace interphase;
using namespace interphase::engine::drivers;

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    for (std::string item; std::getline(ss, item, sep);)
        if (!item.empty()) out.push_back(item);
    return out;
}

nlohmann::json run_ase(const std::string& python, const std::string& system, double fmax, const std::string& cache) {
    if (!cache.empty()) {
        std::ifstream cached(cache + "/" + system + ".json");
        if (cached) {
            auto j = nlohmann::json::parse(cached);
            if (j.at("fmax").get<double>() == fmax) return j;
        }
    }
    const std::string out = cache.empty() ? fmt::format("/tmp/interphase_bench_neb_{}_{}.json", system, ::getpid())
                                          : cache + "/" + system + ".json";
    const std::string cmd = fmt::format("{} {}/ase_neb.py {} --fmax {} > {}", python, INTERPHASE_BENCH_NEB_DIR, system,
                                        fmax, out);
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("reference failed: " + cmd);
    std::ifstream in(out);
    auto j = nlohmann::json::parse(in);
    if (cache.empty()) std::remove(out.c_str());
    return j;
}

}  // namespace

int main(int argc, char** argv) {
    std::string python = "/usr/bin/python3";
    std::string systems = "au_al100,pt_pt100,cu_vacancy";
    double fmax = 0.05;
    std::string cache;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "--python" && i + 1 < argc) python = argv[++i];
        else if (a == "--systems" && i + 1 < argc) systems = argv[++i];
        else if (a == "--fmax" && i + 1 < argc) fmax = std::atof(argv[++i]);
        else if (a == "--cache" && i + 1 < argc) cache = argv[++i];
        else {
            std::cerr << "usage: bench_neb [--python PY] [--systems a,b,c] [--fmax F] [--cache DIR]\n";
            return 2;
        }
    }

    const plugins::builtin::Emt emt;
    const ForceProvider forces = in_process(emt);
    bool ok = true;
    fmt::print("{:<11} {:<6} {:>6} {:>11} {:>11} {:>8} {:>7} {:>7} {:>9} {:>9}\n", "system", "optim", "images",
               "barrier", "ASE", "diff meV", "calls", "ASE", "ours s", "ASE s");
    for (const auto& system : split(systems, ',')) {
        const auto ref = run_ase(python, system, fmax, cache);
        std::vector<structures::Structure> path;
        for (const auto& j : ref.at("path")) path.push_back(structures::structure_from_json(j, system + " path"));
        const int moving = static_cast<int>(path.size()) - 2;
        for (auto o : {BandOptimizer::Fire, BandOptimizer::Bfgs, BandOptimizer::Lbfgs}) {
            NebOptions opt;
            opt.optimizer = o;
            opt.fmax = fmax;
            opt.spring = ref.at("k").get<double>();
            const auto t0 = std::chrono::steady_clock::now();
            const auto r = run_neb(path, opt, forces);
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            // L-BFGS has no ASE twin here: it is compared with ASE's best quasi-Newton, BFGS.
            const auto& ase = ref.at("runs").at(o == BandOptimizer::Fire ? "fire" : "bfgs");
            const double ase_barrier = ase.at("forward_barrier").get<double>();
            const double diff = 1000 * (r.forward_barrier - ase_barrier);
            const long calls = r.force_calls - 2;  // the two endpoint evaluations of the first batch
            const bool good = r.converged && std::abs(diff) <= 5.0;
            ok &= good;
            fmt::print("{:<11} {:<6} {:>6} {:>11.6f} {:>11.6f} {:>8.3f} {:>7} {:>7} {:>9.3f} {:>9.3f}{}{}\n", system,
                       o == BandOptimizer::Lbfgs ? "lbfgs" : to_string(o), moving, r.forward_barrier, ase_barrier,
                       diff, calls, ase.at("force_calls").get<long>(), seconds, ase.at("seconds").get<double>(),
                       r.converged ? "" : "  NOT CONVERGED", std::abs(diff) <= 5.0 ? "" : "  BARRIER OFF");
        }
    }
    fmt::print("(calls: EMT evaluations of the moving images; lbfgs is compared with ASE's BFGS)\n");
    return ok ? 0 : 1;
}
