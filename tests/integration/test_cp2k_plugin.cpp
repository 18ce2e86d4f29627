// The CP2K plugin against the real cp2k.psmp (no mocks): inputs written by the plugin, run as a
// real process through the LaunchSpec by cluster::LocalExecutor, outputs parsed by the
// plugin. Systems are tiny (Li2, a Li atom, 2-atom bcc Li) so the file runs in a few minutes
// on 2 cores. Skipped, with a message, only when cp2k.psmp is not on PATH.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <regex>
#include <sstream>

#include "cluster/local_executor.hpp"
#include "common/errors.hpp"
#include "common/units.hpp"
#include "plugins/calculator.hpp"
#include "plugins/cp2k/cp2k.hpp"
#include "plugins/calculation_requests.hpp"
#include "test_paths.hpp"

using namespace interphase;
using namespace interphase::plugins;

using interphase::testing::slurp;

namespace {

constexpr int kCores = 2;

bool cp2k_installed() {
    try {
        cp2k::Settings s;
        s.launcher = "none";
        cp2k::Cp2kCalculator(s).check_available();
        return true;
    } catch (const ExecutionError& e) {
        MESSAGE("skipping: " << e.what());
        return false;
    }
}


std::unique_ptr<Calculator> make(const nlohmann::json& config = nlohmann::json::object()) {
    return CalculatorRegistry::instance().create("cp2k", config, "test_cp2k_plugin");
}

cluster::Job launch_job(const Calculator& calc, const std::filesystem::path& dir) {
    const LaunchSpec spec = calc.launch(dir, kCores);
    cluster::Job job;
    job.id = dir.filename().string();
    job.argv = spec.argv;
    job.workdir = spec.workdir;
    job.cores = spec.cores;
    job.stdout_path = spec.stdout_file;
    job.stderr_path = spec.stderr_file;
    job.environment = spec.environment;
    return job;
}

/// Runs the prepared folder's LaunchSpec as a real process and parses the folder.
CalculationResult run_prepared(const Calculator& calc, const CalculationRequest& req, const std::filesystem::path& dir) {
    const cluster::Job job = launch_job(calc, dir);
    cluster::LocalExecutor executor(kCores);
    const auto t0 = std::chrono::steady_clock::now();
    const auto outcome = cluster::run_to_completion(executor, job);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    MESSAGE(job.id << ": " << job.argv.front() << " ... took " << seconds << " s");
    CHECK_MESSAGE(outcome.succeeded(), outcome.describe());
    return calc.parse(req, dir);
}

/// Writes the inputs, runs the LaunchSpec as a real process and parses the folder.
CalculationResult run(const Calculator& calc, const CalculationRequest& req, const std::filesystem::path& dir) {
    calc.write_inputs(req, dir);
    return run_prepared(calc, req, dir);
}

/// The last total energy in an output, read with a plain regex (independent of the plugin).
double last_energy_ev(const std::filesystem::path& out) {
    const std::string text = slurp(out);
    static const std::regex re(R"(ENERGY\| Total FORCE_EVAL \( QS \) energy [\[\(]a\.u\.[\]\)]:\s+(-?[0-9.]+))");
    double last = NAN;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it)
        last = std::stod((*it)[1]);
    REQUIRE_FALSE(std::isnan(last));
    return last * units::kHartreeToEV;
}

double first_energy_ev(const std::filesystem::path& out) {
    const auto parsed = cp2k::parse_output(slurp(out), out.string());
    REQUIRE_FALSE(parsed.energies.empty());
    return parsed.energies.front() * units::kHartreeToEV;
}

/// Li2 along z in an 8 × 8 × 10 Å box: the 10 Å along the bond keeps the periodic images
/// (still there: CP2K's cell is periodic) from stretching the bond. Not periodic → Γ only.
structures::Structure li2(double bond) {
    structures::Structure s(Eigen::Vector3d(8, 8, 10).asDiagonal());
    s.set_pbc({false, false, false});
    s.add_atom_cartesian("Li", {4, 4, 5 - bond / 2});
    s.add_atom_cartesian("Li", {4, 4, 5 + bond / 2});
    return s;
}

using testing::request;

double bond(const structures::Structure& s) { return (s.cartesian(1) - s.cartesian(0)).norm(); }

}  // namespace

TEST_CASE("cp2k (real): Li2 single point — energy, Newton-consistent forces along the bond") {
    if (!cp2k_installed()) return;
    const auto dir = testing::scratch("cp2k-li2-sp");
    auto calc = make();
    const auto req = request(li2(2.7), "plumbing");
    const auto r = run(*calc, req, dir);

    CHECK(slurp(dir / "cp2k.inp").find("KPOINTS") == std::string::npos);  // Γ only
    CHECK(r.code == "cp2k");
    CHECK(r.code_version.rfind("CP2K version", 0) == 0);
    CHECK(r.scf_converged);
    // Smeared: CP2K's total is the free energy F; the energy used is E0 = F − ½(−TS) ≥ F.
    REQUIRE(r.free_energy);
    CHECK(*r.free_energy == doctest::Approx(last_energy_ev(dir / "cp2k.out")).epsilon(1e-14));
    CHECK(r.energy >= *r.free_energy);
    CHECK(r.energy - *r.free_energy < 0.05);
    CHECK(r.energy < -400.0);  // two Li with 1s semicore (GTH q3): about -404 eV
    REQUIRE(r.forces.size() == 2);
    CHECK((r.forces[0] + r.forces[1]).norm() < 1e-3);  // Newton's third law (eV/Å)
    for (const auto& f : r.forces) {
        CHECK(std::abs(f.x()) < 1e-4);  // along the bond (z) only
        CHECK(std::abs(f.y()) < 1e-4);
        CHECK(std::abs(f.z()) > 1e-3);
    }
    // The structure comes back unchanged for a single point.
    CHECK(bond(r.structure) == doctest::Approx(2.7));
}

TEST_CASE("cp2k (real): Li2 relaxation from a stretched bond reaches the PBE bond length") {
    if (!cp2k_installed()) return;
    const auto dir = testing::scratch("cp2k-li2-relax");
    // DZVP (standard precision) at a reduced cutoff to stay fast; SZV (no p functions on Li)
    // puts the minimum near 2.95 Å.
    auto calc = make({{"cutoff", 200}, {"rel_cutoff", 30}});
    auto req = request(li2(3.0), "standard", CalculationKind::Relaxation);
    req.protocol.fmax = 0.05;
    const auto r = run(*calc, req, dir);

    MESSAGE("Li2 bond after relaxation: " << bond(r.structure) << " Å in " << r.ionic_steps << " steps");
    CHECK(r.geometry_converged);
    CHECK(r.ionic_steps >= 1);
    CHECK(bond(r.structure) > 2.55);  // PBE: ~2.7 Å
    CHECK(bond(r.structure) < 2.85);
    CHECK(r.energy < first_energy_ev(dir / "cp2k.out"));  // went downhill from 3.0 Å
    CHECK(r.energy == doctest::Approx(last_energy_ev(dir / "cp2k.out")).epsilon(1e-14));
    CHECK(r.max_force() <= req.protocol.fmax);
    CHECK((r.forces[0] + r.forces[1]).norm() < 1e-2);
    // The relaxed molecule stays where it was, on the box axis.
    CHECK(std::abs(r.structure.cartesian(0).x() - 4.0) < 1e-3);
    CHECK(std::abs(r.structure.cartesian(1).y() - 4.0) < 1e-3);
}

TEST_CASE("cp2k (real): a relaxation stopped mid-way continues from its last geometry and wavefunction") {
    // What a batch job stopped at its time limit leaves: CP2K killed with SIGTERM in the middle
    // of a GEO_OPT. prepare_restart() makes the folder continue; the continued run must start
    // at the last geometry the stopped one reached, read its wavefunction, and end where an
    // uninterrupted relaxation ends.
    if (!cp2k_installed()) return;
    // 400/50 Ry: at the plumbing 250/40, without XC-grid smoothing, the grid ("egg-box")
    // noise gives the soft SZV Li2 bond two minima 0.12 Å and 3 meV apart (measured), and two
    // relaxations may end in different ones.
    auto calc = make({{"cutoff", 400}, {"rel_cutoff", 50}});
    auto req = request(li2(4.2), "plumbing", CalculationKind::Relaxation);
    // Tight: the SZV Li2 bond is soft (0.05 eV/Å leaves the two runs 0.13 Å apart).
    req.protocol.fmax = 0.01;
    const auto full = run(*calc, req, testing::scratch("cp2k-li2-full"));
    REQUIRE(full.ionic_steps >= 4);

    const auto dir = testing::scratch("cp2k-li2-stopped");
    calc->write_inputs(req, dir);
    {
        cluster::LocalExecutor executor(kCores);
        executor.submit(launch_job(*calc, dir));
        const auto frames = [&] { return testing::count_lines(slurp(dir / "cp2k-pos-1.xyz")) / 4; };  // 2 atoms + 2 lines
        bool stopped = false;
        for (int i = 0; i < 1200 && !stopped; ++i) {
            const auto ended = executor.wait(std::chrono::milliseconds(100));
            REQUIRE_MESSAGE(ended.empty(), "the relaxation ended before it could be stopped");
            if (frames() >= 3) {
                executor.cancel_all();  // SIGTERM, as Slurm at the time limit
                stopped = true;
            }
        }
        REQUIRE(stopped);
        while (executor.running() > 0) executor.wait(std::chrono::milliseconds(200));
    }
    const auto last = cp2k::parse_last_xyz_frame(slurp(dir / "cp2k-pos-1.xyz"), "cp2k-pos-1.xyz");
    const double reached = (last.positions[1] - last.positions[0]).norm();
    MESSAGE("stopped at a bond of " << reached << " Å (start 4.2 Å)");
    CHECK(reached < 4.19);

    REQUIRE(calc->prepare_restart(req, dir));
    CHECK(std::filesystem::exists(dir / "cp2k.out.part-1"));
    CHECK(std::filesystem::exists(dir / "trajectory.part-1.xyz"));
    CHECK(std::filesystem::exists(dir / "restart-part-1.wfn"));
    CHECK(!std::filesystem::exists(dir / "cp2k-pos-1.xyz"));
    const std::string input = slurp(dir / "cp2k.inp");
    CHECK(input.find("SCF_GUESS RESTART") != std::string::npos);
    CHECK(input.find("WFN_RESTART_FILE_NAME restart-part-1.wfn") != std::string::npos);

    const auto r = run_prepared(*calc, req, dir);
    CHECK(r.geometry_converged);
    const std::string out = slurp(dir / "cp2k.out");
    // CP2K started from the wavefunction (at the geometry it was computed for, its first SCF
    // needs fewer steps than the stopped run's first) and from the geometry the stopped run reached.
    CHECK(out.find("Density guess:                                   RESTART") != std::string::npos);
    const auto continued = cp2k::parse_output(out, "cp2k.out");
    const auto stopped = cp2k::parse_output(slurp(dir / "cp2k.out.part-1"), "cp2k.out.part-1");
    REQUIRE(!continued.scf_steps.empty());
    MESSAGE("first SCF: " << continued.scf_steps.front() << " steps continued, " << stopped.scf_steps.front()
                          << " steps from the atomic guess");
    CHECK(continued.scf_steps.front() < stopped.scf_steps.front());
    const auto first = continued.energies.front() * units::kHartreeToEV;
    CHECK(first < first_energy_ev(dir / "cp2k.out.part-1") - 1e-3);
    MESSAGE("continued: E = " << r.energy << " eV in " << r.ionic_steps << " steps; uninterrupted: " << full.energy
                              << " eV in " << full.ionic_steps << " steps");
    CHECK(std::abs(r.energy - full.energy) < 2e-3);  // both converged to fmax 0.01 eV/Å
    CHECK(std::abs(bond(r.structure) - bond(full.structure)) < 0.02);
    CHECK(r.ionic_steps < full.ionic_steps);  // it did not start over

    // Nothing to continue from: a single point that never wrote a wavefunction starts over.
    const auto sp_dir = testing::scratch("cp2k-li2-sp-restart");
    auto sp = request(li2(2.7), "plumbing");
    calc->write_inputs(sp, sp_dir);
    CHECK_FALSE(calc->prepare_restart(sp, sp_dir));
    CHECK(slurp(sp_dir / "cp2k.inp").find("SCF_GUESS ATOMIC") != std::string::npos);
}

TEST_CASE("cp2k (real): relaxation with a fixed atom keeps it in place") {
    if (!cp2k_installed()) return;
    const auto dir = testing::scratch("cp2k-li2-fixed");
    auto calc = make();
    auto s = li2(3.0);
    s[0].fixed = true;
    s[0].label = "anchor";
    auto req = request(s, "plumbing", CalculationKind::Relaxation);
    req.protocol.fmax = 0.05;
    const auto r = run(*calc, req, dir);

    CHECK(slurp(dir / "cp2k.inp").find("LIST 1\n") != std::string::npos);
    CHECK(r.geometry_converged);
    CHECK((r.structure.cartesian(0) - s.cartesian(0)).norm() < 1e-6);
    CHECK(r.structure[0].fixed);
    CHECK(r.structure[0].label == "anchor");
    CHECK((r.structure.cartesian(1) - s.cartesian(1)).norm() > 1e-3);  // the free atom moved
    CHECK(r.max_force() <= req.protocol.fmax);                         // fixed atoms excluded
}

TEST_CASE("cp2k (real): bcc Li with k-points and smearing; a Li atom (UKS) and Li2 binding") {
    if (!cp2k_installed()) return;
    auto calc = make();

    // Conventional bcc cell, a = 3.44 Å: |b| = 1.83 Å^-1, 4×4×4 Monkhorst-Pack mesh at the fast 0.50 Å^-1.
    structures::Structure bcc(Eigen::Matrix3d::Identity() * 3.44);
    bcc.add_atom("Li", {0, 0, 0});
    bcc.add_atom("Li", {0.5, 0.5, 0.5});
    const auto bulk_dir = testing::scratch("cp2k-bcc-li");
    const auto bulk = run(*calc, request(bcc, "plumbing"), bulk_dir);
    const auto input = slurp(bulk_dir / "cp2k.inp");
    CHECK(input.find("SCHEME MONKHORST-PACK 4 4 4") != std::string::npos);
    CHECK(input.find("METHOD FERMI_DIRAC") != std::string::npos);
    CHECK(bulk.scf_converged);
    CHECK(bulk.free_energy.value_or(bulk.energy) == doctest::Approx(last_energy_ev(bulk_dir / "cp2k.out")).epsilon(1e-14));
    REQUIRE(bulk.forces.size() == 2);
    for (const auto& f : bulk.forces) CHECK(f.norm() < 0.01);  // every atom is an inversion centre

    // An isolated Li atom: 3 electrons → UKS doublet. Run without MPI to cover that launcher.
    auto direct = make({{"launcher", "none"}});
    structures::Structure box(Eigen::Vector3d(8, 8.16, 8.32).asDiagonal());
    box.set_pbc({false, false, false});
    box.add_atom("Li", {0.5, 0.5, 0.5});
    const auto atom_dir = testing::scratch("cp2k-li-atom");
    const auto atom = run(*direct, request(box, "plumbing"), atom_dir);
    CHECK(slurp(atom_dir / "cp2k.inp").find("MULTIPLICITY 2") != std::string::npos);
    CHECK(atom.scf_converged);

    // Physics sanity at the same (fast) settings: Li2 is bound, and bulk Li binds more per atom.
    const auto dimer = run(*calc, request(li2(2.9), "plumbing"), testing::scratch("cp2k-li2-bind"));
    const double dimer_binding = 2 * atom.energy - dimer.energy;
    const double cohesive = atom.energy - bulk.energy / 2;
    MESSAGE("Li2 binding " << dimer_binding << " eV; bcc Li cohesive energy " << cohesive << " eV/atom");
    CHECK(dimer_binding > 0.2);
    CHECK(cohesive > dimer_binding / 2);
}

TEST_CASE("cp2k (real): a spin-polarised slab with k-points, a dipole correction and D3(BJ) runs") {
    // CP2K aborts on FIXED_MAGNETIC_MOMENT with k-points (issue 12): the moment must be left
    // free there. Three bcc Li (100) planes, 9 electrons, asked for a doublet, 4x4x1 k-points.
    if (!cp2k_installed()) return;
    auto calc = make();
    structures::Structure slab(Eigen::Vector3d(3.44, 3.44, 3 * 1.72 + 10).asDiagonal());
    slab.set_pbc({true, true, false});
    for (int i = 0; i < 3; ++i) slab.add_atom_cartesian("Li", {(i % 2) * 1.72, (i % 2) * 1.72, 5 + i * 1.72});
    auto req = request(slab, "plumbing");
    req.spin_multiplicity = 2;
    req.slab = true;
    req.electronic = Electronic::Metal;
    req.protocol.dispersion = "d3bj";
    const auto dir = testing::scratch("cp2k-li-slab-uks-kp");
    const auto r = run(*calc, req, dir);
    const auto input = slurp(dir / "cp2k.inp");
    CHECK(input.find("UKS .TRUE.") != std::string::npos);
    CHECK(input.find("&KPOINTS") != std::string::npos);
    CHECK(input.find("FIXED_MAGNETIC_MOMENT") == std::string::npos);
    CHECK(input.find("SURFACE_DIPOLE_CORRECTION .TRUE.") != std::string::npos);
    CHECK(r.scf_converged);
    const auto out = slurp(dir / "cp2k.out");
    CHECK(out.find("Dispersion energy:") != std::string::npos);  // the D3 correction was computed
    CHECK(r.physics.at("moment") == "free");
    CHECK(r.physics.at("dipole_correction").at("direction") == "z");
    REQUIRE(r.physics.contains("absolute_spin_density"));
    MESSAGE("Li3 slab: |m| integrated " << r.physics.at("absolute_spin_density") << " electrons; E0 " << r.energy
                                        << " eV, F " << r.free_energy.value_or(NAN) << " eV");
    CHECK(r.physics.at("absolute_spin_density").get<double>() >= 0.0);
}

TEST_CASE("cp2k (real): a missing executable is reported by check_available") {
    auto calc = make({{"executable", "cp2k-not-here"}});
    try {
        calc->check_available();
        FAIL("no ExecutionError");
    } catch (const ExecutionError& e) {
        CHECK(std::string(e.what()) == "CP2K executable 'cp2k-not-here' not found on PATH (calculator.executable)");
    }
}
