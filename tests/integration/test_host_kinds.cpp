// Host kinds beyond surfaces, end to end with the builtin EMT (seconds): a bulk host's binding
// energy per interstitial site follows from the stored energies by hand, its supercell keeps the
// adsorbate at least min_image_distance from its periodic images (checked by brute force on the
// stored lattice), results.h5 carries its structures (read back with h5py), and a supercell too
// small is refused before anything runs with one line naming the file, line and field.
#include <doctest/doctest.h>

#include <fmt/format.h>

#include <Eigen/Dense>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "engine/runner.hpp"
#include "engine/store.hpp"
#include "interface_atoms.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;
using namespace interphase;
using interphase::testing::run_cli;
using interphase::testing::slurp;
using interphase::testing::Atoms;
using interphase::testing::atoms_of;
using interphase::testing::interface_plane;

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
hops:
  - {host: Al-bulk, kind: interstitial, site: i1, images: 3}
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

    // The interstitial hop between neighbouring copies of site i1: symmetric, so both end points
    // have one energy and the forward barrier equals the reverse one; it is the bulk barrier of
    // the pair's row, never a surface one.
    const auto hop = store.output_of("Al-bulk/hop/interstitial-i1/neb");
    REQUIRE(hop);
    CHECK((*hop)["mechanism"] == "interstitial");
    CHECK(energy(store, "Al-bulk/hop/interstitial-i1/final/relax") ==
          doctest::Approx(energy(store, "Al-bulk/hop/interstitial-i1/initial/relax")).epsilon(1e-6));
    CHECK((*hop)["forward_barrier_eV"].get<double>() ==
          doctest::Approx((*hop)["reverse_barrier_eV"].get<double>()).epsilon(1e-4));
    CHECK((*hop)["forward_barrier_eV"].get<double>() > 0);
    REQUIRE(run_cli(dir, "results run --json", "results.json") == 0);
    const auto results = nlohmann::json::parse(slurp(dir / "results.json"));
    REQUIRE(results["pairs"].size() == 1);
    if ((*hop)["converged"].get<bool>())
        CHECK(results["pairs"][0]["bulk_barrier_a_eV"].get<double>() ==
              doctest::Approx((*hop)["forward_barrier_eV"].get<double>()).epsilon(1e-12));
    CHECK(results["pairs"][0]["surface_barrier_a_eV"].is_null());

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

    // A vacancy hop in a phase without the adsorbate: nothing to move.
    write(dir / "wf3.yaml", "name: v\ncalculator: {code: emt}\nadsorbate: H\nhosts:\n  - {name: Al-bulk, kind: bulk, phase: Al}\n"
                            "hops:\n  - {host: Al-bulk, kind: vacancy}\n");
    CHECK(run_cli(dir, "run wf3.yaml --run-dir run", "run3.log") != 0);
    const std::string log3 = slurp(dir / "run3.log");
    CHECK(log3.find("wf3.yaml:7") != std::string::npos);
    CHECK(log3.find("hops[0].kind") != std::string::npos);
    CHECK(log3.find("has no H") != std::string::npos);

    // An unknown host kind lists the known ones.
    write(dir / "wf2.yaml", "name: k\ncalculator: {code: emt}\nhosts:\n  - {kind: bluk, phase: Al}\n");
    CHECK(run_cli(dir, "run wf2.yaml --run-dir run", "run2.log") != 0);
    const std::string log2 = slurp(dir / "run2.log");
    CHECK(log2.find("wf2.yaml:4") != std::string::npos);
    CHECK(log2.find("hosts[0].kind") != std::string::npos);
    CHECK(log2.find("did you mean 'bulk'") != std::string::npos);
}

namespace {

// Al(111)|Cu(111) (a 22.6 Å² ZSL match within 3 %) with H as the mobile atom, EMT throughout.
std::string interface_workflow(const std::string& hop_options) {
    return R"(name: iface-h
calculator: {code: emt}
protocol: {name: fast, fmax: 0.05, max_relax_steps: 500}
adsorbate: H
hosts:
  - name: Al|Cu
    kind: interface
    a: {phase: Al, miller: [1, 1, 1], layers: 2}
    b: {phase: Cu, miller: [1, 1, 1], layers: 2}
    max_area: 40
    max_strain: 3
    gap: 2.2
    fix_outer_layers: 1
hops:
  - {interface: Al|Cu, from: A, to: B, climb: true)" +
           hop_options + "}\n";
}

}  // namespace

TEST_CASE("interface host and a hop across it: side tags, fixed outer planes, E_b per side, barriers") {
    const auto dir = testing::scratch("host-interface");
    write(dir / "wf.yaml", interface_workflow(", images: 3"));
    REQUIRE(run_cli(dir, "run wf.yaml --run-dir run", "run.log") == 0);
    INFO(slurp(dir / "run.log").substr(0, 6000));
    engine::RunStore store(dir / "run");

    // Every atom of the interface is tagged A or B; the fixed atoms are exactly the lowest
    // plane of A and the highest plane of B (planes found here by height, 0.1 Å apart).
    const auto built = store.output_of("Al|Cu/interface");
    REQUIRE(built);
    const auto iface = atoms_of((*built)["structure"]);
    double min_a = 1e9, max_b = -1e9;
    for (std::size_t i = 0; i < iface.z.size(); ++i) {
        REQUIRE((iface.label[i] == "A" || iface.label[i] == "B"));
        if (iface.label[i] == "A") min_a = std::min(min_a, iface.z[i]);
        else max_b = std::max(max_b, iface.z[i]);
    }
    int fixed = 0;
    for (std::size_t i = 0; i < iface.z.size(); ++i) {
        const bool outer = (iface.label[i] == "A" && iface.z[i] < min_a + 0.1) || (iface.label[i] == "B" && iface.z[i] > max_b - 0.1);
        CHECK(iface.fixed[i] == outer);
        fixed += iface.fixed[i] ? 1 : 0;
    }
    CHECK(fixed > 0);
    for (const char* side : {"A", "B"}) {
        int free = 0;
        for (std::size_t i = 0; i < iface.z.size(); ++i) free += iface.label[i] == side && !iface.fixed[i] ? 1 : 0;
        CHECK(free > 0);  // the planes at the interface relax
    }

    // E_b on each side by hand, and the in-situ ΔE of this interface.
    const auto host = store.output_of("Al|Cu/interface/relax");
    REQUIRE(host);
    const double mu = energy(store, "reference/H-atom/energy");
    std::map<char, double> side_eb;
    for (char side : {'A', 'B'}) {
        const auto be = store.output_of(fmt::format("Al|Cu/{}/binding_energy", side));
        REQUIRE(be);
        CHECK((*be)["side"] == std::string(1, side));
        REQUIRE((*be)["sites"].size() >= 1);
        for (const auto& s : (*be)["sites"]) {
            const std::string site = s["site"].get<std::string>();
            CHECK(site[0] == side);
            const double by_hand = energy(store, "Al|Cu/" + site + "+H/relax") - (*host)["energy_eV"].get<double>() - mu;
            CHECK(s["binding_energy"].get<double>() == doctest::Approx(by_hand).epsilon(1e-9));
        }
        side_eb[side] = (*be)["binding_energy"].get<double>();
    }
    const auto in_situ = store.output_of("Al|Cu/delta_e");
    REQUIRE(in_situ);
    CHECK((*in_situ)["delta_e"].get<double>() == doctest::Approx(side_eb['A'] - side_eb['B']).epsilon(1e-12));

    // The hop starts inside Al (side A) and ends inside Cu (side B), by the side tags of the
    // relaxed end points and their interface plane; the end points are distinct minima.
    const std::string base = "Al|Cu/hop/A-B";
    const auto initial = atoms_of((*store.output_of(base + "/initial/relax"))["structure"]);
    const auto final = atoms_of((*store.output_of(base + "/final/relax"))["structure"]);
    // The mobile atom is last ("mobile"; "adsorbate" when the end point is the very structure of a
    // site relaxation, whose result is reused by hash).
    CHECK((initial.label.back() == "mobile" || initial.label.back() == "adsorbate"));
    CHECK(initial.z.back() < interface_plane(initial));
    CHECK(final.z.back() > interface_plane(final));
    const auto check = store.output_of(base + "/check");
    REQUIRE(check);
    CHECK((*check)["initial_side"] == "A");
    CHECK((*check)["final_side"] == "B");
    CHECK((*check)["separation_A"].get<double>() > 1.0);

    // Forward − reverse barrier = E(final) − E(initial), the relaxed end points' own energies.
    const auto neb = store.output_of(base + "/neb");
    REQUIRE(neb);
    const double e_initial = energy(store, base + "/initial/relax"), e_final = energy(store, base + "/final/relax");
    CHECK((*neb)["forward_barrier_eV"].get<double>() - (*neb)["reverse_barrier_eV"].get<double>() ==
          doctest::Approx(e_final - e_initial).epsilon(1e-9));

    // results.h5: the band's initial, final and saddle structures with the side of every atom.
    if (testing::have_h5py()) {
        const std::string py = "cd '" + dir.string() +
                               "' && /usr/bin/python3 -c \"import h5py, json\n"
                               "f = h5py.File('run/results.h5', 'r')\n"
                               "g = f['neb/Al|Cu/A-B']\n"
                               "out = {k: [s.decode() if isinstance(s, bytes) else s for s in g[k + '/side'][()]] for k in ('initial', 'final', 'saddle')}\n"
                               "out['forward'] = float(g.attrs['forward_barrier'])\n"
                               "json.dump(out, open('h5.json', 'w'))\"";
        REQUIRE(std::system(py.c_str()) == 0);
        const auto h5 = nlohmann::json::parse(slurp(dir / "h5.json"));
        CHECK(h5["forward"].get<double>() == doctest::Approx((*neb)["forward_barrier_eV"].get<double>()).epsilon(1e-12));
        for (const char* k : {"initial", "final", "saddle"}) {
            CAPTURE(k);
            REQUIRE(h5[k].size() == initial.z.size());
            CHECK((h5[k].back() == "mobile" || h5[k].back() == "adsorbate"));
            CHECK(h5[k].front() == "A");
        }
    }
}

TEST_CASE("the ΔE row of two separate crystals carries the barrier across an interface host between them") {
    // Surface hosts of the same two crystals as the interface, in pairs both ways round: the row
    // Al|Cu takes the A→B barrier across the interface, the row Cu|Al the same band turned round.
    const auto dir = testing::scratch("host-interface-link");
    std::string wf = interface_workflow(", images: 3");
    wf.insert(wf.find("hops:"),
              "  - {name: Al(111), phase: Al, miller: [1, 1, 1], layers: 3, supercell: [2, 2], sites: [fcc_hollow]}\n"
              "  - {name: Cu(111), phase: Cu, miller: [1, 1, 1], layers: 3, supercell: [2, 2], sites: [fcc_hollow]}\n"
              "  - {name: Cu(100), phase: Cu, miller: [1, 0, 0], layers: 3, supercell: [2, 2], sites: [4fold_hollow]}\n"
              "pairs:\n  - [Al(111), Cu(111)]\n  - [Cu(100), Al(111)]\n  - [Cu(111), Cu(100)]\n");
    write(dir / "wf.yaml", wf);
    REQUIRE(run_cli(dir, "run wf.yaml --run-dir run", "run.log") == 0);
    INFO(slurp(dir / "run.log").substr(0, 6000));
    engine::RunStore store(dir / "run");
    const auto neb = store.output_of("Al|Cu/hop/A-B/neb");
    REQUIRE(neb);
    REQUIRE((*neb)["converged"].get<bool>());
    const double forward = (*neb)["forward_barrier_eV"].get<double>(), reverse = (*neb)["reverse_barrier_eV"].get<double>();

    REQUIRE(run_cli(dir, "results run --json", "results.json") == 0);
    const auto results = nlohmann::json::parse(slurp(dir / "results.json"));
    std::map<std::string, nlohmann::json> rows;
    for (const auto& p : results["pairs"]) rows[p["a"].get<std::string>() + " | " + p["b"].get<std::string>()] = p;
    REQUIRE(rows.size() == 4);
    const auto& in_situ = rows.at("Al|Cu[A] | Al|Cu[B]");
    CHECK(in_situ["in_situ"] == true);
    CHECK(in_situ["interface_barrier_eV"].get<double>() == doctest::Approx(forward).epsilon(1e-12));
    const auto& ab = rows.at("Al(111) | Cu(111)");
    CHECK(ab["in_situ"] == false);
    CHECK(ab["interface"] == "Al|Cu");
    CHECK(ab["interface_barrier_eV"].get<double>() == doctest::Approx(forward).epsilon(1e-12));
    CHECK(ab["interface_barrier_reverse_eV"].get<double>() == doctest::Approx(reverse).epsilon(1e-12));
    const auto& ba = rows.at("Cu(100) | Al(111)");
    CHECK(ba["interface"] == "Al|Cu");
    CHECK(ba["interface_barrier_eV"].get<double>() == doctest::Approx(reverse).epsilon(1e-12));
    CHECK(ba["interface_barrier_reverse_eV"].get<double>() == doctest::Approx(forward).epsilon(1e-12));
    // Two hosts of one crystal: no interface between them, no barrier.
    const auto& cu = rows.at("Cu(111) | Cu(100)");
    CHECK(cu["interface"] == "");
    CHECK(cu["interface_barrier_eV"].is_null());

    // results.h5 as h5py reads it: the same columns, NaN where there is no interface.
    if (testing::have_h5py()) {
        const std::string py = "cd '" + dir.string() +
                               "' && /usr/bin/python3 -c \"import h5py, json, math\n"
                               "d = h5py.File('run/results.h5', 'r')['delta_e']\n"
                               "rows = {a.decode() + ' | ' + b.decode(): (i.decode(), None if math.isnan(x) else float(x), int(s))"
                               " for a, b, i, x, s in zip(d['a'][()], d['b'][()], d['interface'][()], d['interface_barrier'][()], d['in_situ'][()])}\n"
                               "json.dump(rows, open('h5.json', 'w'))\"";
        REQUIRE(std::system(py.c_str()) == 0);
        const auto h5 = nlohmann::json::parse(slurp(dir / "h5.json"));
        CHECK(h5["Cu(100) | Al(111)"][0] == "Al|Cu");
        CHECK(h5["Cu(100) | Al(111)"][1].get<double>() == doctest::Approx(reverse).epsilon(1e-12));
        CHECK(h5["Al|Cu[A] | Al|Cu[B]"][2] == 1);
        CHECK(h5["Al(111) | Cu(111)"][2] == 0);
        CHECK(h5["Cu(111) | Cu(100)"][1].is_null());
    }
    // The table names the interface each barrier crosses.
    REQUIRE(run_cli(dir, "results run", "table.txt") == 0);
    CHECK(slurp(dir / "table.txt").find("across") != std::string::npos);
}

TEST_CASE("molecule host: a molecule from a file in a box, E_b at each site around it by hand") {
    const auto dir = testing::scratch("host-molecule");
    // A Cu4 tetrahedron (EMT has Cu and H; the paper's P4S10 needs a DFT code): atop, bridge and
    // hollow sites, one orbit each under Td.
    write(dir / "cu4.xyz", "4\nCu4\nCu 0 0 0\nCu 2.4 0 0\nCu 1.2 2.078461 0\nCu 1.2 0.692820 1.959592\n");
    write(dir / "wf.yaml", R"(name: mol-h
calculator: {code: emt}
protocol: {name: fast, fmax: 0.05, max_relax_steps: 500}
adsorbate: H
hosts:
  - {name: Cu4, kind: molecule, structure: cu4.xyz, box: 12, bond_length: 1.6, min_distance: 1.3, sites: all}
)");
    REQUIRE(run_cli(dir, "run wf.yaml --run-dir run", "run.log") == 0);
    INFO(slurp(dir / "run.log").substr(0, 4000));
    engine::RunStore store(dir / "run");
    const auto be = store.output_of("Cu4/binding_energy");
    REQUIRE(be);
    const auto host = store.output_of("Cu4/molecule/relax");
    REQUIRE(host);
    CHECK((*host)["structure"]["atoms"].size() == 4);
    const double mu = energy(store, "reference/H-atom/energy");
    const auto sites = store.output_of("Cu4/sites");
    REQUIRE(sites);
    std::vector<std::string> kinds;
    for (const auto& s : (*sites)["sites"]) kinds.push_back(s["kind"].get<std::string>());
    CHECK(kinds.size() == 3);
    REQUIRE((*be)["sites"].size() == kinds.size());
    for (const auto& s : (*be)["sites"]) {
        const std::string site = s["site"].get<std::string>();
        CAPTURE(site);
        const double by_hand = energy(store, "Cu4/" + site + "+H/relax") - (*host)["energy_eV"].get<double>() - mu;
        CHECK(s["binding_energy"].get<double>() == doctest::Approx(by_hand).epsilon(1e-9));
    }

    // A box too small for the molecule and the adsorbate around it: refused with the line.
    write(dir / "small.yaml", "name: small\ncalculator: {code: emt}\nadsorbate: H\nhosts:\n"
                              "  - {kind: molecule, structure: cu4.xyz, box: 6}\n");
    CHECK(run_cli(dir, "run small.yaml --run-dir run2", "small.log") != 0);
    const std::string log = slurp(dir / "small.log");
    CHECK(log.find("small.yaml:5") != std::string::npos);
    CHECK(log.find("hosts[0].box") != std::string::npos);
}

TEST_CASE("a run folder written before the engine/workflows split resumes with every task reused") {
    const auto dir = testing::scratch("pre-registry-run");
    const auto data = testing::source_dir() / "tests/integration/data/pre_registry_run";
    fs::create_directories(dir / "run");
    fs::copy_file(data / "workflow.yaml", dir / "run/workflow.yaml");
    const std::string restore = "sqlite3 '" + (dir / "run/state.sqlite").string() + "' < '" + (data / "state.sql").string() + "'";
    REQUIRE(std::system(restore.c_str()) == 0);

    std::map<std::string, std::string> hash_before;
    std::map<std::string, int> executions_before;
    {
        engine::RunStore store(dir / "run");
        for (const auto& t : store.tasks()) {
            CHECK(t.state == engine::state::kDone);
            hash_before[t.name] = t.hash;
            executions_before[t.name] = store.executions(t.name);
        }
    }
    REQUIRE(hash_before.size() >= 30);

    REQUIRE(run_cli(dir, "resume run", "resume.log") == 0);
    const std::string log = slurp(dir / "resume.log");
    INFO(log.substr(0, 4000));
    CHECK(log.find("start ") == std::string::npos);
    CHECK(log.find(fmt::format("all {} tasks done ({} reused)", hash_before.size(), hash_before.size())) != std::string::npos);
    engine::RunStore store(dir / "run");
    const auto after = store.tasks();
    CHECK(after.size() == hash_before.size());
    for (const auto& t : after) {
        CAPTURE(t.name);
        CHECK(t.state == engine::state::kDone);
        CHECK(t.hash == hash_before[t.name]);
        CHECK(store.executions(t.name) == executions_before[t.name]);
    }
    CHECK(fs::exists(dir / "run/results.h5"));
}

TEST_CASE("kill -9 during an interface NEB, then resume: no finished image-iteration is computed again") {
    const auto dir = testing::scratch("host-interface-kill");
    // A slow band (FIRE to a tight fmax, 7 images) so that the kill lands inside the NEB.
    write(dir / "wf.yaml", interface_workflow(", images: 7, optimizer: fire, fmax: 0.002, max_iterations: 5000"));
    const std::string neb = "Al|Cu/hop/A-B/neb";
    const fs::path state = dir / "run/tasks" / engine::task_folder_name(neb) / "neb_state.json";
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        if (chdir(dir.c_str()) != 0) _exit(99);
        const int fd = ::open("killed.log", O_CREAT | O_WRONLY | O_TRUNC, 0644);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(testing::cli().c_str(), "interphase", "run", "wf.yaml", "--run-dir", "run", nullptr);
        _exit(98);
    }
    int saved_iterations = -1;
    for (int i = 0; i < 6000 && saved_iterations < 10; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (!fs::exists(state)) continue;
        try {
            saved_iterations = nlohmann::json::parse(slurp(state)).at("state").at("iterations").get<int>();
        } catch (const std::exception&) {
        }
    }
    const bool killed = ::kill(pid, SIGKILL) == 0;
    int status = 0;
    waitpid(pid, &status, 0);
    REQUIRE(killed);
    REQUIRE(WIFSIGNALED(status));
    REQUIRE(saved_iterations >= 10);
    // What the band had cost when it was killed, by its own saved state.
    const auto at_kill = nlohmann::json::parse(slurp(state)).at("state");
    const int iterations_at_kill = at_kill.at("iterations").get<int>();
    const long calls_at_kill = at_kill.at("force_calls").get<long>();

    const auto r = testing::cli_in(dir, {"resume", "run"});
    INFO(r.out.substr(0, 3000));
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("resume " + neb + " from its saved band") != std::string::npos);
    engine::RunStore store(dir / "run");
    for (const auto& t : store.tasks()) {
        CAPTURE(t.name);
        CHECK(t.state == engine::state::kDone);
        CHECK(store.completed_executions(t.name) <= 1);  // nothing finished ran twice
    }
    const auto out = store.output_of(neb).value();
    // The band continued from the saved iteration: the iterations done before the kill are
    // counted once and not redone (the saved band's 7 moving images are evaluated once more).
    CHECK(out.at("resumed_from_iteration").get<int>() == iterations_at_kill);
    CHECK(out.at("iterations").get<int>() > iterations_at_kill);
    CHECK(out.at("force_calls").get<long>() >= calls_at_kill + 7);
    CHECK(out.at("forward_barrier_eV").get<double>() - out.at("reverse_barrier_eV").get<double>() ==
          doctest::Approx(energy(store, "Al|Cu/hop/A-B/final/relax") - energy(store, "Al|Cu/hop/A-B/initial/relax"))
              .epsilon(1e-9));
}

TEST_CASE("every example in workflows/examples runs to the end with EMT") {
    for (const auto& e : fs::directory_iterator(testing::source_dir() / "workflows/examples")) {
        if (e.path().extension() != ".yaml") continue;
        CAPTURE(e.path().string());
        const auto dir = testing::scratch("example-" + e.path().stem().string());
        CHECK(run_cli(dir, "run '" + e.path().string() + "' --run-dir run --quiet", "run.log") == 0);
        CHECK(fs::exists(dir / "run/results.h5"));
    }
}

TEST_CASE("bulk host: a vacancy hop of Cu in bulk Cu is symmetric (forward = reverse barrier)") {
    const auto dir = testing::scratch("host-bulk-vacancy");
    write(dir / "wf.yaml", R"(name: cu-vacancy
calculator: {code: emt}
protocol: {name: fast, fmax: 0.05, max_relax_steps: 300}
adsorbate: Cu
hosts:
  - {name: Cu-bulk, kind: bulk, phase: Cu, min_image_distance: 7, sites: [i1]}
hops:
  - {host: Cu-bulk, kind: vacancy, images: 3}
)");
    REQUIRE(run_cli(dir, "run wf.yaml --run-dir run", "run.log") == 0);
    INFO(slurp(dir / "run.log").substr(0, 3000));
    engine::RunStore store(dir / "run");
    const auto host = store.output_of("Cu-bulk/supercell/relax");
    const auto initial = store.output_of("Cu-bulk/hop/vacancy-1/initial/relax");
    REQUIRE(host);
    REQUIRE(initial);
    // One Cu removed (the vacancy); the moving atom is a Cu of the lattice.
    CHECK((*initial)["structure"]["atoms"].size() == (*host)["structure"]["atoms"].size() - 1);
    const auto neb = store.output_of("Cu-bulk/hop/vacancy-1/neb");
    REQUIRE(neb);
    CHECK((*neb)["forward_barrier_eV"].get<double>() ==
          doctest::Approx((*neb)["reverse_barrier_eV"].get<double>()).epsilon(1e-4));
    CHECK((*neb)["forward_barrier_eV"].get<double>() > 0.2);  // EMT's Cu vacancy migration is ~0.5-0.7 eV
}

TEST_CASE("interface host: gap scan keeps the lowest single point; bad interfaces are refused before anything runs") {
    const auto dir = testing::scratch("host-interface-scan");
    write(dir / "scan.yaml", R"(name: scan
calculator: {code: emt}
protocol: {name: fast, fmax: 0.05, max_relax_steps: 500}
adsorbate: H
hosts:
  - name: Al|Cu
    kind: interface
    a: {phase: Al, miller: [1, 1, 1], layers: 2}
    b: {phase: Cu, miller: [1, 1, 1], layers: 2}
    max_area: 40
    gap: scan
    sites: [A1, B1]
)");
    REQUIRE(run_cli(dir, "run scan.yaml --run-dir run", "run.log") == 0);
    engine::RunStore store(dir / "run");
    const auto chosen = store.output_of("Al|Cu/interface");
    REQUIRE(chosen);
    // The kept gap is the lowest of the single points, whose energies are the stored ones.
    double lowest = 1e9, lowest_gap = 0;
    REQUIRE((*chosen)["scan"].size() == 5);
    for (const auto& p : (*chosen)["scan"]) {
        const double g = p["gap_A"].get<double>();
        const double e = energy(store, fmt::format("Al|Cu/gap/{:.2f}/energy", g));
        CHECK(p["energy_eV"].get<double>() == doctest::Approx(e).epsilon(1e-12));
        if (e < lowest) {
            lowest = e;
            lowest_gap = g;
        }
    }
    CHECK((*chosen)["gap_A"].get<double>() == doctest::Approx(lowest_gap));
    CHECK((*chosen)["structure"] == (*store.output_of(fmt::format("Al|Cu/gap/{:.2f}", lowest_gap)))["structure"]);
    CHECK((*store.output_of("Al|Cu/A/binding_energy"))["sites"].size() == 1);

    // Sides that do not match: the best strain found and at which area, and the keys to change.
    write(dir / "mismatch.yaml", R"(name: mismatch
calculator: {code: emt}
adsorbate: H
hosts:
  - name: Al|Cu
    kind: interface
    a: {phase: Al, miller: [1, 1, 1], layers: 2}
    b: {phase: Cu, miller: [1, 0, 0], layers: 2}
    max_area: 30
    max_strain: 0.5
)");
    CHECK(run_cli(dir, "run mismatch.yaml --run-dir run2", "mismatch.log") == 2);
    const std::string mismatch = slurp(dir / "mismatch.log");
    CHECK(testing::count_lines(mismatch) == 1);
    CHECK(mismatch.find("mismatch.yaml:10: field 'hosts[0].max_strain'") != std::string::npos);
    CHECK(mismatch.find("smallest misfit") != std::string::npos);
    CHECK(mismatch.find("Å²") != std::string::npos);
    CHECK(mismatch.find("max_strain:") != std::string::npos);
    CHECK(!fs::exists(dir / "run2"));

    // An interface with no site on one side near the plane: the side is named.
    write(dir / "noside.yaml", R"(name: noside
calculator: {code: emt}
adsorbate: H
hosts:
  - name: Al|Cu
    kind: interface
    a: {phase: Al, miller: [1, 1, 1], layers: 2}
    b: {phase: Cu, miller: [1, 1, 1], layers: 2}
    max_area: 40
    depth: 0.5
    min_distance: 2.0
)");
    CHECK(run_cli(dir, "run noside.yaml --run-dir run3", "noside.log") == 2);
    const std::string noside = slurp(dir / "noside.log");
    CHECK(noside.find("noside.yaml:5: field 'hosts[0]'") != std::string::npos);
    CHECK(noside.find("on side A") != std::string::npos);

    // A hop across a host that is not an interface.
    write(dir / "nohost.yaml", "name: n\ncalculator: {code: emt}\nhosts:\n  - {name: Al(111), phase: Al}\n"
                               "hops:\n  - {interface: Al(111), from: A, to: B}\n");
    CHECK(run_cli(dir, "run nohost.yaml --run-dir run4", "nohost.log") == 2);
    CHECK(slurp(dir / "nohost.log").find("hops[0].interface") != std::string::npos);

    // In-plane repeats of the matched cell: two numbers 1..20, else the line and field.
    for (const auto& [value, says] : {std::pair{"[2, 1, 1]", "must be [a, b]"}, std::pair{"[0, 1]", "entries must be 1..20"}}) {
        write(dir / "rep.yaml", std::string("name: rep\ncalculator: {code: emt}\nadsorbate: H\nhosts:\n  - name: Al|Cu\n"
                                            "    kind: interface\n    a: {phase: Al, miller: [1, 1, 1], layers: 2}\n"
                                            "    b: {phase: Cu, miller: [1, 1, 1], layers: 2}\n    max_area: 40\n"
                                            "    supercell: ") + value + "\n");
        CHECK(run_cli(dir, "run rep.yaml --run-dir run5", "rep.log") == 2);
        const std::string rep = slurp(dir / "rep.log");
        CHECK(rep.find("rep.yaml:10: field 'hosts[0].supercell'") != std::string::npos);
        CHECK(rep.find(says) != std::string::npos);
    }
    // A valid one repeats the interface in plane: twice the atoms, the a vector doubled.
    write(dir / "rep.yaml", "name: rep\ncalculator: {code: emt}\nadsorbate: H\nhosts:\n  - name: Al|Cu\n"
                            "    kind: interface\n    a: {phase: Al, miller: [1, 1, 1], layers: 2}\n"
                            "    b: {phase: Cu, miller: [1, 1, 1], layers: 2}\n    max_area: 40\n    sites: [A1, B1]\n");
    write(dir / "rep2.yaml", slurp(dir / "rep.yaml") + "    supercell: [2, 1]\n");
    REQUIRE(run_cli(dir, "run rep.yaml --run-dir run6", "rep6.log") == 0);
    REQUIRE(run_cli(dir, "run rep2.yaml --run-dir run7", "rep7.log") == 0);
    const auto one = (*engine::RunStore(dir / "run6").output_of("Al|Cu/interface"))["structure"];
    const auto two = (*engine::RunStore(dir / "run7").output_of("Al|Cu/interface"))["structure"];
    CHECK(two["atoms"].size() == 2 * one["atoms"].size());
    for (int k = 0; k < 3; ++k) {
        CHECK(two["lattice"][0][k].get<double>() == doctest::Approx(2 * one["lattice"][0][k].get<double>()));
        CHECK(two["lattice"][1][k].get<double>() == doctest::Approx(one["lattice"][1][k].get<double>()));
    }
}
