// CP2K plugin without running CP2K: the output parser on real outputs (shared fixtures from
// CP2K 7.1, 9.1 and 2024.3, plus CP2K 2023.1 outputs of this plugin's own inputs in
// tests/plugins/data), error classification, and the input writer (golden file, k-mesh,
// spin, constraints, configuration errors). Set INTERPHASE_UPDATE_GOLDEN=1 to rewrite the
// golden input after an intended change (and bump kPluginVersion).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <unistd.h>

#include "common/errors.hpp"
#include "common/units.hpp"
#include "plugins/calculator.hpp"
#include "plugins/cp2k/cp2k.hpp"
#include "plugins/calculation_requests.hpp"
#include "test_paths.hpp"

using namespace interphase;
using namespace interphase::plugins;
namespace cp2k = interphase::plugins::cp2k;
using Reason = CalculationError::Reason;

using interphase::testing::slurp;

namespace {


std::filesystem::path fixture(const std::string& name) { return testing::fixtures_dir() / "cp2k" / name; }
std::filesystem::path data(const std::string& name) { return testing::source_dir() / "tests/plugins/data" / name; }

cp2k::Cp2kOutput parse_fixture(const std::filesystem::path& p) { return cp2k::parse_output(slurp(p), p.string()); }

/// Runs check_output and returns the reason and message it throws (fails when it does not).
std::pair<Reason, std::string> classify(const CalculationRequest& req, const cp2k::Cp2kOutput& out,
                                        const std::string& file) {
    try {
        cp2k::check_output(req, out, file);
    } catch (const CalculationError& e) {
        return {e.reason(), e.what()};
    }
    FAIL("check_output did not throw for " << file);
    return {Reason::Missing, ""};
}

structures::Structure box(double a, double b, double c) {
    Eigen::Matrix3d l = Eigen::Matrix3d::Zero();
    l(0, 0) = a;
    l(1, 1) = b;
    l(2, 2) = c;
    return structures::Structure(l);
}

/// Li2 along z in an 8 × 8 × 10 Å box (the molecule of the integration tests); not periodic,
/// so Γ only.
structures::Structure li2(double bond) {
    auto s = box(8, 8, 10);
    s.set_pbc({false, false, false});
    s.add_atom_cartesian("Li", {4, 4, 5 - bond / 2});
    s.add_atom_cartesian("Li", {4, 4, 5 + bond / 2});
    return s;
}

/// Antifluorite Li2S primitive cell (a = 5.70 Å), S first.
structures::Structure li2s() {
    const double h = 5.70 / 2;
    Eigen::Matrix3d l;
    l << 0, h, h, h, 0, h, h, h, 0;
    structures::Structure s(l);
    s.add_atom("S", {0, 0, 0});
    s.add_atom("Li", {0.25, 0.25, 0.25});
    s.add_atom("Li", {0.75, 0.75, 0.75});
    return s;
}

using testing::request;

bool has_line(const std::string& text, const std::string& line) {
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);)
        if (l.find_first_not_of(' ') != std::string::npos && l.substr(l.find_first_not_of(' ')) == line) return true;
    return false;
}

// The input without its "!" comment lines (which name the electronic character as given).
std::string without_comments(const std::string& text) {
    std::istringstream in(text);
    std::string line, out;
    while (std::getline(in, line))
        if (line.rfind("!", 0) != 0) out += line + "\n";
    return out;
}

std::optional<double> keyword_value(const std::string& text, const std::string& keyword) {
    std::smatch m;
    if (std::regex_search(text, m, std::regex("\\n\\s*" + keyword + "\\s+([-+0-9.eE]+)\\n"))) return std::stod(m[1]);
    return std::nullopt;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Parser on the shared real outputs
// ---------------------------------------------------------------------------------------------

TEST_CASE("cp2k parser: GEO_OPT outputs of CP2K 9.1 and 2024.3") {
    struct Case {
        const char* file;
        const char* version;
        double final_hartree;
    };
    for (const Case c : {Case{"GEO_OPT_v9.1.out", "CP2K version 9.1", -13.726193434833574},
                         Case{"GEO_OPT_v2024.3.out", "CP2K version 2024.3", -13.726193434833586}}) {
        CAPTURE(c.file);
        const auto out = parse_fixture(fixture(c.file));
        CHECK(out.version == c.version);
        CHECK(out.run_type == "GEO_OPT");
        // Steps 0..3 of the optimiser plus the re-evaluation at the minimum.
        REQUIRE(out.energies.size() == 5);
        CHECK(out.energies.front() == doctest::Approx(-13.725689111701852).epsilon(1e-14));
        CHECK(out.energies.back() == doctest::Approx(c.final_hartree).epsilon(1e-15));
        CHECK(out.final_energy_ev() == doctest::Approx(c.final_hartree * units::kHartreeToEV).epsilon(1e-15));
        CHECK(out.final_energy_ev() == doctest::Approx(-373.5088).epsilon(1e-6));
        CHECK(out.scf_converged == std::vector<bool>(5, true));
        CHECK(out.scf_steps == std::vector<int>{7, 11, 11, 9, 9});
        CHECK(out.optimization_steps == 3);
        CHECK(out.geometry_completed);
        CHECK_FALSE(out.max_steps_reached);
        CHECK(out.aborts.empty());
        CHECK(out.program_ended);
        CHECK(out.forces.empty());  // these runs did not print forces

        // Classified as a converged relaxation of the 6-atom C2H4 cell...
        auto s = box(10, 10, 10);
        for (const char* el : {"C", "C", "H", "H", "H", "H"}) s.add_atom(el, {0.1 * static_cast<double>(s.size()), 0, 0});
        auto req = request(s, "fast", CalculationKind::Relaxation);
        CHECK_NOTHROW(cp2k::check_output(req, out, c.file));
        // ...but a result needs forces: the plugin always asks CP2K to print them.
        CHECK_THROWS_AS(cp2k::make_result(req, out, c.file), ParseError);
    }
}

TEST_CASE("cp2k parser: cp2k.out.conv is an unfinished SCF excerpt, not a converged run") {
    // Despite its name (custodian's "conv" handler test), the file holds OT inner loops that stop
    // at 20 steps and no energy, no convergence marker and no end banner.
    const auto out = parse_fixture(fixture("cp2k.out.conv"));
    CHECK(out.version.empty());
    CHECK(out.energies.empty());
    CHECK(out.scf_converged.empty());
    CHECK_FALSE(out.program_ended);
    const auto [reason, msg] = classify(request(li2(2.7)), out, "cp2k.out.conv");
    CHECK(reason == Reason::Truncated);
    CHECK(msg.find("cp2k.out.conv") != std::string::npos);
}

TEST_CASE("cp2k parser: unconverged SCF (CP2K 7.1, energy printed with '(a.u.)')") {
    const auto path = fixture("cp2k.out.unconverged");
    const auto out = parse_fixture(path);
    CHECK(out.version == "CP2K version 7.1");
    CHECK(out.run_type == "ENERGY_FORCE");
    REQUIRE(out.energies.size() == 1);
    CHECK(out.energies[0] == doctest::Approx(-7.096336535944440).epsilon(1e-15));
    CHECK(out.scf_converged == std::vector<bool>{false});
    CHECK_FALSE(out.final_scf_converged());
    CHECK(out.program_ended);
    const auto [reason, msg] = classify(request(li2(2.7)), out, path.string());
    CHECK(reason == Reason::ScfNotConverged);
    CHECK(msg.find(path.string()) != std::string::npos);
    CHECK(msg.find("SCF") != std::string::npos);
}

TEST_CASE("cp2k parser: ABORT boxes are crashes with CP2K's message") {
    SUBCASE("Cholesky decomposition failure") {
        const auto path = fixture("cp2k.out.cholesky");
        const auto out = parse_fixture(path);
        REQUIRE(out.aborts.size() == 2);
        CHECK(out.aborts[0] == "CPASSERT failed (fm/cp_fm_cholesky.F:94)");
        CHECK(out.aborts[1] == "Cholesky decomposition failed. Matrix ill conditioned ? (cp_dbcsr_cholesky.F:119)");
        const auto [reason, msg] = classify(request(li2(2.7)), out, path.string());
        CHECK(reason == Reason::Crashed);  // crash wins over the missing end banner
        CHECK(msg.find("Cholesky decomposition failed") != std::string::npos);
        CHECK(msg.find(path.string()) != std::string::npos);
    }
    SUBCASE("multi-line message (hybrid functional without libint)") {
        const auto path = fixture("cp2k.out.hybrid");
        const auto out = parse_fixture(path);
        REQUIRE_FALSE(out.aborts.empty());
        CHECK(out.aborts.back() ==
              "This CP2K executable has not been linked against the required library libint. (libint_wrapper.F:1219)");
        CHECK(classify(request(li2(2.7)), out, path.string()).first == Reason::Crashed);
    }
}

TEST_CASE("cp2k parser: killed runs are truncated") {
    for (const char* name : {"cp2k.out.precondstuck", "cp2k.out.imprecise", "cp2k.out.test"}) {
        CAPTURE(name);
        const auto out = parse_fixture(fixture(name));
        CHECK_FALSE(out.program_ended);
        CHECK(out.aborts.empty());
        const auto [reason, msg] = classify(request(li2(2.7)), out, name);
        CHECK(reason == Reason::Truncated);
        CHECK(msg.find(name) != std::string::npos);
    }
    SUBCASE("an empty output") {
        const auto out = cp2k::parse_output("", "empty.out");
        CHECK(out.energies.empty());
        CHECK(classify(request(li2(2.7)), out, "empty.out").first == Reason::Truncated);
    }
    SUBCASE("a finished output cut in the middle") {
        const auto text = slurp(fixture("GEO_OPT_v9.1.out"));
        const auto cut = text.substr(0, text.find("GEOMETRY OPTIMIZATION COMPLETED") - 200);
        const auto out = cp2k::parse_output(cut, "cut.out");
        CHECK(out.optimization_steps == 3);
        const auto [reason, msg] = classify(request(li2(2.7), "fast", CalculationKind::Relaxation), out, "cut.out");
        CHECK(reason == Reason::Truncated);
        CHECK(msg.find("3 optimisation step") != std::string::npos);
    }
}

TEST_CASE("cp2k parser: an appended output is read from its last run only") {
    // cp2k -o appends; the plugin deletes old outputs, but a user rerun by hand must not mix runs.
    const auto text = slurp(fixture("cp2k.out.unconverged")) + slurp(fixture("GEO_OPT_v2024.3.out"));
    const auto out = cp2k::parse_output(text, "appended.out");
    CHECK(out.version == "CP2K version 2024.3");
    CHECK(out.energies.size() == 5);
    CHECK(out.final_scf_converged());
    CHECK(out.scf_converged.size() == 5);
}

TEST_CASE("cp2k parser: malformed numbers are ParseErrors naming file and line") {
    const std::string text = "\n ENERGY| Total FORCE_EVAL ( QS ) energy [a.u.]:   -1.2.3\n";
    try {
        cp2k::parse_output(text, "bad.out");
        FAIL("no ParseError");
    } catch (const ParseError& e) {
        CHECK(e.file() == "bad.out");
        CHECK(e.line() == 2);
    }
}

TEST_CASE("cp2k parser: CP2K 2025 energy and force lines") {
    // The layout CP2K prints from version 2025 on ("[hartree]", "FORCES|" rows), which we have
    // no full output of; reproduced here so the parser keeps reading newer versions.
    const std::string text =
        " ENERGY| Total FORCE_EVAL ( QS ) energy [hartree]             -3.701430592573918\n"
        " FORCES| Atomic forces [hartree/bohr]\n"
        " FORCES|   Atom     x               y               z               |f|\n"
        " FORCES|      1 -2.08241778E-06 -2.08289641E-06 -2.08293559E-06   3.60742872E-06\n"
        " FORCES|      2  1.00000000E-02  0.00000000E+00 -3.00000000E-02   3.16227766E-02\n"
        " FORCES| Sum    -2.08241778E-06 -2.08289641E-06 -2.08293559E-06\n";
    const auto out = cp2k::parse_output(text, "v2025.out");
    REQUIRE(out.energies.size() == 1);
    CHECK(out.energies[0] == doctest::Approx(-3.701430592573918).epsilon(1e-15));
    REQUIRE(out.forces.size() == 2);
    CHECK(out.forces[0].x() == doctest::Approx(-2.08241778e-06));
    CHECK(out.forces[1].z() == doctest::Approx(-3.0e-02));
}

// ---------------------------------------------------------------------------------------------
// Parser on CP2K 2023.1 outputs of this plugin's inputs (tests/plugins/data)
// ---------------------------------------------------------------------------------------------

TEST_CASE("cp2k parser: single point of Li2 by CP2K 2023.1 (forces, units)") {
    const auto path = data("cp2k_2023.1_li2_sp.out");
    const auto out = parse_fixture(path);
    CHECK(out.version == "CP2K version 2023.1");
    CHECK(out.run_type == "ENERGY_FORCE");
    REQUIRE(out.energies.size() == 1);
    REQUIRE(out.forces.size() == 2);
    CHECK(out.program_ended);
    CHECK(out.final_scf_converged());

    // Expected values read independently from the text.
    const auto text = slurp(path);
    std::smatch m;
    REQUIRE(std::regex_search(text, m, std::regex(R"(ENERGY\| Total FORCE_EVAL \( QS \) energy \[a\.u\.\]:\s+(\S+))")));
    const double hartree = std::stod(m[1]);
    REQUIRE(std::regex_search(text, m, std::regex(R"(\n\s+2\s+1\s+Li\s+(\S+)\s+(\S+)\s+(\S+)\n)")));
    const double fz2 = std::stod(m[3]);

    REQUIRE(std::regex_search(text, m, std::regex(R"(Electronic entropic energy:\s+(\S+))")));
    const double minus_ts = std::stod(m[1]);

    auto req = request(li2(2.7));
    const auto r = cp2k::make_result(req, out, path.string());
    // Smeared: the free energy F is CP2K's total; the energy used is E0 = F − ½(−TS).
    REQUIRE(r.free_energy);
    CHECK(*r.free_energy == doctest::Approx(hartree * units::kHartreeToEV).epsilon(1e-15));
    CHECK(r.energy == doctest::Approx((hartree - 0.5 * minus_ts) * units::kHartreeToEV).epsilon(1e-15));
    CHECK(r.energy > *r.free_energy);  // −TS < 0
    CHECK(r.forces[1].z() == doctest::Approx(fz2 * units::kHartreePerBohrToEVPerAngstrom).epsilon(1e-12));
    CHECK(r.code == "cp2k");
    CHECK(r.code_version == "CP2K version 2023.1");
    CHECK(r.scf_converged);
    CHECK(r.geometry_converged);
    CHECK(r.ionic_steps == 0);
    CHECK((r.forces[0] + r.forces[1]).norm() < 1e-6);

    // A request with a different atom count cannot take these forces.
    auto s3 = li2(2.7);
    s3.add_atom_cartesian("Li", {1, 1, 1});
    CHECK_THROWS_AS(cp2k::make_result(request(s3), out, path.string()), ParseError);
}

TEST_CASE("cp2k plugin: parse() of a relaxation folder keeps order and tags") {
    // A GEO_OPT of Li2 with atom 1 fixed, run by CP2K 2023.1 from this plugin's input.
    const auto dir = testing::scratch("cp2k-parse-relax");
    std::filesystem::copy_file(data("cp2k_2023.1_li2_relax.out"), dir / "cp2k.out");
    std::filesystem::copy_file(data("cp2k_2023.1_li2_relax-pos-1.xyz"), dir / "cp2k-pos-1.xyz");
    auto s = li2(3.0);
    s[0].fixed = true;
    s[0].label = "anchor";
    s[1].layer = 3;
    auto req = request(s, "fast", CalculationKind::Relaxation);
    req.protocol.fmax = 0.05;
    cp2k::Cp2kCalculator calc{cp2k::Settings{}};
    const auto r = calc.parse(req, dir);
    CHECK(r.geometry_converged);
    CHECK(r.ionic_steps >= 1);
    CHECK(r.structure.lattice().isApprox(s.lattice()));
    CHECK(r.structure[0].fixed);
    CHECK(r.structure[0].label == "anchor");
    CHECK(r.structure[1].layer == 3);
    CHECK((r.structure.cartesian(0) - s.cartesian(0)).norm() < 1e-8);  // the fixed atom stayed
    CHECK((r.structure.cartesian(1) - s.cartesian(1)).norm() > 1e-3);  // the other one moved
    CHECK(r.max_force() <= req.protocol.fmax);

    // The final frame from the trajectory, the final energy from the output.
    const auto frame = cp2k::parse_last_xyz_frame(slurp(dir / "cp2k-pos-1.xyz"), "pos");
    CHECK((r.structure.cartesian(1) - frame.positions[1]).norm() < 1e-9);
    const auto out = parse_fixture(dir / "cp2k.out");
    REQUIRE(!out.entropic_energies.empty());
    CHECK(*r.free_energy == doctest::Approx(out.energies.back() * units::kHartreeToEV).epsilon(1e-15));
    CHECK(r.energy == doctest::Approx((out.energies.back() - 0.5 * out.entropic_energies.back()) * units::kHartreeToEV)
                          .epsilon(1e-15));
    // The physics record says what was computed and how the energy was taken.
    CHECK(r.physics.at("energy") == "sigma->0 (E0 = F + TS/2)");
    CHECK(r.physics.at("kinds").at("Li").at("potential") == "GTH-PBE-q3");
    CHECK(r.physics.at("fixed_atoms") == 1);
    CHECK(r.physics.at("entropy_term_eV").get<double>() ==
          doctest::Approx(out.entropic_energies.back() * units::kHartreeToEV));
}

TEST_CASE("cp2k parser: the entropic term read is the one in the printed total energy") {
    // CP2K prints the parts of its total energy after each SCF: their sum must give the
    // "Total energy:" line, so the −TS the parser keeps is the one that total contains.
    for (const char* name : {"cp2k_2023.1_li2_sp.out", "cp2k_2023.1_li2_relax.out"}) {
        CAPTURE(name);
        const auto text = slurp(data(name));
        const auto out = parse_fixture(data(name));
        std::vector<double> totals, sums;
        std::istringstream in(text);
        std::string line;
        double sum = 0;
        const std::regex part(R"(^\s+(Overlap energy of the core charge distribution|Self energy of the core charge distribution|Core Hamiltonian energy|Hartree energy|Exchange-correlation energy|Electronic entropic energy):\s+(\S+))");
        const std::regex total(R"(^\s+Total energy:\s+(\S+))");
        std::smatch m;
        while (std::getline(in, line)) {
            if (std::regex_search(line, m, part)) sum += std::stod(m[2]);
            if (std::regex_search(line, m, total)) {
                totals.push_back(std::stod(m[1]));
                sums.push_back(sum);
                sum = 0;
            }
        }
        REQUIRE(totals.size() == out.entropic_energies.size());
        // To 1e-6 Ha (the parts of a loosely converged SCF agree to 2.3e-7 Ha), while every −TS
        // here is larger than 4e-6 Ha: a sum without it, or with another SCF's, would fail.
        for (std::size_t i = 0; i < totals.size(); ++i) {
            CHECK(std::abs(sums[i] - totals[i]) < 1e-6);
            CHECK(std::abs(out.entropic_energies[i]) > 4e-6);
        }
    }
}

TEST_CASE("cp2k parser: a relaxation that hits MAX_ITER (CP2K 2023.1)") {
    // The Li2 relaxation above rerun with MAX_ITER 1.
    const auto path = data("cp2k_2023.1_li2_maxiter.out");
    const auto out = parse_fixture(path);
    CHECK(out.max_steps_reached);
    CHECK_FALSE(out.geometry_completed);
    CHECK(out.optimization_steps == 1);
    CHECK(out.program_ended);
    CHECK(out.final_scf_converged());
    CHECK(out.energies.size() == 2);
    const auto [reason, msg] = classify(request(li2(3.0), "fast", CalculationKind::Relaxation), out, path.string());
    CHECK(reason == Reason::GeometryNotConverged);
    CHECK(msg.find(path.string()) != std::string::npos);
    CHECK(msg.find("1 step") != std::string::npos);
    // The same output read as a single point is fine (a converged SCF with forces).
    CHECK_NOTHROW(cp2k::check_output(request(li2(3.0)), out, path.string()));
}

TEST_CASE("cp2k plugin: parse() classifies missing and empty outputs") {
    cp2k::Cp2kCalculator calc{cp2k::Settings{}};
    const auto req = request(li2(2.7));
    const auto dir = testing::scratch("cp2k-parse-missing");
    try {
        calc.parse(req, dir);
        FAIL("no error");
    } catch (const CalculationError& e) {
        CHECK(e.reason() == Reason::Missing);
        CHECK(std::string(e.what()).find((dir / "cp2k.out").string()) != std::string::npos);
    }
    { std::ofstream(dir / "cp2k.out"); }
    { std::ofstream(dir / "cp2k.stderr") << "mpirun noticed that process rank 0 exited on signal 9 (Killed).\n"; }
    try {
        calc.parse(req, dir);
        FAIL("no error");
    } catch (const CalculationError& e) {
        CHECK(e.reason() == Reason::Truncated);
        CHECK(std::string(e.what()).find("signal 9") != std::string::npos);  // stderr's last line
    }
    // A relaxation whose output is complete but whose trajectory is gone.
    std::filesystem::copy_file(data("cp2k_2023.1_li2_relax.out"), dir / "cp2k.out",
                               std::filesystem::copy_options::overwrite_existing);
    auto relax = request(li2(3.0), "fast", CalculationKind::Relaxation);
    relax.structure[0].fixed = true;
    CHECK_THROWS_AS(calc.parse(relax, dir), ParseError);
}

TEST_CASE("cp2k parser: XYZ trajectories") {
    const std::string two_frames = "2\n i = 1, E = -1\nLi 0 0 0\nLi 0 0 3\n2\n i = 2, E = -2\nLi 0 0 0.1\nLi 0 0 2.8\n";
    const auto f = cp2k::parse_last_xyz_frame(two_frames, "t.xyz");
    REQUIRE(f.species.size() == 2);
    CHECK(f.positions[1].z() == doctest::Approx(2.8));
    CHECK(f.positions[0].z() == doctest::Approx(0.1));
    CHECK_THROWS_AS(cp2k::parse_last_xyz_frame("", "t.xyz"), ParseError);
    CHECK_THROWS_AS(cp2k::parse_last_xyz_frame("3\ncomment\nLi 0 0 0\n", "t.xyz"), ParseError);
    CHECK_THROWS_AS(cp2k::parse_last_xyz_frame("1\nc\nLi 0 x 0\n", "t.xyz"), ParseError);
}

// ---------------------------------------------------------------------------------------------
// Input writer
// ---------------------------------------------------------------------------------------------

TEST_CASE("cp2k input: golden file for a Li2S relaxation with a fixed atom") {
    auto s = li2s();
    s[0].fixed = true;
    auto req = request(s, "fast", CalculationKind::Relaxation);
    req.label = "Li2S antifluorite, S fixed";
    const auto text = cp2k::write_input(req, cp2k::Settings{});
    const auto golden = data("cp2k_li2s_relax_fast.inp");
    if (std::getenv("INTERPHASE_UPDATE_GOLDEN")) {
        std::ofstream(golden, std::ios::binary) << text;
        MESSAGE("rewrote " << golden);
    }
    CHECK(text == slurp(golden));
    CHECK(cp2k::write_input(req, cp2k::Settings{}) == text);  // deterministic
}

TEST_CASE("cp2k input: Monkhorst-Pack mesh from the k-point spacing") {
    using Mesh = std::array<int, 3>;
    // Cubic 4 Å: |b| = 2π/4 = 1.5708 Å^-1.
    CHECK(cp2k::kpoint_mesh(box(4, 4, 4), 0.30) == Mesh{6, 6, 6});  // 5.24 -> 6
    CHECK(cp2k::kpoint_mesh(box(4, 4, 4), 0.40) == Mesh{4, 4, 4});  // 3.93 -> 4
    CHECK(cp2k::kpoint_mesh(box(4, 8, 30), 0.40) == Mesh{4, 2, 1});
    // An exact multiple is not rounded up by floating-point noise: |b| = 3 × spacing.
    const double spacing = 0.25;
    const double a = 2 * M_PI / (3 * spacing);
    CHECK(cp2k::kpoint_mesh(box(a, a, a), spacing) == Mesh{3, 3, 3});
    // fcc Li2S primitive, a = 5.70: |b_i| = 2π√3/a = 1.909 Å^-1.
    CHECK(cp2k::kpoint_mesh(li2s(), 0.40) == Mesh{5, 5, 5});
    CHECK(cp2k::kpoint_mesh(li2s(), 0.25) == Mesh{8, 8, 8});
    // Non-periodic directions get one k-point.
    auto slab = box(4, 4, 4);
    slab.set_pbc({true, true, false});
    CHECK(cp2k::kpoint_mesh(slab, 0.30) == Mesh{6, 6, 1});
    // A molecule in a large box is Γ-only: no KPOINTS section at all.
    const auto text = cp2k::write_input(request(li2(2.7)), cp2k::Settings{});
    CHECK(text.find("KPOINTS") == std::string::npos);
    // The spacing follows the electronic character (fast: insulators 0.30, metals 0.20 Å^-1);
    // an unknown character gets the metal's denser mesh.
    auto insulator = request(li2s());
    insulator.electronic = Electronic::Insulator;
    CHECK(has_line(cp2k::write_input(insulator, cp2k::Settings{}), "SCHEME MONKHORST-PACK 7 7 7"));  // 6.36 -> 7
    const auto unknown = cp2k::write_input(request(li2s()), cp2k::Settings{});
    CHECK(has_line(unknown, "SCHEME MONKHORST-PACK 10 10 10"));  // 9.55 -> 10
    auto metal = request(li2s());
    metal.electronic = Electronic::Metal;
    CHECK(without_comments(cp2k::write_input(metal, cp2k::Settings{})) == without_comments(unknown));
}

TEST_CASE("cp2k input: protocol mapping") {
    // plumbing: the machinery-test protocol (SZV, 250/40 Ry), the only one with a minimal basis.
    const auto plumbing = cp2k::write_input(request(li2s(), "plumbing"), cp2k::Settings{});
    CHECK(has_line(plumbing, "BASIS_SET SZV-MOLOPT-SR-GTH"));
    CHECK(has_line(plumbing, "CUTOFF 250"));
    CHECK(has_line(plumbing, "REL_CUTOFF 40"));
    CHECK(has_line(plumbing, "EPS_SCF 1.0E-05"));
    CHECK(has_line(plumbing, "ELECTRONIC_TEMPERATURE [K] 1160.45"));  // 0.1 eV / k_B

    const auto fast = cp2k::write_input(request(li2s(), "fast"), cp2k::Settings{});
    CHECK(has_line(fast, "BASIS_SET DZVP-MOLOPT-SR-GTH"));
    CHECK(has_line(fast, "POTENTIAL GTH-PBE-q6"));  // S
    CHECK(has_line(fast, "POTENTIAL GTH-PBE-q3"));  // Li
    CHECK(has_line(fast, "CUTOFF 400"));
    CHECK(has_line(fast, "REL_CUTOFF 50"));
    CHECK(has_line(fast, "NGRIDS 4"));
    CHECK(has_line(fast, "EPS_DEFAULT 1.0E-12"));
    CHECK(has_line(fast, "EPS_SCF 1.0E-06"));
    CHECK(has_line(fast, "MAX_SCF 200"));
    CHECK(has_line(fast, "RUN_TYPE ENERGY_FORCE"));
    CHECK(has_line(fast, "METHOD FERMI_DIRAC"));
    CHECK(has_line(fast, "METHOD BROYDEN_MIXING"));
    CHECK(fast.find("&MOTION") == std::string::npos);
    // 0.03 eV / k_B = 348.14 K
    CHECK(has_line(fast, "ELECTRONIC_TEMPERATURE [K] 348.14"));
    CHECK(has_line(fast, "BASIS_SET_FILE_NAME /usr/share/cp2k/BASIS_MOLOPT"));
    CHECK(has_line(fast, "POTENTIAL_FILE_NAME /usr/share/cp2k/GTH_POTENTIALS"));
    CHECK(has_line(fast, "PERIODIC XYZ"));
    CHECK(has_line(fast, "&FORCES ON"));
    // No protocol smooths the XC grid: it biases the free atom by more than 1 eV.
    for (const auto* text : {&plumbing, &fast}) {
        CHECK(text->find("XC_SMOOTH_RHO") == std::string::npos);
        CHECK(text->find("XC_DERIV") == std::string::npos);
    }

    const auto standard = cp2k::write_input(request(li2s(), "standard"), cp2k::Settings{});
    CHECK(has_line(standard, "BASIS_SET DZVP-MOLOPT-SR-GTH"));
    CHECK(has_line(standard, "CUTOFF 600"));
    CHECK(has_line(standard, "REL_CUTOFF 60"));
    CHECK(has_line(standard, "NGRIDS 5"));
    CHECK(has_line(standard, "SCHEME MONKHORST-PACK 13 13 13"));  // metal spacing 0.15: 12.7 -> 13
    CHECK(has_line(standard, "EPS_SCF 1.0E-06"));
    CHECK(standard.find("XC_SMOOTH_RHO") == std::string::npos);
    // precise: the UZH triple-zeta sets and potentials, per valence.
    const auto precise = cp2k::write_input(request(li2s(), "precise"), cp2k::Settings{});
    CHECK(has_line(precise, "BASIS_SET TZV2P-MOLOPT-PBE-GTH-q3"));  // Li
    CHECK(has_line(precise, "BASIS_SET TZV2P-MOLOPT-PBE-GTH-q6"));  // S
    CHECK(has_line(precise, "POTENTIAL GTH-PBE-q6"));
    CHECK(has_line(precise, "BASIS_SET_FILE_NAME /usr/share/cp2k/BASIS_MOLOPT_UZH"));
    CHECK(has_line(precise, "POTENTIAL_FILE_NAME /usr/share/cp2k/POTENTIAL_UZH"));
    CHECK(has_line(precise, "CUTOFF 800"));
    CHECK(has_line(precise, "EPS_SCF 1.0E-07"));
    auto lda = request(li2s(), "precise");
    lda.protocol.functional = "LDA";
    CHECK_THROWS_AS(cp2k::write_input(lda, cp2k::Settings{}), InputError);  // the UZH sets are PBE's
    // A data folder without the protocol's files: one line naming the file.
    cp2k::Settings elsewhere;
    elsewhere.data_dir = "/nonexistent/cp2k";
    try {
        cp2k::write_input(request(li2s(), "precise"), elsewhere);
        FAIL("no InputError");
    } catch (const InputError& e) {
        CHECK(std::string(e.what()).find("/nonexistent/cp2k/BASIS_MOLOPT_UZH") != std::string::npos);
    }

    // Without smearing at Γ: orbital transformation, no SMEAR.
    auto req = request(li2(2.7));
    req.protocol.smearing = 0;
    const auto ot = cp2k::write_input(req, cp2k::Settings{});
    CHECK(ot.find("&OT") != std::string::npos);
    CHECK(ot.find("&SMEAR") == std::string::npos);
    CHECK(ot.find("ADDED_MOS") == std::string::npos);
    // OT restarts its DIIS in an outer loop: the protocol's max_scf split into inner cycles of 30
    // (fast: 200 = 30 x 7 at most), both loops to the protocol's tolerance.
    CHECK(ot.find("      MAX_SCF 30\n") != std::string::npos);
    CHECK(ot.find("      &OUTER_SCF\n        MAX_SCF 7\n        EPS_SCF 1.0E-06\n      &END OUTER_SCF\n") != std::string::npos);
    // Diagonalisation (smearing, k-points) keeps one loop of max_scf steps.
    const auto smeared = cp2k::write_input(request(li2(2.7)), cp2k::Settings{});
    CHECK(smeared.find("OUTER_SCF") == std::string::npos);
    CHECK(smeared.find("      MAX_SCF 200\n") != std::string::npos);

    // Overrides from the calculator block.
    const auto settings = cp2k::Settings::from_json(
        {{"cutoff", 300}, {"rel_cutoff", 45}, {"basis_set", {{"Li", "DZVP-MOLOPT-SR-GTH"}}}}, "wf.yaml");
    const auto over = cp2k::write_input(request(li2s(), "fast"), settings);
    CHECK(has_line(over, "CUTOFF 300"));
    CHECK(has_line(over, "REL_CUTOFF 45"));
    CHECK(has_line(over, "BASIS_SET DZVP-MOLOPT-SR-GTH"));  // Li
    const auto over_plumbing = cp2k::write_input(request(li2s(), "plumbing"), settings);
    CHECK(has_line(over_plumbing, "BASIS_SET DZVP-MOLOPT-SR-GTH"));  // Li, overridden
    CHECK(has_line(over_plumbing, "BASIS_SET SZV-MOLOPT-SR-GTH"));   // S keeps the protocol's

    // A functional CP2K's GTH/MOLOPT set does not cover.
    req.protocol.functional = "HSE06";
    CHECK_THROWS_AS(cp2k::write_input(req, cp2k::Settings{}), InputError);
}

TEST_CASE("cp2k input: relaxation criteria and FIXED_ATOMS") {
    auto s = li2s();
    s[0].fixed = true;
    s[2].fixed = true;
    auto req = request(s, "standard", CalculationKind::Relaxation);
    req.protocol.fmax = 0.05;
    req.protocol.max_relax_steps = 77;
    const auto text = cp2k::write_input(req, cp2k::Settings{});
    CHECK(has_line(text, "RUN_TYPE GEO_OPT"));
    CHECK(has_line(text, "OPTIMIZER BFGS"));
    CHECK(has_line(text, "MAX_ITER 77"));
    CHECK(has_line(text, "LIST 1 3"));
    const double expected = 0.05 / std::sqrt(3.0) / units::kHartreePerBohrToEVPerAngstrom;  // per component
    REQUIRE(keyword_value(text, "MAX_FORCE"));
    CHECK(*keyword_value(text, "MAX_FORCE") == doctest::Approx(expected).epsilon(1e-6));
    CHECK(*keyword_value(text, "RMS_FORCE") == doctest::Approx(expected).epsilon(1e-6));
    CHECK(*keyword_value(text, "MAX_DR") >= 100.0);
    CHECK(*keyword_value(text, "RMS_DR") >= 100.0);
    CHECK(text.find("FORMAT XYZ") != std::string::npos);

    // Long lists wrap; large cells switch to L-BFGS.
    auto big = box(30, 30, 30);
    for (int i = 0; i < 120; ++i) big.add_atom("Li", {0.008 * i, 0.5, 0.5}).fixed = i < 45;
    const auto t2 = cp2k::write_input(request(big, "fast", CalculationKind::Relaxation), cp2k::Settings{});
    CHECK(has_line(t2, "OPTIMIZER LBFGS"));
    CHECK(has_line(t2, "LIST 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20"));
    CHECK(has_line(t2, "LIST 41 42 43 44 45"));

    // No fixed atoms: no CONSTRAINT section; every atom fixed: nothing to relax.
    const auto free = cp2k::write_input(request(li2s(), "fast", CalculationKind::Relaxation), cp2k::Settings{});
    CHECK(free.find("CONSTRAINT") == std::string::npos);
    auto all = li2(2.7);
    all[0].fixed = all[1].fixed = true;
    CHECK_THROWS_AS(cp2k::write_input(request(all, "fast", CalculationKind::Relaxation), cp2k::Settings{}), InputError);
    // Fixed atoms do nothing in a single point.
    CHECK(cp2k::write_input(request(s), cp2k::Settings{}).find("FIXED_ATOMS") == std::string::npos);
}

TEST_CASE("cp2k input: spin") {
    auto atom = box(8, 8, 8);
    atom.set_pbc({false, false, false});
    atom.add_atom_cartesian("Li", {4, 4, 4});

    // Automatic spin, odd electron count. A metal (or an unknown character): closed shell with
    // fractional occupations (Li on Al: the electron is delocalised).
    auto metal = request(atom, "standard");
    metal.electronic = Electronic::Metal;
    const auto li = cp2k::write_input(metal, cp2k::Settings{});
    CHECK(li.find("UKS") == std::string::npos);
    CHECK(has_line(li, "&SMEAR ON"));
    // DZVP Li has 6 functions (3 s, 1 p) for 2 occupied orbitals: at most 4 added orbitals.
    CHECK(has_line(li, "ADDED_MOS 4"));
    CHECK(without_comments(cp2k::write_input(request(atom, "standard"), cp2k::Settings{})) == without_comments(li));
    // An insulator, a molecule or an atom: the doublet (Li on Li2S, the free Li atom); at Γ
    // with integer occupations (orbital transformation, no smearing).
    auto insulator = request(atom, "standard");
    insulator.electronic = Electronic::Insulator;
    const auto doublet = cp2k::write_input(insulator, cp2k::Settings{});
    CHECK(has_line(doublet, "UKS .TRUE."));
    CHECK(has_line(doublet, "MULTIPLICITY 2"));
    CHECK(doublet.find("&SMEAR") == std::string::npos);
    CHECK(doublet.find("&OT") != std::string::npos);
    const auto plan = cp2k::plan_input(insulator, cp2k::Settings{});
    CHECK(plan.physics.at("spin") == "unrestricted");
    CHECK(plan.physics.at("moment") == "integer");
    CHECK(plan.physics.at("smearing") == "none");
    // With k-points an insulator is smeared like anything else (harmless across a gap).
    auto li2s_insulator = request(li2s(), "fast");
    li2s_insulator.electronic = Electronic::Insulator;
    CHECK(cp2k::write_input(li2s_insulator, cp2k::Settings{}).find("&SMEAR ON") != std::string::npos);

    // With SZV (1s, 2s) both alpha orbitals are occupied: nothing to smear over, and CP2K would
    // abort ("Extra MOs (ADDED_MOS) are required for smearing"), so occupations stay integer
    // and a metal's odd electron needs UKS after all.
    const auto minimal = cp2k::write_input(request(atom, "plumbing"), cp2k::Settings{});
    CHECK(has_line(minimal, "UKS .TRUE."));
    CHECK(minimal.find("&SMEAR") == std::string::npos);
    CHECK(minimal.find("ADDED_MOS") == std::string::npos);
    CHECK(minimal.find("no smearing") != std::string::npos);
    CHECK(minimal.find("&OT") != std::string::npos);

    // An explicit multiplicity is kept fixed at Γ.
    auto req = request(atom, "standard");
    req.spin_multiplicity = 2;
    const auto fixed = cp2k::write_input(req, cp2k::Settings{});
    CHECK(has_line(fixed, "MULTIPLICITY 2"));
    CHECK(has_line(fixed, "FIXED_MAGNETIC_MOMENT 1"));
    req.spin_multiplicity = 4;
    CHECK(has_line(cp2k::write_input(req, cp2k::Settings{}), "MULTIPLICITY 4"));
    req.spin_multiplicity = 3;  // 3 electrons cannot make a triplet
    CHECK_THROWS_AS(cp2k::write_input(req, cp2k::Settings{}), InputError);

    // With k-points CP2K aborts on FIXED_MAGNETIC_MOMENT: the moment is left free there.
    auto bulk = box(3.5, 3.5, 3.5);
    bulk.add_atom("Li", {0, 0, 0});
    auto kp = request(bulk, "fast");
    kp.spin_multiplicity = 2;
    const auto kp_text = cp2k::write_input(kp, cp2k::Settings{});
    CHECK(kp_text.find("&KPOINTS") != std::string::npos);
    CHECK(has_line(kp_text, "UKS .TRUE."));
    CHECK(kp_text.find("FIXED_MAGNETIC_MOMENT") == std::string::npos);
    CHECK(cp2k::plan_input(kp, cp2k::Settings{}).physics.at("moment") == "free");

    // spin: restricted refuses what it cannot do; unrestricted forces UKS on an even count.
    auto restricted = request(atom, "plumbing");
    restricted.spin = SpinTreatment::Restricted;
    CHECK_THROWS_AS(cp2k::write_input(restricted, cp2k::Settings{}), InputError);  // odd, no smearing possible
    restricted.protocol = Protocol::from_json("standard", "wf");
    CHECK(cp2k::write_input(restricted, cp2k::Settings{}).find("UKS") == std::string::npos);
    auto unrestricted = request(li2(2.7), "standard");
    unrestricted.spin = SpinTreatment::Unrestricted;
    const auto u = cp2k::write_input(unrestricted, cp2k::Settings{});
    CHECK(has_line(u, "UKS .TRUE."));
    CHECK(has_line(u, "MULTIPLICITY 1"));

    // Li2 (6 electrons) is closed shell; Li+ (2 electrons) too.
    CHECK(cp2k::write_input(request(li2(2.7)), cp2k::Settings{}).find("UKS") == std::string::npos);
    auto cation = request(atom);
    cation.charge = 1;
    const auto plus = cp2k::write_input(cation, cp2k::Settings{});
    CHECK(plus.find("UKS") == std::string::npos);
    CHECK(has_line(plus, "CHARGE 1"));
    cation.charge = 3;
    CHECK_THROWS_AS(cp2k::write_input(cation, cp2k::Settings{}), InputError);
}

TEST_CASE("cp2k input: slabs get a dipole correction along z; D3(BJ) on request") {
    // Li2 stands in for a slab: atoms at z = 3 and 5.7 Å in a 20 Å cell.
    auto s = box(8, 8, 20);
    s.add_atom_cartesian("Li", {4, 4, 3.0});
    s.add_atom_cartesian("Li", {4, 4, 5.7});
    auto req = request(s, "fast");
    CHECK(cp2k::write_input(req, cp2k::Settings{}).find("SURFACE_DIPOLE") == std::string::npos);
    req.slab = true;
    const auto text = cp2k::write_input(req, cp2k::Settings{});
    CHECK(has_line(text, "SURFACE_DIPOLE_CORRECTION .TRUE."));
    CHECK(has_line(text, "SURF_DIP_DIR Z"));
    // CP2K finds the vacuum itself (an explicit position at the cell boundary made it abort).
    CHECK(text.find("SURF_DIP_POS") == std::string::npos);
    // A slab whose normal is not z cannot have it.
    auto tilted = req;
    Eigen::Matrix3d l;
    l << 8, 0, 0, 0, 8, 0, 0, 2, 20;
    tilted.structure = structures::Structure(l);
    tilted.structure.add_atom("Li", {0.5, 0.5, 0.1});
    CHECK_THROWS_AS(cp2k::write_input(tilted, cp2k::Settings{}), InputError);

    req.protocol.dispersion = "d3bj";
    const auto d3 = cp2k::write_input(req, cp2k::Settings{});
    CHECK(has_line(d3, "TYPE DFTD3(BJ)"));
    CHECK(has_line(d3, "PARAMETER_FILE_NAME /usr/share/cp2k/dftd3.dat"));
    CHECK(has_line(d3, "REFERENCE_FUNCTIONAL PBE"));
    CHECK(cp2k::plan_input(req, cp2k::Settings{}).physics.at("dispersion") == "d3bj");
}

TEST_CASE("cp2k input: valence electrons from the basis file") {
    const auto basis = std::filesystem::path("/usr/share/cp2k/BASIS_MOLOPT");
    for (auto [el, q] : std::vector<std::pair<const char*, int>>{{"Li", 3}, {"Al", 3}, {"P", 5}, {"S", 6}, {"Cl", 7}}) {
        CAPTURE(el);
        CHECK(cp2k::valence_electrons(el, "SZV-MOLOPT-SR-GTH", basis) == q);
        CHECK(cp2k::valence_electrons(el, "DZVP-MOLOPT-SR-GTH", basis) == q);
    }
    // Without a readable file, the built-in GTH-PBE table answers.
    CHECK(cp2k::valence_electrons("S", "DZVP-MOLOPT-SR-GTH", "/nonexistent/BASIS") == 6);
    if (std::filesystem::exists(basis)) {
        CHECK(cp2k::valence_electrons("Mg", "DZVP-MOLOPT-SR-GTH", basis) == 10);
        CHECK_THROWS_AS(cp2k::valence_electrons("Li", "NO-SUCH-BASIS", basis), InputError);
    }
}

TEST_CASE("cp2k config: keys, types and did-you-mean") {
    try {
        cp2k::Settings::from_json({{"cutof", 300}}, "wf.yaml:12");
        FAIL("no InputError");
    } catch (const InputError& e) {
        CHECK(e.field() == "calculator.cutof");
        CHECK(e.source() == "wf.yaml:12");
        CHECK(std::string(e.what()).find("did you mean 'cutoff'") != std::string::npos);
    }
    CHECK_THROWS_AS(cp2k::Settings::from_json({{"cutoff", "high"}}, "wf"), InputError);
    CHECK_THROWS_AS(cp2k::Settings::from_json({{"cutoff", -5}}, "wf"), InputError);
    CHECK_THROWS_AS(cp2k::Settings::from_json({{"data_dir", "relative/dir"}}, "wf"), InputError);
    CHECK_THROWS_AS(cp2k::Settings::from_json({{"basis_set", {{"Xx", "SZV"}}}}, "wf"), InputError);
    CHECK_THROWS_AS(cp2k::Settings::from_json({{"basis_set", "SZV MOLOPT"}}, "wf"), InputError);
    CHECK_THROWS_AS(cp2k::Settings::from_json(nlohmann::json::array(), "wf"), InputError);
    try {
        cp2k::Settings::from_json({{"launcher", "mpiexec"}}, "wf");
        FAIL("no InputError");
    } catch (const InputError& e) {
        CHECK(e.field() == "calculator.launcher");
        CHECK(std::string(e.what()).find("mpirun") != std::string::npos);
    }
    const auto s = cp2k::Settings::from_json(
        {{"executable", "cp2k.ssmp"}, {"launcher", "none"}, {"data_dir", "/opt/cp2k/data"}, {"cutoff", 320}}, "wf");
    CHECK(s.executable == "cp2k.ssmp");
    CHECK(s.launcher == "none");
    CHECK(s.resolve("BASIS_MOLOPT") == "/opt/cp2k/data/BASIS_MOLOPT");
    // The data files default to the protocol's: MOLOPT-SR up to standard, the UZH sets for precise.
    Protocol fast = Protocol::from_json("fast", "wf"), precise = Protocol::from_json("precise", "wf");
    CHECK(cp2k::numerics(fast, s).basis_path == "/opt/cp2k/data/BASIS_MOLOPT");
    CHECK(cp2k::numerics(precise, s).basis_path == "/opt/cp2k/data/BASIS_MOLOPT_UZH");
    CHECK(cp2k::numerics(precise, s).potential_path == "/opt/cp2k/data/POTENTIAL_UZH");
    CHECK(s.cutoff == 320.0);
    CHECK(cp2k::Settings::from_json(nullptr, "wf").executable == "cp2k.psmp");

    // Through the registry, as the workflow loader calls it.
    auto calc = CalculatorRegistry::instance().create("cp2k", nlohmann::json::object(), "wf");
    CHECK(calc->name() == "cp2k");
    CHECK(calc->plugin_version() == "cp2k-plugin/4");
    CHECK_THROWS_AS(CalculatorRegistry::instance().create("cp2k", {{"launchr", "none"}}, "wf"), InputError);
    const auto& info = CalculatorRegistry::instance().info("cp2k", "wf");
    CHECK(std::find(info.capabilities.begin(), info.capabilities.end(), "kpoints") != info.capabilities.end());
}

TEST_CASE("cp2k plugin: hashed settings exclude how CP2K is started") {
    auto hash = [](const nlohmann::json& config) {
        return CalculatorRegistry::instance().create("cp2k", config, "wf")->hashed_settings();
    };
    const auto base = hash(nlohmann::json::object());
    CHECK(hash({{"executable", "/opt/cp2k/bin/cp2k.psmp"}, {"launcher", "none"}, {"data_dir", "/opt/cp2k/data"}}) ==
          base);
    CHECK(hash({{"cutoff", 300}}) != base);
    CHECK(hash({{"rel_cutoff", 30}}) != base);
    CHECK(hash({{"basis_set", "DZVP-MOLOPT-SR-GTH"}}) != base);
    CHECK(hash({{"basis_file", "BASIS_MOLOPT_UCL"}}) != base);
    CHECK(base.at("basis_file") == "");  // the protocol's (hashed with the protocol)
    CHECK(base.at("potential_file") == "");
}

TEST_CASE("cp2k plugin: launch specs") {
    cp2k::Settings direct;
    direct.launcher = "none";
    const auto d = cp2k::Cp2kCalculator(direct).launch("/tmp/task", 2);
    CHECK(d.argv == std::vector<std::string>{"cp2k.psmp", "-i", "cp2k.inp", "-o", "cp2k.out"});
    CHECK(d.environment.at("OMP_NUM_THREADS") == "2");
    CHECK(d.workdir == "/tmp/task");
    CHECK(d.cores == 2);
    CHECK_FALSE(d.stdout_file.empty());

    cp2k::Settings mpi;
    mpi.launcher = "mpirun";
    mpi.executable = "/opt/cp2k/bin/cp2k.psmp";
    const auto m = cp2k::Cp2kCalculator(mpi).launch("/tmp/task", 4);
    CHECK(m.argv == std::vector<std::string>{"mpirun", "-np", "4", "--bind-to", "none", "/opt/cp2k/bin/cp2k.psmp", "-i",
                                             "cp2k.inp", "-o", "cp2k.out"});
    CHECK(m.environment.at("OMP_NUM_THREADS") == "1");
    CHECK(m.environment.count("OMPI_ALLOW_RUN_AS_ROOT") == (::geteuid() == 0 ? 1u : 0u));
    // One core needs no MPI start-up.
    const auto one = cp2k::Cp2kCalculator(mpi).launch("/tmp/task", 1);
    CHECK(one.argv.front() == "/opt/cp2k/bin/cp2k.psmp");
    CHECK(one.environment.at("OMP_NUM_THREADS") == "1");
}

TEST_CASE("cp2k plugin: check_available") {
    cp2k::Settings missing;
    missing.executable = "cp2k.psmpX";
    try {
        cp2k::Cp2kCalculator(missing).check_available();
        FAIL("no ExecutionError");
    } catch (const ExecutionError& e) {
        CHECK(std::string(e.what()) == "CP2K executable 'cp2k.psmpX' not found on PATH (calculator.executable)");
    }
    cp2k::Settings no_data;
    no_data.executable = "sh";  // any program on PATH
    no_data.launcher = "none";
    no_data.data_dir = "/nonexistent/cp2k";
    try {
        cp2k::Cp2kCalculator(no_data).check_available();
        FAIL("no ExecutionError");
    } catch (const ExecutionError& e) {
        CHECK(std::string(e.what()).find("/nonexistent/cp2k/BASIS_MOLOPT") != std::string::npos);
    }
}

TEST_CASE("cp2k plugin: write_inputs writes cp2k.inp and clears a previous attempt") {
    const auto dir = testing::scratch("cp2k-write");
    { std::ofstream(dir / "cp2k.out") << "old run\n"; }
    { std::ofstream(dir / "cp2k-pos-1.xyz") << "old\n"; }
    { std::ofstream(dir / "notes.txt") << "keep me\n"; }
    cp2k::Cp2kCalculator calc{cp2k::Settings{}};
    const auto req = request(li2(2.7));
    calc.write_inputs(req, dir);
    CHECK(slurp(dir / "cp2k.inp") == cp2k::write_input(req, cp2k::Settings{}));
    CHECK_FALSE(std::filesystem::exists(dir / "cp2k.out"));
    CHECK_FALSE(std::filesystem::exists(dir / "cp2k-pos-1.xyz"));
    CHECK(std::filesystem::exists(dir / "notes.txt"));
}

TEST_CASE("cp2k restart: a wavefunction cut by the stop is not used; its backup is") {
    // CP2K renames cp2k-RESTART.wfn to .bak-1 before writing the new one, so a SIGTERM at that
    // moment leaves no file, an empty one or a truncated one (seen in CI: the continued run
    // started from the atomic guess). Real files of CP2K 2023.1: Li2 closed shell (1 spin,
    // 4 orbitals) and triplet (UKS: 4 + 2 orbitals).
    for (const char* name : {"cp2k_2023.1_li2_rks.wfn", "cp2k_2023.1_li2_uks.wfn"}) {
        CAPTURE(name);
        const std::string bytes = slurp(data(name));
        REQUIRE(cp2k::wavefunction_complete(data(name)));
        const auto dir = testing::scratch("cp2k-wfn-cut");
        int accepted = 0;
        for (std::size_t n = 0; n < bytes.size(); ++n) {  // every possible cut
            { std::ofstream(dir / "cut.wfn", std::ios::binary) << bytes.substr(0, n); }
            accepted += cp2k::wavefunction_complete(dir / "cut.wfn");
        }
        CHECK(accepted == 0);
        // One coefficient vector too many (a header that does not match the records).
        { std::ofstream(dir / "long.wfn", std::ios::binary) << bytes << bytes.substr(bytes.size() - 40); }
        CHECK_FALSE(cp2k::wavefunction_complete(dir / "long.wfn"));
    }
    CHECK_FALSE(cp2k::wavefunction_complete("/nonexistent/cp2k-RESTART.wfn"));

    cp2k::Cp2kCalculator calc{cp2k::Settings{}};
    const auto req = request(li2(2.7));
    const std::string full = slurp(data("cp2k_2023.1_li2_rks.wfn"));
    const auto stopped_folder = [&](const std::string& newest) {
        const auto dir = testing::scratch("cp2k-wfn-restart");
        calc.write_inputs(req, dir);
        { std::ofstream(dir / "cp2k.out") << " CP2K| version string: CP2K version 2023.1\n"; }
        { std::ofstream(dir / "cp2k-RESTART.wfn.bak-1", std::ios::binary) << full; }
        if (newest != "missing") std::ofstream(dir / "cp2k-RESTART.wfn", std::ios::binary) << newest;
        return dir;
    };
    for (const std::string newest : {std::string("missing"), std::string(), full.substr(0, 200)}) {
        CAPTURE(newest.size());
        const auto dir = stopped_folder(newest);
        REQUIRE(calc.prepare_restart(req, dir));
        CHECK(slurp(dir / "restart-part-1.wfn") == full);  // the backup, whole
        CHECK(slurp(dir / "cp2k.inp").find("WFN_RESTART_FILE_NAME restart-part-1.wfn") != std::string::npos);
        CHECK_FALSE(std::filesystem::exists(dir / "cp2k-RESTART.wfn"));
        CHECK_FALSE(std::filesystem::exists(dir / "cp2k-RESTART.wfn.bak-1"));  // CP2K must not mix them up
    }
    {   // a complete newest file wins over the backup
        std::string other = full;
        other[other.size() - 6] ^= 0x1;  // same layout, different coefficients
        const auto dir = stopped_folder(other);
        REQUIRE(calc.prepare_restart(req, dir));
        CHECK(slurp(dir / "restart-part-1.wfn") == other);
    }
    {   // nothing complete: the SCF starts from the atomic guess
        const auto dir = testing::scratch("cp2k-wfn-none");
        calc.write_inputs(req, dir);
        { std::ofstream(dir / "cp2k-RESTART.wfn", std::ios::binary) << full.substr(0, 100); }
        CHECK_FALSE(calc.prepare_restart(req, dir));
        CHECK(slurp(dir / "cp2k.inp").find("SCF_GUESS ATOMIC") != std::string::npos);
    }
}
