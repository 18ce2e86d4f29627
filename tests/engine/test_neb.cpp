// CI-NEB driver: saddle points of analytic surfaces (Müller–Brown, a symmetric double well, a
// periodic cosine crossed through the cell boundary), exact force-call accounting, fixed atoms,
// restarts, bad input; and, when the builtin EMT exists, the Au-adatom hop on Al(100) against
// ASE 3.22's NEB(method='improvedtangent', climb=True) run from the test.
#include <doctest/doctest.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/errors.hpp"
#include "engine/drivers/neb.hpp"
#include "test_paths.hpp"

#if __has_include("plugins/builtin/emt.hpp")
#include "plugins/builtin/emt.hpp"
#define INTERPHASE_HAVE_EMT 1
#endif

using namespace interphase;
using namespace interphase::engine::drivers;
using structures::Structure;

namespace {

// ---------------------------------------------------------------------------------------------
// Analytic surfaces as Potentials over atom 0's (x, y); z feels no force, so it never moves.
// Further atoms are spectators pulled by a constant force (for the fixed-atom test).

class Surface2D : public plugins::Potential {
public:
    nlohmann::json parameters() const override { return nlohmann::json::object(); }
    plugins::EnergyForces compute(const Structure& s) const override {
        const Eigen::Vector3d r = s.cartesian(0);
        const auto [e, gx, gy] = eval(r.x(), r.y());
        plugins::EnergyForces out;
        out.energy = e;
        out.forces.assign(s.size(), Eigen::Vector3d(0.3, -0.7, 1.1));  // spectators: a constant pull
        out.forces[0] = Eigen::Vector3d(-gx, -gy, 0);
        for (std::size_t a = 1; a < s.size(); ++a) out.energy -= out.forces[a].dot(s.cartesian(a));
        return out;
    }
    /// Energy and gradient at (x, y).
    virtual std::array<double, 3> eval(double x, double y) const = 0;
    /// Hessian by central differences of the analytic gradient (for the Newton reference).
    Eigen::Matrix2d hessian(double x, double y) const {
        const double h = 1e-6;
        Eigen::Matrix2d H;
        const auto px = eval(x + h, y), mx = eval(x - h, y), py = eval(x, y + h), my = eval(x, y - h);
        H << (px[1] - mx[1]) / (2 * h), (py[1] - my[1]) / (2 * h), (px[2] - mx[2]) / (2 * h), (py[2] - my[2]) / (2 * h);
        return 0.5 * (H + H.transpose());
    }
    /// Stationary point near (x, y) by Newton's method on the gradient: the reference saddle.
    Eigen::Vector2d stationary_point(double x, double y) const {
        Eigen::Vector2d p(x, y);
        for (int k = 0; k < 50; ++k) {
            const auto v = eval(p.x(), p.y());
            p -= hessian(p.x(), p.y()).ldlt().solve(Eigen::Vector2d(v[1], v[2]));
        }
        return p;
    }
};

// Müller & Brown, Theor. Chim. Acta 53, 75 (1979), in its own units.
class MullerBrown final : public Surface2D {
public:
    std::string name() const override { return "muller_brown"; }
    std::array<double, 3> eval(double x, double y) const override {
        static constexpr double A[] = {-200, -100, -170, 15}, a[] = {-1, -1, -6.5, 0.7}, b[] = {0, 0, 11, 0.6},
                                c[] = {-10, -10, -6.5, 0.7}, x0[] = {1, 0, -0.5, -1}, y0[] = {0, 0.5, 1.5, 1};
        double e = 0, gx = 0, gy = 0;
        for (int k = 0; k < 4; ++k) {
            const double dx = x - x0[k], dy = y - y0[k];
            const double t = A[k] * std::exp(a[k] * dx * dx + b[k] * dx * dy + c[k] * dy * dy);
            e += t;
            gx += t * (2 * a[k] * dx + b[k] * dy);
            gy += t * (b[k] * dx + 2 * c[k] * dy);
        }
        return {e, gx, gy};
    }
};

// A double well symmetric under x -> -x whose minimum-energy path bends through (0, 0.3):
// V = (x² - 1)² + 5 (y - 0.3 (1 - x²))², minima (±1, 0) at 0, saddle (0, 0.3) at exactly 1 eV.
class BentDoubleWell final : public Surface2D {
public:
    std::string name() const override { return "bent_double_well"; }
    std::array<double, 3> eval(double x, double y) const override {
        const double u = x * x - 1, w = y - 0.3 * (1 - x * x);
        return {u * u + 5 * w * w, 4 * x * u + 10 * w * 0.6 * x, 10 * w};
    }
};

// Periodic along x in a cubic cell of edge L: V = cos(4πu) - 0.3 cos(2πu), u = x/L. Minima at
// cos(2πu) = 0.075 (u ≈ ±0.238); the hop between them through u = 0 (the cell boundary) has a
// barrier of 1.71125 eV, the one through u = 0.5 a barrier of 2.31125 eV.
class PeriodicCosine final : public plugins::Potential {
public:
    explicit PeriodicCosine(double L) : L_(L) {}
    std::string name() const override { return "periodic_cosine"; }
    nlohmann::json parameters() const override { return {{"L", L_}}; }
    plugins::EnergyForces compute(const Structure& s) const override {
        const double u = s[0].frac.x(), pi = M_PI;
        plugins::EnergyForces out;
        out.energy = std::cos(4 * pi * u) - 0.3 * std::cos(2 * pi * u);
        const double dVdu = -4 * pi * std::sin(4 * pi * u) + 0.6 * pi * std::sin(2 * pi * u);
        out.forces = {Eigen::Vector3d(-dVdu / L_, 0, 0)};
        return out;
    }
private:
    double L_;
};

// A provider over a potential that records every batch it is asked for.
struct CountingProvider {
    explicit CountingProvider(const plugins::Potential* p) : potential(p) {}
    const plugins::Potential* potential;
    std::vector<std::size_t> batches;
    std::vector<std::vector<Structure>> seen;
    bool keep = false;
    ForceProvider provider() {
        return [this](const std::vector<Structure>& batch) {
            batches.push_back(batch.size());
            if (keep) seen.push_back(batch);
            std::vector<plugins::EnergyForces> out;
            for (const auto& s : batch) out.push_back(potential->compute(s));
            return out;
        };
    }
    long total() const {
        long n = 0;
        for (auto b : batches) n += static_cast<long>(b);
        return n;
    }
};

Structure point(double x, double y, std::size_t spectators = 0) {
    Structure s(Eigen::Matrix3d::Identity() * 20.0, {false, false, false});
    s.add_atom_cartesian("H", Eigen::Vector3d(x, y, 5.0));
    for (std::size_t k = 0; k < spectators; ++k) {
        auto& a = s.add_atom_cartesian("He", Eigen::Vector3d(2.0 + k, 7.0, 9.0));
        a.fixed = true;
    }
    return s;
}

// Linear interpolation between the endpoints in Cartesian space along minimum-image displacements.
std::vector<Structure> linear_path(const Structure& a, const Structure& b, int intermediate) {
    std::vector<Structure> path{a};
    for (int k = 1; k <= intermediate; ++k) {
        Structure s = a;
        const double t = static_cast<double>(k) / (intermediate + 1);
        for (std::size_t i = 0; i < a.size(); ++i)
            s[i].frac = a.to_fractional(a.cartesian(i) + t * a.minimum_image(a[i].frac, b[i].frac));
        path.push_back(s);
    }
    path.push_back(b);
    return path;
}

std::vector<Structure> mb_path(const MullerBrown& mb, Eigen::Vector2d from, Eigen::Vector2d to, int intermediate) {
    const auto p = mb.stationary_point(from.x(), from.y()), q = mb.stationary_point(to.x(), to.y());
    return linear_path(point(p.x(), p.y()), point(q.x(), q.y()), intermediate);
}

// The three minima of the Müller–Brown surface (refined by Newton in the tests).
const Eigen::Vector2d kMinA(-0.558, 1.442), kMinB(0.623, 0.028), kMinC(-0.050, 0.467);

NebOptions mb_options(BandOptimizer o) {
    NebOptions opt;
    opt.optimizer = o;
    opt.spring = 10.0;      // MB energies are hundreds of units: stiffer springs than ASE's 0.1 eV/Å²
    opt.fmax = 1e-3;
    opt.max_step = 0.05;
    opt.max_iterations = 5000;
    return opt;
}

}  // namespace

TEST_CASE("Müller–Brown: CI-NEB climbs to both saddle points (FIRE, L-BFGS)") {
    const MullerBrown mb;
    // Reference saddles by Newton's method on the analytic gradient; literature values as a check.
    const auto s1 = mb.stationary_point(-0.822, 0.624), s2 = mb.stationary_point(0.212, 0.293);
    CHECK(mb.eval(s1.x(), s1.y())[0] == doctest::Approx(-40.665).epsilon(2e-5));
    CHECK(mb.eval(s2.x(), s2.y())[0] == doctest::Approx(-72.249).epsilon(2e-5));
    CHECK(mb.hessian(s1.x(), s1.y()).determinant() < 0);  // first-order saddles
    CHECK(mb.hessian(s2.x(), s2.y()).determinant() < 0);

    struct Hop { Eigen::Vector2d from, to, saddle; int intermediate; };
    const Hop hops[] = {{kMinA, kMinC, s1, 7}, {kMinC, kMinB, s2, 7}, {kMinA, kMinB, s1, 11}};
    // Not BFGS: ASE's dense BFGS (fixed initial Hessian, |eigenvalue| steps) lets the climbing
    // image run away uphill on this steep surface; it is checked against ASE on EMT below.
    for (auto o : {BandOptimizer::Fire, BandOptimizer::Lbfgs})
        for (const auto& hop : hops) {
            const std::string optimizer = to_string(o);
            CAPTURE(optimizer);
            CAPTURE(hop.intermediate);
            CountingProvider count{&mb};
            const auto r = run_neb(mb_path(mb, hop.from, hop.to, hop.intermediate), mb_options(o), count.provider());
            REQUIRE(r.converged);
            CHECK(r.climbing);
            const Eigen::Vector3d x = r.saddle().cartesian(0);
            const double e_saddle = mb.eval(hop.saddle.x(), hop.saddle.y())[0];
            CHECK(x.x() == doctest::Approx(hop.saddle.x()).epsilon(1e-5));
            CHECK(x.y() == doctest::Approx(hop.saddle.y()).epsilon(1e-5));
            CHECK(x.z() == 5.0);  // no force along z: never moved
            CHECK(r.energies[r.saddle_index] == doctest::Approx(e_saddle).epsilon(1e-8));
            CHECK(r.forward_barrier == doctest::Approx(e_saddle - r.energies.front()).epsilon(1e-8));
            CHECK(r.reverse_barrier == doctest::Approx(e_saddle - r.energies.back()).epsilon(1e-8));
            CHECK(r.fmax < 1e-3);
        }
}

TEST_CASE("without a climbing image the band's top image stays below the saddle") {
    const MullerBrown mb;
    const auto s1 = mb.stationary_point(-0.822, 0.624);
    auto opt = mb_options(BandOptimizer::Fire);
    opt.climb = false;
    CountingProvider count{&mb};
    const auto r = run_neb(mb_path(mb, kMinA, kMinC, 5), opt, count.provider());
    REQUIRE(r.converged);
    CHECK_FALSE(r.climbing);
    // Plain NEB images sit on the path but not at its top: the barrier is underestimated.
    CHECK(r.energies[r.saddle_index] < mb.eval(s1.x(), s1.y())[0] - 0.5);
}

TEST_CASE("a symmetric path has equal forward and reverse barriers, exactly the analytic one") {
    const BentDoubleWell well;
    for (auto o : {BandOptimizer::Fire, BandOptimizer::Bfgs, BandOptimizer::Lbfgs}) {
        const std::string optimizer = to_string(o);
        CAPTURE(optimizer);
        NebOptions opt;
        opt.optimizer = o;
        opt.fmax = 1e-4;
        opt.spring = 1.0;
        CountingProvider count{&well};
        const auto r = run_neb(linear_path(point(-1, 0), point(1, 0), 5), opt, count.provider());
        REQUIRE(r.converged);
        CHECK(r.forward_barrier == doctest::Approx(1.0).epsilon(1e-7));
        CHECK(r.reverse_barrier == doctest::Approx(r.forward_barrier).epsilon(1e-9));
        CHECK(r.saddle_index == 3);
        CHECK(r.saddle().cartesian(0).x() == doctest::Approx(0.0).scale(1).epsilon(1e-6));
        CHECK(r.saddle().cartesian(0).y() == doctest::Approx(0.3).epsilon(1e-5));
        // The band left the straight line y = 0 for the curved valley, and mirrors itself in x = 0.
        for (std::size_t i = 1; i + 1 < r.images.size(); ++i) {
            const Eigen::Vector3d p = r.images[i].cartesian(0), q = r.images[r.images.size() - 1 - i].cartesian(0);
            CHECK(p.y() > 0.1);
            CHECK(p.x() == doctest::Approx(-q.x()).epsilon(1e-4));
            CHECK(p.y() == doctest::Approx(q.y()).epsilon(1e-4));
        }
        // Profile: reaction coordinate increases, symmetric about the middle image.
        for (std::size_t i = 1; i < r.reaction_coordinate.size(); ++i)
            CHECK(r.reaction_coordinate[i] > r.reaction_coordinate[i - 1]);
        for (std::size_t i = 0; i < r.energies.size(); ++i)
            CHECK(r.energies[i] == doctest::Approx(r.energies[r.energies.size() - 1 - i]).epsilon(1e-4));
    }
}

TEST_CASE("force calls are counted exactly: one batch per iteration, endpoints only in the first") {
    const BentDoubleWell well;
    for (auto o : {BandOptimizer::Fire, BandOptimizer::Bfgs, BandOptimizer::Lbfgs}) {
        const std::string optimizer = to_string(o);
        CAPTURE(optimizer);
        CountingProvider count{&well};
        const auto path = linear_path(point(-1, 0), point(1, 0), 5);
        NebOptions opt;
        opt.optimizer = o;
        const auto r = run_neb(path, opt, count.provider());
        REQUIRE(r.converged);
        REQUIRE(count.batches.size() == static_cast<std::size_t>(r.iterations) + 1);
        CHECK(count.batches.front() == path.size());  // endpoints + moving images together
        for (std::size_t b = 1; b < count.batches.size(); ++b) CHECK(count.batches[b] == path.size() - 2);
        CHECK(r.force_calls == count.total());
        CHECK(r.force_calls == 2 + (r.iterations + 1) * static_cast<long>(path.size() - 2));
    }
    // max_iterations = 0 evaluates the band once and stops, not converged.
    const MullerBrown mb;
    CountingProvider count{&mb};
    auto opt = mb_options(BandOptimizer::Fire);
    opt.max_iterations = 0;
    const auto r = run_neb(mb_path(mb, kMinC, kMinB, 3), opt, count.provider());
    CHECK_FALSE(r.converged);
    CHECK(r.iterations == 0);
    CHECK(r.force_calls == 5);
    CHECK(count.batches == std::vector<std::size_t>{5});
}

TEST_CASE("fixed atoms never move and do not hold up convergence") {
    const MullerBrown mb;
    const BentDoubleWell well;
    const auto s1 = mb.stationary_point(-0.822, 0.624);
    auto path = mb_path(mb, kMinA, kMinC, 5);
    auto well_path = linear_path(point(-1, 0), point(1, 0), 3);
    for (auto& s : well_path) s.add_atom_cartesian("He", Eigen::Vector3d(2, 7, 9)).fixed = true;
    for (auto& s : path) {
        // Two fixed spectators that feel a constant force of 1.4 eV/Å.
        s.add_atom_cartesian("He", Eigen::Vector3d(2, 7, 9)).fixed = true;
        s.add_atom_cartesian("He", Eigen::Vector3d(12, 3, 1)).fixed = true;
    }
    for (auto o : {BandOptimizer::Fire, BandOptimizer::Lbfgs}) {
        const std::string optimizer = to_string(o);
        CAPTURE(optimizer);
        CountingProvider count{&mb};
        count.keep = true;
        const auto r = run_neb(path, mb_options(o), count.provider());
        REQUIRE(r.converged);
        // Every structure ever handed to the provider has the spectators exactly where they started.
        for (const auto& batch : count.seen)
            for (const auto& s : batch) {
                CHECK(s.cartesian(1) == path[0].cartesian(1));
                CHECK(s.cartesian(2) == path[0].cartesian(2));
            }
        CHECK(r.saddle().cartesian(0).x() == doctest::Approx(s1.x()).epsilon(1e-5));
        CHECK(r.saddle().cartesian(0).y() == doctest::Approx(s1.y()).epsilon(1e-5));
        CHECK(r.saddle()[1].fixed);
    }
    // BFGS on the double well: the spectator stays put, the saddle is found.
    CountingProvider count{&well};
    NebOptions opt;
    opt.optimizer = BandOptimizer::Bfgs;
    const auto r = run_neb(well_path, opt, count.provider());
    REQUIRE(r.converged);
    for (const auto& s : r.images) CHECK(s.cartesian(1) == well_path[0].cartesian(1));
    CHECK(r.forward_barrier == doctest::Approx(1.0).epsilon(1e-3));
}

TEST_CASE("minimum image: a hop through the periodic boundary, images wrapped or not") {
    const double L = 3.0;
    const PeriodicCosine cosine(L);
    const double u0 = std::acos(0.075) / (2 * M_PI);  // minima at ±u0
    auto atom_at = [&](double u) {
        Structure s(Eigen::Matrix3d::Identity() * L);
        s.add_atom("Li", Eigen::Vector3d(u, 0.5, 0.5));
        return s;
    };
    // Endpoints stored wrapped: 1 - u0 and u0. The path goes the short way, across u = 1 ≡ 0.
    const auto path = linear_path(atom_at(1 - u0), atom_at(u0), 5);
    CHECK(path[3].cartesian(0).x() == doctest::Approx(L));  // middle image on the boundary
    auto wrapped = path;
    for (auto& s : wrapped) s.wrap();
    CHECK(wrapped[2][0].frac.x() > 0.9);
    CHECK(wrapped[4][0].frac.x() < 0.1);
    const double barrier = 0.7 - (2 * 0.075 * 0.075 - 1 - 0.3 * 0.075);
    for (const std::vector<Structure>* p : {&path, static_cast<const std::vector<Structure>*>(&wrapped)}) {
        NebOptions opt;
        opt.fmax = 1e-4;
        CountingProvider count{&cosine};
        const auto r = run_neb(*p, opt, count.provider());
        REQUIRE(r.converged);
        CHECK(r.forward_barrier == doctest::Approx(barrier).epsilon(1e-8));
        CHECK(r.reverse_barrier == doctest::Approx(barrier).epsilon(1e-8));
        double u = r.saddle()[0].frac.x();
        u -= std::round(u);
        CHECK(u == doctest::Approx(0.0).scale(1).epsilon(1e-6));
        // Path length: the short way, 2 u0 L, not the long way through the cell.
        CHECK(r.reaction_coordinate.back() == doctest::Approx(2 * u0 * L).epsilon(1e-3));
    }
}

TEST_CASE("climbing switched on below climb_after; restart from the last band") {
    const MullerBrown mb;
    const auto s2 = mb.stationary_point(0.212, 0.293);
    auto opt = mb_options(BandOptimizer::Lbfgs);
    opt.climb_after = 5.0;
    std::vector<NebResult> snapshots;
    CountingProvider count{&mb};
    const auto full = run_neb(mb_path(mb, kMinC, kMinB, 5), opt, count.provider(),
                              [&](const NebResult& s) { snapshots.push_back(s); });
    REQUIRE(full.converged);
    REQUIRE(snapshots.size() == static_cast<std::size_t>(full.iterations) + 1);
    CHECK_FALSE(snapshots.front().climbing);
    CHECK(snapshots.front().fmax > 5.0);
    // Climbing switches on at the first evaluation whose plain-NEB fmax is below 5, and stays on.
    std::size_t first = 0;
    while (first < snapshots.size() && !snapshots[first].climbing) ++first;
    REQUIRE(first < snapshots.size());
    for (std::size_t k = first; k < snapshots.size(); ++k) CHECK(snapshots[k].climbing);
    CHECK(full.saddle().cartesian(0).x() == doctest::Approx(s2.x()).epsilon(1e-5));

    // Interrupted after 10 iterations; the stored band (JSON round trip) resumes to the same saddle.
    opt.max_iterations = 10;
    CountingProvider first_part{&mb};
    const auto partial = run_neb(mb_path(mb, kMinC, kMinB, 5), opt, first_part.provider());
    REQUIRE_FALSE(partial.converged);
    CHECK(partial.iterations == 10);
    const auto stored = neb_result_from_json(nlohmann::json::parse(to_json(partial).dump()), "checkpoint.json");
    CHECK(stored.images.size() == partial.images.size());
    CHECK(stored.energies == partial.energies);
    opt.max_iterations = 5000;
    CountingProvider second_part{&mb};
    const auto resumed = resume_neb(stored, opt, second_part.provider());
    REQUIRE(resumed.converged);
    for (auto b : second_part.batches) CHECK(b == 5);  // endpoint energies reused
    CHECK(resumed.force_calls == partial.force_calls + second_part.total());
    CHECK(resumed.iterations == 10 + static_cast<int>(second_part.batches.size()) - 1);
    CHECK(resumed.saddle().cartesian(0).x() == doctest::Approx(s2.x()).epsilon(1e-5));
    CHECK(resumed.saddle().cartesian(0).y() == doctest::Approx(s2.y()).epsilon(1e-5));
    CHECK(resumed.forward_barrier == doctest::Approx(full.forward_barrier).epsilon(1e-8));
}

TEST_CASE("bad input: InputError naming the field, before any force call") {
    const MullerBrown mb;
    CountingProvider count{&mb};
    const auto good = mb_path(mb, kMinA, kMinC, 3);
    auto field_of = [&](const std::vector<Structure>& path, const NebOptions& opt = {}) -> std::string {
        try {
            run_neb(path, opt, count.provider());
        } catch (const InputError& e) {
            CHECK(std::string(e.what()).find(e.field()) != std::string::npos);
            return e.field();
        }
        return "no error";
    };
    CHECK(field_of({good[0], good[4]}) == "images");  // no intermediate image
    CHECK(field_of({good[0]}) == "images");

    auto more_atoms = good;
    more_atoms[4].add_atom_cartesian("H", Eigen::Vector3d(1, 1, 1));
    CHECK(field_of(more_atoms) == "images[4]");

    auto other_species = good;
    other_species[2][0].species = "Li";
    CHECK(field_of(other_species) == "images[2].atoms[0].species");

    auto other_cell = good;
    other_cell[1].set_lattice(Eigen::Matrix3d::Identity() * 21.0, true);
    CHECK(field_of(other_cell) == "images[1].lattice");

    auto fixed_moves = good;
    for (auto& s : fixed_moves) s.add_atom_cartesian("He", Eigen::Vector3d(1, 1, 1)).fixed = true;
    fixed_moves[4][1].frac += Eigen::Vector3d(0.01, 0, 0);
    CHECK(field_of(fixed_moves) == "images[4].atoms[1]");

    auto fixed_flag = fixed_moves;
    fixed_flag[4][1].frac = fixed_flag[0][1].frac;
    fixed_flag[2][1].fixed = false;
    CHECK(field_of(fixed_flag) == "images[2].atoms[1].fixed");

    NebOptions bad;
    bad.spring = 0;
    CHECK(field_of(good, bad) == "spring");
    bad = {};
    bad.fmax = -0.05;
    CHECK(field_of(good, bad) == "fmax");
    bad = {};
    bad.lbfgs_memory = 0;
    CHECK(field_of(good, bad) == "lbfgs.memory");
    CHECK(count.batches.empty());

    // Options from a workflow: unknown keys and names get "did you mean".
    try {
        neb_options_from_json({{"sprnig", 0.1}}, "wf.yaml: neb");
        FAIL("no error");
    } catch (const InputError& e) {
        CHECK(e.field() == "sprnig");
        CHECK(std::string(e.what()).find("spring") != std::string::npos);
    }
    try {
        neb_options_from_json({{"optimizer", "bgfs"}}, "wf.yaml: neb");
        FAIL("no error");
    } catch (const InputError& e) {
        CHECK(e.field() == "optimizer");
        CHECK(std::string(e.what()).find("bfgs") != std::string::npos);
    }
    try {
        neb_options_from_json({{"fire", {{"dtt", 0.2}}}}, "wf.yaml: neb");
        FAIL("no error");
    } catch (const InputError& e) {
        CHECK(e.field() == "fire.dtt");
        CHECK(std::string(e.what()).find("'dt'") != std::string::npos);
    }
    CHECK_THROWS_AS(neb_options_from_json({{"climb_after", "soon"}}, "wf"), InputError);
    CHECK_THROWS_AS(neb_options_from_json({{"max_iterations", 1.5}}, "wf"), InputError);
    const auto o = neb_options_from_json(
        {{"spring", 0.2}, {"climb_after", "start"}, {"optimizer", "FIRE"}, {"fire", {{"dtmax", 0.5}}}}, "wf");
    CHECK(o.spring == 0.2);
    CHECK(o.fire_dt_max == 0.5);
    CHECK(neb_options_from_json(to_json(o), "wf").fire_dt_max == 0.5);
    CHECK(std::isinf(o.climb_after));
    CHECK(o.optimizer == BandOptimizer::Fire);
    CHECK(neb_options_from_json(to_json(o), "wf").spring == 0.2);

    // A malformed checkpoint names the field.
    auto j = to_json(run_neb(good, mb_options(BandOptimizer::Fire), count.provider()));
    j["energies"].erase(0);
    try {
        neb_result_from_json(j, "checkpoint.json");
        FAIL("no error");
    } catch (const InputError& e) {
        CHECK(e.field() == "energies");
    }

    // A provider that loses an image is a calculation error, not a crash.
    ForceProvider lossy = [&](const std::vector<Structure>& batch) {
        auto out = count.provider()(batch);
        out.pop_back();
        return out;
    };
    CHECK_THROWS_AS(run_neb(good, {}, lossy), CalculationError);
}

#ifdef INTERPHASE_HAVE_EMT
namespace {
nlohmann::json run_python(const std::string& args) {
    const auto out = testing::scratch("neb-ase") / "ase.json";
    const std::string cmd = "/usr/bin/python3 " + (testing::source_dir() / "bench/neb/ase_neb.py").string() + " " +
                            args + " > " + out.string();
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::ifstream in(out);
    return nlohmann::json::parse(in);
}
}  // namespace

TEST_CASE("EMT Au adatom hop on Al(100): barrier within 5 meV of ASE's CI-NEB") {
    const auto ref = run_python("au_al100 --fmax 0.05");
    std::vector<Structure> path;
    for (const auto& j : ref.at("path")) path.push_back(structures::structure_from_json(j, "ase path"));
    REQUIRE(path.size() == 5);
    const plugins::builtin::Emt emt;
    for (const auto& [name, opt_name] : {std::pair{"fire", BandOptimizer::Fire}, std::pair{"bfgs", BandOptimizer::Bfgs},
                                         std::pair{"lbfgs", BandOptimizer::Lbfgs}}) {
        const std::string optimizer = name;
        CAPTURE(optimizer);
        NebOptions opt;
        opt.optimizer = opt_name;
        CountingProvider count{&emt};
        const auto r = run_neb(path, opt, count.provider());
        REQUIRE(r.converged);
        const auto& ase = ref.at("runs").at(opt_name == BandOptimizer::Fire ? "fire" : "bfgs");
        CHECK(ase.at("converged").get<bool>());
        const double ase_barrier = ase.at("forward_barrier").get<double>();
        CHECK(std::abs(r.forward_barrier - ase_barrier) < 5e-3);
        CHECK(std::abs(r.reverse_barrier - ase.at("reverse_barrier").get<double>()) < 5e-3);
        // The fixed bottom layers never moved.
        for (std::size_t a = 0; a < path[0].size(); ++a)
            if (path[0][a].fixed) CHECK((r.saddle().cartesian(a) - path[0].cartesian(a)).norm() == 0.0);
        // FIRE and BFGS are ASE's algorithms on ASE's NEB forces: the same number of calls.
        // L-BFGS must need fewer than ASE's BFGS.
        const long calls = r.force_calls - 2, ase_calls = ase.at("force_calls").get<long>();
        if (opt_name == BandOptimizer::Lbfgs) CHECK(calls < ase_calls);
        else CHECK(calls == ase_calls);
        MESSAGE(optimizer << ": barrier " << r.forward_barrier << " eV (ASE " << ase_barrier << "), moving-image force calls "
                     << r.force_calls - 2 << " (ASE " << ase.at("force_calls").get<long>() << ")");
    }
}
#endif
