// `interphase calc` and `interphase neb`, and NEB hops in a workflow, through the engine with the
// builtin EMT: the barrier of ASE's NEB tutorial (Au on Al(100)) equals ASE's own CI-NEB, calc's
// energy equals the builtin EMT's and ASE's, --json parses, bad input is one line naming the
// file or field, a workflow with hops writes the profiles into results.h5 (read with h5py), and
// an engine killed (SIGKILL) in the middle of an NEB resumes from its saved band without
// running finished tasks again.
#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include "engine/runner.hpp"
#include "engine/store.hpp"
#include "plugins/builtin/emt.hpp"
#include "structures/io.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;
using namespace interphase;

using interphase::testing::CliResult;
using interphase::testing::slurp;
using interphase::testing::have_ase;
using interphase::testing::have_h5py;

namespace {


// ASE's NEB tutorial system run by ASE 3.22 (bench/neb/ase_neb.py): the path and the barriers.
nlohmann::json ase_reference(const fs::path& dir) {
    const auto out = dir / "ase.json";
    const std::string cmd = "/usr/bin/python3 '" + (testing::source_dir() / "bench/neb/ase_neb.py").string() +
                            "' au_al100 --fmax 0.05 > '" + out.string() + "'";
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::ifstream in(out);
    return nlohmann::json::parse(in);
}

}  // namespace

TEST_CASE("interphase neb: EMT Au hop on Al(100) gives ASE's CI-NEB barrier") {
    if (!have_ase()) {
        MESSAGE("python3-ase missing: skipped");
        return;
    }
    const auto dir = testing::scratch("neb-cli-ase");
    const auto ref = ase_reference(dir);
    const auto& path = ref.at("path");
    // ASE's relaxed end points; the hop is half the 2x2 cell, so the band is taken as written
    // (--no-mic), as ASE's tutorial interpolates it.
    structures::write_structure(dir / "start.xyz", structures::structure_from_json(path.front(), "ase start"));
    structures::write_structure(dir / "end.xyz", structures::structure_from_json(path.back(), "ase end"));
    for (const auto& [ours, theirs] : {std::pair<std::string, std::string>{"fire", "fire"}, {"bfgs", "bfgs"}, {"lbfgs", "bfgs"}}) {
        CAPTURE(ours);
        const auto r = testing::cli_in(dir, {"neb", "start.xyz", "end.xyz", "--images", "3", "--calculator", "emt", "--climb", "--method",
                                 "linear", "--no-mic", "--optimizer", ours, "--fmax", "0.05", "--json"});
        INFO(r.err);
        REQUIRE(r.exit_code == 0);
        const auto j = nlohmann::json::parse(r.out);
        const auto& ase = ref.at("runs").at(theirs);
        CHECK(j.at("converged").get<bool>());
        CHECK(j.at("climbing").get<bool>());
        CHECK(j.at("energy_eV").size() == 5);
        CHECK(j.at("energy_eV")[0].get<double>() == 0.0);
        CHECK(std::abs(j.at("forward_barrier_eV").get<double>() - ase.at("forward_barrier").get<double>()) < 5e-3);
        CHECK(std::abs(j.at("reverse_barrier_eV").get<double>() - ase.at("reverse_barrier").get<double>()) < 5e-3);
        CHECK(j.at("saddle_index").get<int>() == ase.at("saddle_index").get<int>());
        CHECK(j.at("saddle").at("atoms").size() == path.front().at("atoms").size());
        // FIRE and BFGS are ASE's algorithms: the same force calls on the moving images.
        if (ours != "lbfgs") CHECK(j.at("force_calls").get<long>() - 2 == ase.at("force_calls").get<long>());
        MESSAGE(ours << ": barrier " << j.at("forward_barrier_eV").get<double>() << " eV, ASE ("
                     << theirs << ") " << ase.at("forward_barrier").get<double>() << " eV");
    }
    // The text form names the barriers and marks the saddle.
    const auto r = testing::cli_in(dir, {"neb", "start.xyz", "end.xyz", "--images", "3", "--calculator", "emt", "--climb", "--method",
                             "linear", "--no-mic", "--saddle", "saddle.xyz"});
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("forward barrier") != std::string::npos);
    CHECK(r.out.find("<- saddle (climbing image)") != std::string::npos);
    CHECK(structures::read_structure(dir / "saddle.xyz").size() == path.front().at("atoms").size());
}

TEST_CASE("interphase calc: EMT energy, forces and stress as the builtin EMT and ASE; --relax writes the structure") {
    const auto dir = testing::scratch("calc-cli");
    REQUIRE(testing::cli_in(dir, {"build", "slab", "Al", "--miller", "1,0,0", "--layers", "2", "--supercell", "2,2", "--fix-bottom-layers",
                      "1", "-o", "slab.xyz"})
                .exit_code == 0);
    // A rattled copy, so that the forces are not zero by symmetry.
    auto s = structures::read_structure(dir / "slab.xyz");
    for (std::size_t i = 0; i < s.size(); ++i)
        if (!s[i].fixed) s[i].frac += s.to_fractional(Eigen::Vector3d(0.03 * std::sin(i), 0.05 * std::cos(3.0 * i), 0.04));
    structures::write_structure(dir / "rattled.xyz", s);
    const auto input = structures::read_structure(dir / "rattled.xyz");

    auto r = testing::cli_in(dir, {"calc", "rattled.xyz", "--calculator", "emt", "--json"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto j = nlohmann::json::parse(r.out);
    const plugins::builtin::Emt emt;
    const auto ef = emt.compute(input);
    CHECK(j.at("energy_eV").get<double>() == doctest::Approx(ef.energy).epsilon(1e-12));
    REQUIRE(j.at("forces_eV_per_A").size() == input.size());
    for (std::size_t i = 0; i < input.size(); ++i)
        for (int k = 0; k < 3; ++k) CHECK(j.at("forces_eV_per_A")[i][k].get<double>() == doctest::Approx(ef.forces[i][k]));
    REQUIRE(j.at("stress_eV_per_A3").is_array());
    CHECK(j.at("stress_eV_per_A3")[0][0].get<double>() == doctest::Approx(ef.stress(0, 0)));
    CHECK(j.at("calculation") == "single_point");

    if (have_ase()) {
        const std::string py = "cd '" + dir.string() +
                               "' && /usr/bin/python3 -c \"from ase.io import read\nfrom ase.calculators.emt import EMT\n"
                               "a = read('rattled.xyz'); a.calc = EMT(); print(repr(a.get_potential_energy()))\" > ase.txt";
        REQUIRE(std::system(py.c_str()) == 0);
        CHECK(j.at("energy_eV").get<double>() == doctest::Approx(std::stod(slurp(dir / "ase.txt"))).epsilon(1e-9));
    } else {
        MESSAGE("python3-ase missing: the ASE cross-check is skipped");
    }

    // The text form; the throw-away run folder (in $TMPDIR) is gone afterwards.
    fs::create_directories(dir / "tmp");
    const std::string text_cmd = "cd '" + dir.string() + "' && TMPDIR='" + (dir / "tmp").string() + "' '" +
                                 testing::cli().string() + "' calc rattled.xyz --calculator emt > text.txt 2>&1";
    REQUIRE(std::system(text_cmd.c_str()) == 0);
    const auto text = slurp(dir / "text.txt");
    CHECK(text.find("energy") != std::string::npos);
    CHECK(text.find("stress") != std::string::npos);
    CHECK(fs::is_empty(dir / "tmp"));
    for (const char* help : {"calc", "neb"}) CHECK(testing::cli_in(dir, {help, "--help"}).exit_code == 0);

    // Relaxation: the relaxed structure is written, lower in energy, below fmax; nothing is left
    // in the temporary directory, and a --run-dir is kept.
    r = testing::cli_in(dir, {"calc", "rattled.xyz", "--calculator", "emt", "--relax", "--fmax", "0.02", "-o", "relaxed.xyz", "--json",
                  "--run-dir", "keep"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const auto jr = nlohmann::json::parse(r.out);
    CHECK(jr.at("converged").get<bool>());
    CHECK(jr.at("fmax_eV_per_A").get<double>() < 0.02);
    CHECK(jr.at("energy_eV").get<double>() < j.at("energy_eV").get<double>());
    const auto relaxed = structures::read_structure(dir / "relaxed.xyz");
    CHECK(emt.compute(relaxed).energy == doctest::Approx(jr.at("energy_eV").get<double>()).epsilon(1e-9));
    CHECK(fs::exists(dir / "keep/state.sqlite"));
    engine::RunStore store(dir / "keep");
    CHECK(store.executions("structure/relax") == 1);
}

TEST_CASE("calc and neb: bad input is one line naming the file or option, exit code 2") {
    const auto dir = testing::scratch("calc-neb-bad");
    REQUIRE(testing::cli_in(dir, {"build", "slab", "Al", "--miller", "1,0,0", "--layers", "2", "-o", "slab.xyz"}).exit_code == 0);
    struct Case {
        std::vector<std::string> args;
        std::string expect;
    };
    for (const auto& c : std::vector<Case>{
             {{"calc", "missing.xyz", "--calculator", "emt"}, "missing.xyz: no such structure file"},
             {{"calc", "slab.xyz", "--calculator", "emtt"}, "field '--calculator': unknown calculator 'emtt'; did you mean 'emt'"},
             {{"neb", "slab.xyz", "slab.xyz", "--images", "0", "--calculator", "emt"}, "field '--images': must be at least 1"},
             {{"neb", "slab.xyz", "missing.xyz", "--images", "3", "--calculator", "emt"}, "missing.xyz: no such structure file"},
             {{"neb", "slab.xyz", "slab.xyz", "--images", "3", "--calculator", "lj2"}, "unknown calculator 'lj2'"},
             // Caught by the path builder inside the engine: still one line and exit code 2.
             {{"neb", "slab.xyz", "slab.xyz", "--images", "3", "--calculator", "emt"},
              "the end points are the same structure"},
             {{"neb", "slab.xyz", "slab.xyz", "--images", "3", "--calculator", "emt", "--method", "spline"},
              "field '--method': unknown path method 'spline'"}}) {
        const auto r = testing::cli_in(dir, c.args);
        CAPTURE(c.args[1]);
        CAPTURE(r.err);
        CHECK(r.exit_code == 2);
        CHECK(testing::count_lines(r.err) == 1);
        CHECK(r.err.find(c.expect) != std::string::npos);
        CHECK(r.out.empty());
    }
}

TEST_CASE("hops: in a workflow, validated with file:line:field before anything runs") {
    const auto dir = testing::scratch("hops-bad");
    const std::string head = "name: bad\ncalculator: {code: emt}\nadsorbate: Au\nhosts:\n"
                             "  - {name: Al(100), phase: Al, miller: [1, 0, 0], supercell: [3, 3]}\n";
    struct Case {
        std::string hop, expect;
    };
    for (const auto& c : std::vector<Case>{
             {"  - {host: Al(10), from: 4fold_hollow, to: 4fold_hollow}\n",
              "bad.yaml:7: field 'hops[0].host': unknown host 'Al(10)'; did you mean 'Al(100)'"},
             {"  - {host: Al(100), from: hollw, to: 4fold_hollow}\n", "bad.yaml:7: field 'hops[0].from': unknown site 'hollw'"},
             {"  - {host: Al(100), from: hollow, to: hollow, images: 0}\n",
              "bad.yaml:7: field 'hops[0].images': must be between 1 and 50"},
             {"  - {host: Al(100), from: hollow, to: hollow, optimizer: lbgfs}\n",
              "bad.yaml:7: field 'hops[0].optimizer'"},
             {"  - {host: Al(100), from: hollow, to: hollow, method: spline}\n",
              "bad.yaml:7: field 'hops[0].method': unknown path method 'spline'"},
             {"  - {host: Al(100), to: hollow}\n", "field 'hops[0].from': is required"}}) {
        {
            std::ofstream(dir / "bad.yaml") << head << "hops:\n" << c.hop;
        }
        const auto r = testing::cli_in(dir, {"run", "bad.yaml", "--run-dir", "run"});
        CAPTURE(c.hop);
        CAPTURE(r.err);
        CHECK(r.exit_code == 2);
        CHECK(testing::count_lines(r.err) == 1);
        CHECK(r.err.find(c.expect) != std::string::npos);
        CHECK(!fs::exists(dir / "run"));
    }
}

TEST_CASE("a workflow with hops runs: barriers in results (table, CSV, JSON) and profiles in results.h5") {
    const auto dir = testing::scratch("hops-run");
    fs::copy_file(testing::source_dir() / "workflows/examples/emt_hop.yaml", dir / "wf.yaml");
    const auto t0 = std::chrono::steady_clock::now();
    auto r = testing::cli_in(dir, {"run", "wf.yaml", "--run-dir", "run"});
    INFO(r.out.substr(0, 4000));
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    MESSAGE("emt_hop.yaml ran in " << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s");
    CHECK(r.out.find("E_a =") != std::string::npos);

    r = testing::cli_in(dir, {"results", "run", "--json"});
    REQUIRE(r.exit_code == 0);
    const auto j = nlohmann::json::parse(r.out);
    REQUIRE(j.at("hops").size() == 2);
    for (const auto& h : j.at("hops")) {
        CAPTURE(h.at("host").get<std::string>());
        CHECK(h.at("converged").get<bool>());
        CHECK(h.at("hop") == "4fold_hollow-4fold_hollow");
        // Hollow to equivalent hollow: a symmetric profile, a positive barrier over the bridge.
        CHECK(h.at("forward_barrier_eV").get<double>() > 0.05);
        CHECK(h.at("forward_barrier_eV").get<double>() < 2.0);
        CHECK(h.at("reverse_barrier_eV").get<double>() == doctest::Approx(h.at("forward_barrier_eV").get<double>()).epsilon(0.05));
        CHECK(h.at("energy_eV").size() == 5);
        CHECK(h.at("saddle_index").get<int>() == 2);
    }
    REQUIRE(j.at("pairs").size() == 1);
    CHECK(j.at("pairs")[0].at("surface_barrier_a_eV").is_number());
    CHECK(j.at("pairs")[0].at("surface_barrier_b_eV").is_number());
    r = testing::cli_in(dir, {"results", "run"});
    CHECK(r.out.find("E_a (eV)") != std::string::npos);
    CHECK(r.out.find("4fold_hollow-4fold_hollow") != std::string::npos);
    r = testing::cli_in(dir, {"results", "run", "--csv"});
    CHECK(r.out.find("neb_barrier,\"Al(100)\",\"4fold_hollow-4fold_hollow\"") != std::string::npos);

    if (!have_h5py()) {
        MESSAGE("python3-h5py missing: results.h5 not read");
        return;
    }
    const std::string py = "cd '" + dir.string() +
                           "' && /usr/bin/python3 -c \"import h5py, json\n"
                           "with h5py.File('run/results.h5', 'r') as f:\n"
                           "    g = f['neb/Al(100)/4fold_hollow-4fold_hollow']\n"
                           "    json.dump({'energy': g['energy'][()].tolist(), 'rc': g['reaction_coordinate'][()].tolist(),\n"
                           "               'units': g['energy'].attrs['units'], 'rc_units': g['reaction_coordinate'].attrs['units'],\n"
                           "               'fwd': float(g.attrs['forward_barrier']), 'saddle': g['saddle/positions'].shape[0],\n"
                           "               'hosts': list(f['neb/host'].asstr()[:]), 'barrier_a': f['delta_e/surface_barrier_a'][()].tolist()},\n"
                           "              open('h5.json', 'w'))\"";
    REQUIRE(std::system(py.c_str()) == 0);
    const auto h5 = nlohmann::json::parse(slurp(dir / "h5.json"));
    CHECK(h5.at("energy").size() == 5);
    CHECK(h5.at("energy")[0].get<double>() == 0.0);
    CHECK(h5.at("units") == "eV");
    CHECK(h5.at("rc_units") == "Å");
    CHECK(h5.at("hosts") == nlohmann::json::array({"Al(100)", "Cu(100)"}));
    double fwd = 0;
    for (const auto& h : j.at("hops"))
        if (h.at("host") == "Al(100)") fwd = h.at("forward_barrier_eV").get<double>();
    CHECK(h5.at("fwd").get<double>() == fwd);
    CHECK(h5.at("barrier_a")[0].get<double>() == fwd);
}

TEST_CASE("NEB killed with SIGKILL mid-band resumes from its saved band; finished tasks are not run again") {
    const auto dir = testing::scratch("neb-kill");
    // A slow band (FIRE to a tight fmax, 7 images) so that the kill lands inside the NEB.
    {
        std::ofstream(dir / "wf.yaml")
            << "name: kill\ncalculator: {code: emt}\nprotocol: {name: fast, fmax: 0.05, max_relax_steps: 300}\n"
               "adsorbate: Au\nhosts:\n"
               "  - {name: Al(100), phase: Al, miller: [1, 0, 0], layers: 3, supercell: [3, 3], fix_bottom_layers: 2, "
               "sites: [4fold_hollow]}\n"
               "hops:\n"
               "  - {host: Al(100), from: 4fold_hollow, to: 4fold_hollow, images: 7, method: idpp, climb: true, "
               "optimizer: fire, fmax: 0.002, max_iterations: 5000}\n";
    }
    const std::string neb = "Al(100)/hop/4fold_hollow-4fold_hollow/neb";
    const fs::path state =
        dir / "run/tasks" / engine::task_folder_name("Al(100)/hop/4fold_hollow-4fold_hollow/neb") / "neb_state.json";
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
    // Kill once the band has been saved a few iterations in.
    int saved_iterations = -1;
    for (int i = 0; i < 6000 && saved_iterations < 20; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
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
    REQUIRE(saved_iterations >= 20);
    // What the band had cost when it was killed, as its own saved state says.
    const auto at_kill = nlohmann::json::parse(slurp(state)).at("state");
    const int iterations_at_kill = at_kill.at("iterations").get<int>();
    const long calls_at_kill = at_kill.at("force_calls").get<long>();
    {
        engine::RunStore store(dir / "run");
        REQUIRE(store.task(neb));
        CHECK(store.task(neb)->state == engine::state::kRunning);
    }

    const auto r = testing::cli_in(dir, {"resume", "run"});
    INFO(r.out.substr(0, 3000));
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("resume " + neb + " from its saved band") != std::string::npos);
    engine::RunStore store(dir / "run");
    for (const auto& t : store.tasks()) {
        CAPTURE(t.name);
        CHECK(t.state == engine::state::kDone);
        // Nothing ran twice (what had finished before the kill was reused; the initial end point
        // is the hash of the 4fold_hollow+Au relaxation, so it never ran); the band twice: killed,
        // then resumed.
        CHECK(store.completed_executions(t.name) <= 1);
        if (t.name == neb) CHECK(store.executions(t.name) == 2);
        else CHECK(store.executions(t.name) <= 1);
    }
    const auto out = store.output_of(neb).value();
    CHECK(out.at("converged").get<bool>());
    CHECK(out.at("resumed_from_iteration").get<int>() >= saved_iterations);
    CHECK(out.at("iterations").get<int>() > out.at("resumed_from_iteration").get<int>());
    CHECK(out.at("forward_barrier_eV").get<double>() > 0.05);
    // The reported cost includes the work before the kill: every iteration and force call of
    // the killed attempt, plus the re-evaluation of the saved band's 7 moving images.
    CHECK(out.at("resumed_from_iteration").get<int>() == iterations_at_kill);
    CHECK(out.at("iterations").get<int>() > iterations_at_kill);
    CHECK(out.at("force_calls").get<long>() >= calls_at_kill + 7);
}
