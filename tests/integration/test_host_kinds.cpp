// Host kinds beyond surfaces, end to end with the builtin EMT (seconds): a bulk host's binding
// energy per interstitial site follows from the stored energies by hand, its supercell keeps the
// adsorbate at least min_image_distance from its periodic images (checked by brute force on the
// stored lattice), results.h5 carries its structures (read back with h5py), and a supercell too
// small is refused before anything runs with one line naming the file, line and field.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <Eigen/Dense>
#include <fstream>

#include "engine/store.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;
using namespace interphase;
using interphase::testing::run_cli;
using interphase::testing::slurp;

namespace {

void write(const fs::path& file, const std::string& text) { std::ofstream(file) << text; }

double energy(const engine::RunStore& store, const std::string& task) {
    const auto out = store.output_of(task);
    REQUIRE_MESSAGE(out, task);
    return (*out)["energy_eV"].get<double>();
}

// Shortest nonzero lattice vector of the stored structure, by brute force over -3..3.
double shortest_lattice_vector(const nlohmann::json& structure) {
    Eigen::Matrix3d L;
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) L(i, j) = structure["lattice"][i][j].get<double>();
    double best = 1e9;
    for (int a = -3; a <= 3; ++a)
        for (int b = -3; b <= 3; ++b)
            for (int c = -3; c <= 3; ++c) {
                if (a == 0 && b == 0 && c == 0) continue;
                best = std::min(best, (a * L.row(0) + b * L.row(1) + c * L.row(2)).norm());
            }
    return best;
}

const char* kBulkWorkflow = R"(name: bulk-h
calculator: {code: emt}
protocol: {name: fast, fmax: 0.05, max_relax_steps: 300}
adsorbate: H
hosts:
  - {name: Al-bulk, kind: bulk, phase: Al, min_image_distance: 7, sites: all}
  - {name: Cu(100), phase: Cu, miller: [1, 0, 0], layers: 3, supercell: [2, 2], sites: [4fold_hollow]}
pairs:
  - [Al-bulk, Cu(100)]
)";

}  // namespace

TEST_CASE("bulk host: E_b at every interstitial site = E(X+ad) - E(X) - mu from the stored energies") {
    const auto dir = testing::scratch("host-bulk");
    write(dir / "wf.yaml", kBulkWorkflow);
    REQUIRE(run_cli(dir, "run wf.yaml --run-dir run", "run.log") == 0);
    INFO(slurp(dir / "run.log").substr(0, 4000));

    engine::RunStore store(dir / "run");
    const auto be = store.output_of("Al-bulk/binding_energy");
    REQUIRE(be);
    const auto host = store.output_of("Al-bulk/supercell/relax");
    REQUIRE(host);
    const double e_host = (*host)["energy_eV"].get<double>();
    const double mu = energy(store, "reference/H-atom/energy");
    CHECK((*be)["mu"].get<double>() == doctest::Approx(mu).epsilon(1e-12));
    CHECK((*be)["host_energy"].get<double>() == doctest::Approx(e_host).epsilon(1e-12));

    // fcc Al has two kinds of interstitial holes: the octahedral (4b) and the tetrahedral (8c).
    const auto sites = store.output_of("Al-bulk/sites");
    REQUIRE(sites);
    std::vector<std::string> polyhedra;
    for (const auto& s : (*sites)["sites"]) polyhedra.push_back(s["polyhedron"].get<std::string>());
    CHECK(polyhedra.size() == 2);
    CHECK(std::count(polyhedra.begin(), polyhedra.end(), "octahedral") == 1);
    CHECK(std::count(polyhedra.begin(), polyhedra.end(), "tetrahedral") == 1);

    REQUIRE((*be)["sites"].size() == 2);
    double lowest = 1e9;
    for (const auto& s : (*be)["sites"]) {
        const std::string site = s["site"].get<std::string>();
        CAPTURE(site);
        const auto complex = store.output_of("Al-bulk/" + site + "+H/relax");
        REQUIRE(complex);
        CHECK((*complex)["structure"]["atoms"].size() == (*host)["structure"]["atoms"].size() + 1);
        const double by_hand = (*complex)["energy_eV"].get<double>() - e_host - mu;
        CHECK(s["binding_energy"].get<double>() == doctest::Approx(by_hand).epsilon(1e-9));
        lowest = std::min(lowest, by_hand);
    }
    CHECK((*be)["binding_energy"].get<double>() == doctest::Approx(lowest).epsilon(1e-12));

    // The supercell keeps H at least 7 Å from its own periodic images.
    CHECK(shortest_lattice_vector((*host)["structure"]) >= 7.0 - 1e-9);

    // ΔE pairs a bulk host with a surface host.
    const auto de = store.output_of("pairs/Al-bulk|Cu(100)/delta_e");
    REQUIRE(de);
    CHECK((*de)["delta_e"].get<double>() ==
          doctest::Approx((*be)["binding_energy"].get<double>() -
                          (*store.output_of("Cu(100)/binding_energy"))["binding_energy"].get<double>())
              .epsilon(1e-12));

    // results.h5 read back by h5py: the bulk host's kind, energies and relaxed structures.
    if (testing::have_h5py()) {
        const std::string py = "cd '" + dir.string() +
                               "' && /usr/bin/python3 -c \"import h5py, json\n"
                               "f = h5py.File('run/results.h5', 'r')\n"
                               "g = f['binding_energy/Al-bulk']\n"
                               "json.dump({'kind': g.attrs['host_kind'], 'e': float(g.attrs['binding_energy']),"
                               " 'host_atoms': len(g['relaxed_host/species']), 'best_atoms': len(g['relaxed_best_site/species'])},"
                               " open('h5.json', 'w'))\"";
        REQUIRE(std::system(py.c_str()) == 0);
        const auto h5 = nlohmann::json::parse(slurp(dir / "h5.json"));
        CHECK(h5["kind"] == "bulk");
        CHECK(h5["e"].get<double>() == doctest::Approx((*be)["binding_energy"].get<double>()).epsilon(1e-12));
        CHECK(h5["host_atoms"].get<std::size_t>() == (*host)["structure"]["atoms"].size());
        CHECK(h5["best_atoms"].get<std::size_t>() == (*host)["structure"]["atoms"].size() + 1);
    }
}

TEST_CASE("bulk host: a supercell too small for min_image_distance is refused before anything runs") {
    const auto dir = testing::scratch("host-bulk-small");
    write(dir / "wf.yaml", R"(name: too-small
calculator: {code: emt}
adsorbate: H
hosts:
  - name: Al-bulk
    kind: bulk
    phase: Al
    supercell: [1, 1, 1]
    min_image_distance: 8
)");
    CHECK(run_cli(dir, "run wf.yaml --run-dir run", "run.log") != 0);
    const std::string log = slurp(dir / "run.log");
    CHECK(testing::count_lines(log) == 1);
    CHECK(log.find("wf.yaml:8") != std::string::npos);
    CHECK(log.find("hosts[0].supercell") != std::string::npos);
    CHECK(log.find("min_image_distance") != std::string::npos);
    CHECK(!fs::exists(dir / "run"));

    // An unknown host kind lists the known ones.
    write(dir / "wf2.yaml", "name: k\ncalculator: {code: emt}\nhosts:\n  - {kind: bluk, phase: Al}\n");
    CHECK(run_cli(dir, "run wf2.yaml --run-dir run", "run2.log") != 0);
    const std::string log2 = slurp(dir / "run2.log");
    CHECK(log2.find("wf2.yaml:4") != std::string::npos);
    CHECK(log2.find("hosts[0].kind") != std::string::npos);
    CHECK(log2.find("did you mean 'bulk'") != std::string::npos);
}
