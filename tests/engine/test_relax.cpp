// Relaxation driver (FIRE, L-BFGS): on a rattled EMT Al(100) slab with a Au adatom and the
// bottom planes fixed, both optimizers converge to fmax 0.01 eV/Å, never move a fixed atom, and
// end at the energy ASE 3.22's own FIRE and LBFGS reach from the same start (Debian
// python3-ase, run from the test), with no more than 1.5x ASE's force calls. Resuming from a
// saved state continues bit for bit; a trajectory file restarts from its last frame and is
// read by ASE; an LJ dimer and trimer relax to the analytic 2^(1/6) σ; bad options and bad
// force providers are typed errors.
#include <doctest/doctest.h>

#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "common/errors.hpp"
#include "engine/drivers/forces.hpp"
#include "engine/drivers/relax.hpp"
#include "plugins/builtin/emt.hpp"
#include "plugins/builtin/lennard_jones.hpp"
#include "test_paths.hpp"

using namespace interphase;
using namespace interphase::engine::drivers;
using interphase::plugins::builtin::Emt;
using interphase::plugins::builtin::LennardJones;
using interphase::plugins::builtin::LennardJonesParameters;
using structures::Atom;
using structures::Structure;
namespace fs = std::filesystem;

namespace {

const char* kPython = "/usr/bin/python3";

/// Al(100), 2x2 in-plane cell, 4 planes (a = 4.0 Å, EMT's own lattice constant is 3.995 Å),
/// 12 Å of vacuum, pbc (T,T,F); the bottom two planes fixed; Au 1.9 Å above a hollow site;
/// free atoms rattled by 0.05 Å (fixed seed).
Structure rattled_al100_au() {
    const double a = 4.0, side = 2 * a / std::sqrt(2.0), dz = a / 2;
    Eigen::Matrix3d L = Eigen::Matrix3d::Zero();
    L(0, 0) = side;
    L(1, 1) = side;
    L(2, 2) = 3 * dz + 12.0;
    Structure s(L, {true, true, false});
    for (int z = 0; z < 4; ++z)
        for (int i = 0; i < 2; ++i)
            for (int j = 0; j < 2; ++j) {
                const double shift = (z % 2) ? 0.5 : 0.0;
                Atom& at = s.add_atom_cartesian("Al", Eigen::Vector3d((i + shift) * side / 2, (j + shift) * side / 2,
                                                                      2.0 + z * dz));
                at.layer = z;
                at.fixed = z < 2;
            }
    s.add_atom_cartesian("Au", Eigen::Vector3d(side / 4, side / 4, 2.0 + 3 * dz + 1.9)).label = "adsorbate";
    std::mt19937 rng(2024);
    std::normal_distribution<double> g(0.0, 0.05);
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i].fixed) continue;
        const Eigen::Vector3d d(g(rng), g(rng), g(rng));
        s[i].frac = s.to_fractional(s.cartesian(i) + d);
    }
    return s;
}

RelaxOptions options(RelaxOptimizer o, double fmax = 0.01, int max_steps = 2000) {
    RelaxOptions opt;
    opt.optimizer = o;
    opt.fmax = fmax;
    opt.max_steps = max_steps;
    return opt;
}

void write_text(const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary);
    out << text;
}

/// The fixed atoms of every frame sit exactly (bit for bit) where they started.
bool fixed_atoms_never_move(const Structure& start, const std::vector<RelaxFrame>& frames) {
    for (const auto& f : frames)
        for (std::size_t i = 0; i < start.size(); ++i)
            if (start[i].fixed && f.structure[i].frac != start[i].frac) return false;
    return true;
}

// ASE's FIRE and LBFGS with ASE's EMT on the same start; force calls counted in the calculator.
// Also reads our FIRE trajectory file with ase.io to check that ASE understands it.
const char* kAseScript = R"(
import json, numpy as np, ase.io
from ase import Atoms
from ase.calculators.calculator import all_changes
from ase.calculators.emt import EMT
from ase.constraints import FixAtoms
from ase.optimize import FIRE, LBFGS

class CountingEMT(EMT):
    def __init__(self, **kw):
        EMT.__init__(self, **kw)
        self.count = 0
    def calculate(self, atoms=None, properties=['energy'], system_changes=all_changes):
        self.count += 1
        EMT.calculate(self, atoms, properties, system_changes)

c = json.load(open('start.json'))
out = {}
for name, Opt in (('fire', FIRE), ('lbfgs', LBFGS)):
    atoms = Atoms(symbols=c['symbols'], positions=c['positions'], cell=c['cell'], pbc=c['pbc'])
    atoms.set_constraint(FixAtoms(indices=c['fixed']))
    atoms.calc = CountingEMT()
    opt = Opt(atoms, logfile=None)
    converged = opt.run(fmax=c['fmax'], steps=c['max_steps'])
    f = atoms.get_forces()
    out[name] = {'converged': bool(converged), 'steps': int(opt.nsteps), 'calls': atoms.calc.count,
                 'energy': float(atoms.get_potential_energy()),
                 'fmax': float(np.sqrt((f ** 2).sum(axis=1).max())),
                 'positions': atoms.get_positions().tolist()}
frames = ase.io.read('fire.xyz', ':')
out['trajectory'] = {'frames': len(frames), 'energies': [float(a.get_potential_energy()) for a in frames],
                     'pbc': [bool(x) for x in frames[-1].pbc], 'positions': frames[-1].get_positions().tolist()}
json.dump(out, open('ase.json', 'w'))
)";

}  // namespace

TEST_CASE("FIRE and L-BFGS relax a rattled EMT Al(100)+Au adatom as ASE does, fixed atoms fixed") {
    const Structure start = rattled_al100_au();
    const Emt emt;
    const auto provider = in_process(emt);
    const double e_start = emt.compute(start).energy;
    const auto dir = testing::scratch("relax-ase");

    std::map<std::string, RelaxResult> ours;
    for (const auto o : {RelaxOptimizer::Fire, RelaxOptimizer::Lbfgs}) {
        const std::string optimizer_name = to_string(o);
        CAPTURE(optimizer_name);
        const auto r = relax(start, provider, options(o));
        CHECK(r.converged);
        CHECK(r.fmax < 0.01);
        CHECK(r.energy < e_start - 0.1);
        CHECK(r.force_calls == r.steps + 1);
        REQUIRE(r.trajectory.size() == static_cast<std::size_t>(r.steps + 1));
        CHECK(r.trajectory.front().step == 0);
        CHECK(r.trajectory.back().step == r.steps);
        CHECK(r.trajectory.front().energy == e_start);
        CHECK(r.trajectory.back().energy == r.energy);
        CHECK(fixed_atoms_never_move(start, r.trajectory));
        // The reported energy and forces are those of the final structure.
        const auto check = emt.compute(r.structure);
        CHECK(check.energy == doctest::Approx(r.energy).epsilon(1e-14));
        // The Au adatom stays on the surface (bound, 1.5-2.5 Å above the top plane).
        double top = 0;
        for (std::size_t i = 0; i + 1 < r.structure.size(); ++i) top = std::max(top, r.structure.cartesian(i)[2]);
        const double h = r.structure.cartesian(start.size() - 1)[2] - top;
        CHECK(h > 1.0);
        CHECK(h < 2.5);
        ours[to_string(o)] = r;
    }
    // Both optimizers find the same minimum, to what fmax 0.01 eV/Å resolves on this flat surface.
    CHECK(std::abs(ours["fire"].energy - ours["lbfgs"].energy) < 1e-3);

    write_trajectory(dir / "fire.xyz", ours["fire"].trajectory);
    if (!interphase::testing::have_ase()) {
        MESSAGE("python3-ase is not installed: ASE comparison skipped");
        return;
    }
    nlohmann::json c;
    for (std::size_t i = 0; i < start.size(); ++i) {
        const auto x = start.cartesian(i);
        c["positions"].push_back({x[0], x[1], x[2]});
        c["symbols"].push_back(start[i].species);
        if (start[i].fixed) c["fixed"].push_back(i);
    }
    for (int r = 0; r < 3; ++r) c["cell"].push_back({start.lattice()(r, 0), start.lattice()(r, 1), start.lattice()(r, 2)});
    c["pbc"] = {true, true, false};
    c["fmax"] = 0.01;
    c["max_steps"] = 2000;
    write_text(dir / "start.json", c.dump());
    write_text(dir / "reference.py", kAseScript);
    const std::string cmd = "cd '" + dir.string() + "' && " + kPython + " reference.py > reference.log 2>&1";
    if (std::system(cmd.c_str()) != 0) FAIL("ASE failed: " << interphase::testing::slurp(dir / "reference.log"));
    const auto ase = nlohmann::json::parse(interphase::testing::slurp(dir / "ase.json"));

    for (const std::string name : {"fire", "lbfgs"}) {
        CAPTURE(name);
        const auto& a = ase[name];
        const auto& r = ours[name];
        double dx = 0;
        for (std::size_t i = 0; i < start.size(); ++i)
            for (int k = 0; k < 3; ++k)
                dx = std::max(dx, std::abs(r.structure.cartesian(i)[k] -
                                           a["positions"][i][static_cast<std::size_t>(k)].get<double>()));
        MESSAGE(name << ": Interphase " << r.steps << " steps, " << r.force_calls << " force calls, E = "
                     << fmt::format("{:.6f}", r.energy) << " eV, fmax " << r.fmax << " | ASE " << a["steps"] << " steps, "
                     << a["calls"] << " force calls, E = " << fmt::format("{:.6f}", a["energy"].get<double>())
                     << " eV | largest final position difference " << dx << " Å");
        CHECK(a["converged"].get<bool>());
        CHECK(std::abs(r.energy - a["energy"].get<double>()) < 1e-4);
        CHECK(r.force_calls <= 1.5 * a["calls"].get<double>());
    }
    // ASE reads our trajectory: every frame, its energy, the slab's pbc.
    const auto& t = ase["trajectory"];
    REQUIRE(t["frames"].get<std::size_t>() == ours["fire"].trajectory.size());
    for (std::size_t k = 0; k < ours["fire"].trajectory.size(); ++k)
        CHECK(t["energies"][k].get<double>() == ours["fire"].trajectory[k].energy);
    CHECK(t["pbc"] == nlohmann::json({true, true, false}));
}

TEST_CASE("a relaxation resumed from its saved state continues bit for bit") {
    const Structure start = rattled_al100_au();
    const Emt emt;
    const auto provider = in_process(emt);
    const auto dir = testing::scratch("relax-resume");
    for (const auto o : {RelaxOptimizer::Fire, RelaxOptimizer::Lbfgs}) {
        const std::string optimizer_name = to_string(o);
        CAPTURE(optimizer_name);
        const auto full = relax(start, provider, options(o));
        REQUIRE(full.converged);
        REQUIRE(full.steps > 12);

        // Interrupted after 12 steps (as by max_steps or a killed engine): not converged.
        const auto part = relax(start, provider, options(o, 0.01, 12));
        CHECK_FALSE(part.converged);
        CHECK(part.steps == 12);
        CHECK(part.force_calls == 13);
        const fs::path traj = dir / (std::string(to_string(o)) + ".xyz");
        write_trajectory(traj, part.trajectory);

        // The state survives JSON (the engine's store), and the run continues where it stopped.
        const auto saved = nlohmann::json::parse(part.state.to_json().dump());
        const auto state = RelaxState::from_json(saved, "state.json");
        const auto rest = resume(state, provider, options(o));
        CHECK(rest.converged);
        CHECK(rest.steps == full.steps);
        CHECK(rest.force_calls == full.force_calls);  // no extra evaluation of the last frame
        CHECK(rest.energy == full.energy);
        CHECK(rest.trajectory.size() == static_cast<std::size_t>(full.steps - 12));
        CHECK(rest.trajectory.front().step == 13);
        for (std::size_t i = 0; i < start.size(); ++i) CHECK(rest.structure[i].frac == full.structure[i].frac);

        // Appending the resumed frames gives the file of the uninterrupted run.
        write_trajectory(traj, rest.trajectory, /*append=*/true);
        const auto frames = read_trajectory(traj);
        REQUIRE(frames.size() == full.trajectory.size());
        for (std::size_t k = 0; k < frames.size(); ++k) {
            CHECK(frames[k].step == static_cast<int>(k));
            CHECK(frames[k].energy == full.trajectory[k].energy);
            CHECK(frames[k].fmax == full.trajectory[k].fmax);
        }
        // Tags and metadata come back; the trajectory keys do not leak into the structure.
        CHECK(frames.back().structure[0].fixed);
        CHECK(frames.back().structure[start.size() - 1].label == "adsorbate");
        CHECK(frames.back().structure.pbc() == std::array<bool, 3>{true, true, false});
        CHECK_FALSE(frames.back().structure.info.contains("energy"));

        // A trajectory file alone: a fresh optimizer from its last frame reaches the same minimum.
        const auto from_file = relax(read_trajectory(traj).at(12).structure, provider, options(o));
        CHECK(from_file.converged);
        CHECK(std::abs(from_file.energy - full.energy) < 1e-3);

        // A tighter fmax on resume goes on from the converged state.
        const auto tighter = resume(full.state, provider, options(o, 0.002));
        CHECK(tighter.converged);
        CHECK(tighter.steps > full.steps);
        CHECK(tighter.energy <= full.energy + 1e-9);
        CHECK(fixed_atoms_never_move(start, tighter.trajectory));
    }
    // Resuming with another optimizer is refused, naming both.
    const auto part = relax(start, provider, options(RelaxOptimizer::Fire, 0.01, 3));
    CHECK_THROWS_AS(resume(part.state, provider, options(RelaxOptimizer::Lbfgs)), InputError);
    // A damaged state is an InputError naming the field.
    auto broken = part.state.to_json();
    broken["fire"]["velocity"].erase(0);
    try {
        (void)RelaxState::from_json(broken, "state.json");
        FAIL("no exception");
    } catch (const InputError& e) {
        CHECK(std::string(e.what()).find("fire.velocity") != std::string::npos);
    }
}

TEST_CASE("an LJ dimer and trimer relax to the analytic bond length 2^(1/6) sigma") {
    LennardJonesParameters p;
    p.sigma = 2.0;
    p.epsilon = 0.1;
    const LennardJones lj(p);
    const double r_min = 2.0 * std::pow(2.0, 1.0 / 6.0);
    for (const auto o : {RelaxOptimizer::Fire, RelaxOptimizer::Lbfgs}) {
        const std::string optimizer_name = to_string(o);
        CAPTURE(optimizer_name);
        Structure dimer(Eigen::Matrix3d::Identity() * 15, {false, false, false});
        dimer.add_atom_cartesian("Ar", {5, 5, 5});
        // Inside the convex part of the well (r below the inflection point 1.244 σ): L-BFGS,
        // as ASE's, has no safeguard against negative curvature and would step uphill beyond it.
        dimer.add_atom_cartesian("Ar", {7.35, 5.2, 4.9});
        const auto d = relax(dimer, in_process(lj), options(o, 1e-5));
        CHECK(d.converged);
        CHECK(d.structure.distance(0, 1) == doctest::Approx(r_min).epsilon(1e-5));

        // Trimer with one atom fixed: an equilateral triangle of side r_min, energy -3ε (+ shifts).
        Structure t(Eigen::Matrix3d::Identity() * 15, {false, false, false});
        t.add_atom_cartesian("Ar", {5, 5, 5}).fixed = true;
        t.add_atom_cartesian("Ar", {7.3, 5.1, 5});
        t.add_atom_cartesian("Ar", {6.1, 6.95, 5.1});
        const auto r = relax(t, in_process(lj), options(o, 1e-5));
        CHECK(r.converged);
        CHECK(r.structure[0].frac == t[0].frac);
        for (auto [i, j] : {std::pair{0, 1}, {0, 2}, {1, 2}})
            CHECK(r.structure.distance(i, j) == doctest::Approx(r_min).epsilon(1e-5));
        const double shift = 4 * 0.1 * (std::pow(1.0 / 3, 12) - std::pow(1.0 / 3, 6));
        CHECK(r.energy == doctest::Approx(3 * (-0.1 - shift)).epsilon(1e-8));
    }
}

TEST_CASE("max_steps, all-fixed structures, bad options and bad force providers") {
    const Structure start = rattled_al100_au();
    const Emt emt;
    const auto r0 = relax(start, in_process(emt), options(RelaxOptimizer::Fire, 0.01, 0));
    CHECK_FALSE(r0.converged);
    CHECK(r0.steps == 0);
    CHECK(r0.force_calls == 1);

    Structure frozen = start;
    for (auto& a : frozen.atoms()) a.fixed = true;
    const auto rf = relax(frozen, in_process(emt), options(RelaxOptimizer::Lbfgs));
    CHECK(rf.converged);  // no free atom feels any force
    CHECK(rf.steps == 0);

    // Options from JSON: defaults as ASE's, typed errors naming the field.
    const auto o = RelaxOptions::from_json({{"optimizer", "lbfgs"}, {"fmax", 0.02}, {"lbfgs", {{"memory", 20}}}}, "wf.yaml");
    CHECK(o.optimizer == RelaxOptimizer::Lbfgs);
    CHECK(o.lbfgs.memory == 20);
    CHECK(o.lbfgs.alpha == 70.0);
    CHECK(o.fire.dt == 0.1);
    CHECK(RelaxOptions::from_json(o.to_json(), "x").to_json() == o.to_json());
    auto message = [](const nlohmann::json& j) {
        try {
            (void)RelaxOptions::from_json(j, "wf.yaml");
        } catch (const InputError& e) {
            return std::string(e.what());
        }
        return std::string("no InputError");
    };
    CHECK(message({{"optimiser", "fire"}}).find("did you mean 'optimizer'") != std::string::npos);
    CHECK(message({{"optimizer", "bfgs"}}).find("'lbfgs'") != std::string::npos);
    CHECK(message({{"fmax", -1}}).find("fmax") != std::string::npos);
    CHECK(message({{"fire", {{"dtmx", 1.0}}}}).find("fire.dtmx") != std::string::npos);
    CHECK(message({{"lbfgs", {{"maxstep", 2.0}}}}).find("lbfgs.maxstep") != std::string::npos);
    CHECK(message({{"max_steps", 1.5}}).find("integer") != std::string::npos);

    // A provider that misbehaves is a CalculationError, not a crash or a silent NaN.
    const ForceProvider wrong_count = [](const std::vector<Structure>&) { return std::vector<EnergyForces>{}; };
    CHECK_THROWS_AS(relax(start, wrong_count, {}), CalculationError);
    const ForceProvider nan_force = [&](const std::vector<Structure>& b) {
        auto r = in_process(emt)(b);
        r[0].forces[3][1] = std::nan("");
        return r;
    };
    CHECK_THROWS_WITH_AS(relax(start, nan_force, {}), doctest::Contains("atom 4"), CalculationError);
    CHECK_THROWS_AS(relax(Structure(), in_process(emt), {}), StructureError);
    // The potential's own errors come through unchanged.
    Structure li = start;
    li[5].species = "Li";
    CHECK_THROWS_WITH_AS(relax(li, in_process(emt), {}), doctest::Contains("'Li'"), StructureError);
}

TEST_CASE("in_process evaluates a batch in order, as the potential does") {
    const Emt emt;
    std::vector<Structure> batch{rattled_al100_au(), rattled_al100_au(), rattled_al100_au()};
    batch[1][16].frac[2] += 0.01;
    batch[2].atoms().pop_back();
    const auto out = in_process(emt)(batch);
    REQUIRE(out.size() == 3);
    for (std::size_t k = 0; k < 3; ++k) {
        const auto direct = emt.compute(batch[k]);
        CHECK(out[k].energy == direct.energy);
        CHECK(out[k].forces.size() == batch[k].size());
    }
    CHECK(out[0].energy != out[1].energy);
    // As a calculator result: converged flag, steps and the final structure.
    const auto r = relax(batch[0], in_process(emt), options(RelaxOptimizer::Lbfgs, 0.05));
    const auto c = r.to_calculation_result("emt");
    CHECK(c.geometry_converged);
    CHECK(c.ionic_steps == r.steps);
    CHECK(c.max_force() == doctest::Approx(r.fmax));
    CHECK(c.energy == r.energy);
}

TEST_CASE("a damaged trajectory file is a ParseError naming the file and the line") {
    const Emt emt;
    const auto r = relax(rattled_al100_au(), in_process(emt), options(RelaxOptimizer::Fire, 0.01, 2));
    const auto dir = testing::scratch("relax-bad-trajectory");
    write_trajectory(dir / "t.xyz", r.trajectory);
    CHECK(read_trajectory(dir / "t.xyz").size() == 3);
    // Frame 2 (17 atoms, so lines 20-38): its 5th atom line loses a coordinate.
    std::string text = interphase::testing::slurp(dir / "t.xyz");
    std::vector<std::string> lines;
    for (std::size_t a = 0, b; a < text.size(); a = b + 1) {
        b = text.find('\n', a);
        lines.push_back(text.substr(a, b - a));
    }
    REQUIRE(lines.size() == 57);
    lines[25] = "Al 1.0 2.0";
    std::string broken;
    for (const auto& l : lines) broken += l + '\n';
    write_text(dir / "t.xyz", broken);
    try {
        (void)read_trajectory(dir / "t.xyz");
        FAIL("no exception");
    } catch (const ParseError& e) {
        CHECK(e.line() == 26);
        CHECK(std::string(e.what()).find("t.xyz:26:") != std::string::npos);
    }
    // A frame without its energy is refused too.
    write_text(dir / "plain.xyz", "1\nLattice=\"5 0 0 0 5 0 0 0 5\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\nAl 0 0 0\n");
    CHECK_THROWS_WITH_AS(read_trajectory(dir / "plain.xyz"), doctest::Contains("energy"), ParseError);
    CHECK_THROWS_AS(read_trajectory(dir / "missing.xyz"), ParseError);
}
