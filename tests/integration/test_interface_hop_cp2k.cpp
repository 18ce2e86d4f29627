// A Li hop across an Al(100)|Li2S(100) interface on real CP2K at the smallest size
// (tests/integration/data/cp2k_interface_hop.yaml, ~2.5 min on 2 cores): the interface science
// runs through a DFT code end to end — the hop's end points are the site relaxations themselves
// (reused by hash, not computed twice), they sit on their sides, every image energy of the band
// is an energy CP2K printed, E_b per side is recomputed from CP2K's outputs, and the band, not
// converged in its 4 iterations, is marked so and left out of the ΔE row.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "cp2k_output.hpp"
#include "engine/runner.hpp"
#include "engine/store.hpp"
#include "interface_atoms.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;
using namespace interphase;
using testing::cp2k_energy;
using testing::run_cli;
using testing::slurp;

TEST_CASE("a Li hop across Al(100)|Li2S(100) on CP2K: end points reused, sides, CP2K's own energies") {
    if (!testing::have_cp2k()) {
        MESSAGE("cp2k.psmp not on PATH: skipped (scripts/setup.sh installs it)");
        return;
    }
    const auto dir = testing::scratch("iface-cp2k");
    fs::copy_file(testing::source_dir() / "tests/integration/data/cp2k_interface_hop.yaml", dir / "wf.yaml");
    REQUIRE(run_cli(dir, "run wf.yaml --run-dir run --cores 2", "run.log") == 0);
    INFO(slurp(dir / "run.log"));
    const fs::path run = dir / "run";
    engine::RunStore store(run);
    auto out_of = [&store](const std::string& task) {
        const auto out = store.output_of(task);
        REQUIRE_MESSAGE(out, task);
        return *out;
    };
    auto cp2k_out = [&run](const std::string& task) { return run / "tasks" / engine::task_folder_name(task) / "cp2k.out"; };

    // E_b on each side of the same interface, from CP2K's printed energies.
    const double mu = cp2k_energy(cp2k_out("reference/Li-atom/energy"));
    const double host = cp2k_energy(cp2k_out("Al|Li2S/interface/relax"));
    const double eb_a = cp2k_energy(cp2k_out("Al|Li2S/A2+Li/relax")) - host - mu;
    const double eb_b = cp2k_energy(cp2k_out("Al|Li2S/B3+Li/relax")) - host - mu;
    CHECK(out_of("Al|Li2S/A/binding_energy")["binding_energy"].get<double>() == doctest::Approx(eb_a).epsilon(1e-9));
    CHECK(out_of("Al|Li2S/B/binding_energy")["binding_energy"].get<double>() == doctest::Approx(eb_b).epsilon(1e-9));
    CHECK(out_of("Al|Li2S/delta_e")["delta_e"].get<double>() == doctest::Approx(eb_a - eb_b).epsilon(1e-9));

    // The hop's end points are the structures of sites A2 and B3: their relaxations are the
    // sites' own, reused by hash within the run — a DFT relaxation is not paid twice.
    const std::string base = "Al|Li2S/hop/A2-B3";
    std::map<std::string, engine::TaskRecord> records;
    for (const auto& t : store.tasks()) records[t.name] = t;
    for (const auto& [end, site] : {std::pair{"initial", "A2"}, std::pair{"final", "B3"}}) {
        CAPTURE(end);
        const auto& endpoint = records.at(base + "/" + end + "/relax");
        CHECK(endpoint.state == engine::state::kDone);
        CHECK(endpoint.reused);
        CHECK(endpoint.reused_from == "this run");
        CHECK(endpoint.hash == records.at(std::string("Al|Li2S/") + site + "+Li/relax").hash);
        CHECK(store.executions(base + "/" + end + "/relax") == 0);
    }

    // The Li starts inside Al (below the plane between the sides) and ends inside Li2S.
    const auto initial = testing::atoms_of(out_of(base + "/initial/relax")["structure"]);
    const auto final = testing::atoms_of(out_of(base + "/final/relax")["structure"]);
    CHECK(initial.z.back() < testing::interface_plane(initial));
    CHECK(final.z.back() > testing::interface_plane(final));
    const auto check = out_of(base + "/check");
    CHECK(check["initial_side"] == "A");
    CHECK(check["final_side"] == "B");
    CHECK(check["separation_A"].get<double>() > 1.0);

    // Every energy of the band is one CP2K printed in an image's folder; every image folder's
    // stored result is the energy of its own cp2k.out.
    const auto neb = out_of(base + "/neb");
    std::vector<double> printed;
    const fs::path images = run / "tasks" / engine::task_folder_name(base + "/neb") / "images";
    REQUIRE(fs::is_directory(images));
    for (const auto& image : fs::directory_iterator(images)) {
        if (!fs::exists(image.path() / "result.json")) continue;
        const double e = cp2k_energy(image.path() / "cp2k.out");
        const auto result = nlohmann::json::parse(slurp(image.path() / "result.json"));
        CHECK(result["energy_eV"].get<double>() == doctest::Approx(e).epsilon(1e-10));
        printed.push_back(e);
    }
    CHECK(printed.size() == neb["force_calls"].get<std::size_t>());
    const auto band = neb["energies_eV"].get<std::vector<double>>();
    REQUIRE(band.size() == 4);  // two end points and 2 images
    for (const double e : band) {
        bool found = false;
        for (const double p : printed) found = found || std::abs(p - e) < 1e-6;
        CHECK_MESSAGE(found, e);
    }
    // The band's end points are single points at the relaxed geometries: SCF noise only (< 2 meV).
    CHECK(band.front() == doctest::Approx(out_of("Al|Li2S/A2+Li/relax")["energy_eV"].get<double>()).epsilon(1e-6));
    CHECK(band.back() == doctest::Approx(out_of("Al|Li2S/B3+Li/relax")["energy_eV"].get<double>()).epsilon(1e-6));
    CHECK(neb["forward_barrier_eV"].get<double>() - neb["reverse_barrier_eV"].get<double>() ==
          doctest::Approx(band.back() - band.front()).epsilon(1e-9));

    // 4 iterations cannot converge this band: it is marked, and the ΔE row does not carry it.
    CHECK(neb["iterations"] == 4);
    CHECK_FALSE(neb["converged"].get<bool>());
    REQUIRE(run_cli(dir, "results run --json", "results.json") == 0);
    const auto results = nlohmann::json::parse(slurp(dir / "results.json"));
    REQUIRE(results["pairs"].size() == 1);
    CHECK(results["pairs"][0]["in_situ"] == true);
    CHECK(results["pairs"][0]["interface_barrier_eV"].is_null());
    REQUIRE(results["hops"].size() == 1);
    CHECK(results["hops"][0]["converged"] == false);
    CHECK(results["hops"][0]["mechanism"] == "interface");
    CHECK(slurp(dir / "run.log").find("NOT converged") != std::string::npos);
}
