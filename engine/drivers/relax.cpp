#include "engine/drivers/relax.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <limits>
#include <sstream>
#include <type_traits>
#include <unistd.h>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "structures/io.hpp"

namespace interphase::engine::drivers {
namespace {

using structures::Structure;

// ---------------------------------------------------------------------------------------------
// Options

template <class T>
T get(const nlohmann::json& j, const std::string& key, T fallback, const std::string& source, const std::string& field) {
    if (!j.contains(key)) return fallback;
    const auto& v = j.at(key);
    if constexpr (std::is_same_v<T, int>) {
        if (!v.is_number_integer()) throw InputError(source, field, "must be an integer, got " + v.dump());
        const auto x = v.get<long long>();
        if (x < std::numeric_limits<int>::min() || x > std::numeric_limits<int>::max())
            throw InputError(source, field, "is out of range: " + v.dump());
        return static_cast<int>(x);
    } else {
        if (!v.is_number()) throw InputError(source, field, "must be a number, got " + v.dump());
        const double x = v.get<double>();
        if (!std::isfinite(x)) throw InputError(source, field, "must be finite");
        return x;
    }
}

void check_keys(const nlohmann::json& j, const std::vector<std::string>& known, const std::string& what,
                const std::string& source, const std::string& prefix) {
    if (!j.is_object()) throw InputError(source, prefix.empty() ? "relax" : prefix, "must be a mapping");
    for (const auto& [k, v] : j.items())
        if (std::find(known.begin(), known.end(), k) == known.end())
            throw InputError(source, prefix.empty() ? k : prefix + "." + k, text::unknown_name_message(what, k, known));
}

void require(bool ok, const std::string& source, const std::string& field, const std::string& message) {
    if (!ok) throw InputError(source, field, message);
}

void validate(const RelaxOptions& o, const std::string& source) {
    require(o.fmax > 0, source, "fmax", "must be > 0 (eV/Å)");
    require(o.max_steps >= 0, source, "max_steps", "must be >= 0");
    const auto& f = o.fire;
    require(f.dt > 0, source, "fire.dt", "must be > 0");
    require(f.maxstep > 0, source, "fire.maxstep", "must be > 0 (Å)");
    require(f.dtmax >= f.dt, source, "fire.dtmax", "must be >= fire.dt");
    require(f.nmin >= 0, source, "fire.nmin", "must be >= 0");
    require(f.finc >= 1, source, "fire.finc", "must be >= 1");
    require(f.fdec > 0 && f.fdec < 1, source, "fire.fdec", "must be in (0, 1)");
    require(f.astart >= 0 && f.astart <= 1, source, "fire.astart", "must be in [0, 1]");
    require(f.fa > 0 && f.fa <= 1, source, "fire.fa", "must be in (0, 1]");
    const auto& l = o.lbfgs;
    require(l.memory >= 0, source, "lbfgs.memory", "must be >= 0");
    require(l.damping > 0, source, "lbfgs.damping", "must be > 0");
    require(l.alpha > 0, source, "lbfgs.alpha", "must be > 0 (eV/Å²)");
    // ASE refuses steps above 1 Å: far beyond the harmonic region any potential describes.
    require(l.maxstep > 0 && l.maxstep <= 1.0, source, "lbfgs.maxstep", "must be in (0, 1] Å");
}

// ---------------------------------------------------------------------------------------------
// Geometry helpers (flat 3N vectors in Cartesian Å, as ASE's optimizers see them)

Eigen::VectorXd flat_positions(const Structure& s) {
    Eigen::VectorXd r(3 * static_cast<Eigen::Index>(s.size()));
    for (std::size_t i = 0; i < s.size(); ++i) r.segment<3>(3 * static_cast<Eigen::Index>(i)) = s.cartesian(i);
    return r;
}

/// Forces as the optimizer sees them: zero on fixed atoms (ASE's FixAtoms).
Eigen::VectorXd masked_forces(const Structure& s, const std::vector<Eigen::Vector3d>& f) {
    Eigen::VectorXd out = Eigen::VectorXd::Zero(3 * static_cast<Eigen::Index>(s.size()));
    for (std::size_t i = 0; i < s.size(); ++i)
        if (!s[i].fixed) out.segment<3>(3 * static_cast<Eigen::Index>(i)) = f[i];
    return out;
}

/// Largest squared force on a free atom (ASE compares squares with fmax²).
double max_free_force2(const Structure& s, const std::vector<Eigen::Vector3d>& f) {
    double m = 0;
    for (std::size_t i = 0; i < s.size(); ++i)
        if (!s[i].fixed) m = std::max(m, f[i].squaredNorm());
    return m;
}

/// `s` with its free atoms displaced by `dr`; fixed atoms keep their coordinates bit for bit.
Structure displaced(const Structure& s, const Eigen::VectorXd& dr) {
    Structure out = s;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i].fixed) continue;
        out[i].frac = s.to_fractional(s.cartesian(i) + dr.segment<3>(3 * static_cast<Eigen::Index>(i)));
    }
    return out;
}

RelaxFrame evaluate(const ForceProvider& provider, const Structure& s, int step) {
    auto results = provider({s});
    if (results.size() != 1)
        throw CalculationError(CalculationError::Reason::Crashed,
                               fmt::format("relaxation step {}: the force provider returned {} results for 1 structure",
                                           step, results.size()));
    auto& r = results[0];
    if (r.forces.size() != s.size())
        throw CalculationError(CalculationError::Reason::Crashed,
                               fmt::format("relaxation step {}: {} forces for {} atoms", step, r.forces.size(), s.size()));
    if (!std::isfinite(r.energy))
        throw CalculationError(CalculationError::Reason::Crashed,
                               fmt::format("relaxation step {}: the energy is not finite", step));
    for (std::size_t i = 0; i < s.size(); ++i)
        if (!r.forces[i].allFinite())
            throw CalculationError(CalculationError::Reason::Crashed,
                                   fmt::format("relaxation step {}: the force on atom {} ({}) is not finite", step,
                                               i + 1, s[i].species));
    RelaxFrame f;
    f.step = step;
    f.structure = s;
    f.energy = r.energy;
    f.forces = std::move(r.forces);
    f.fmax = std::sqrt(max_free_force2(s, f.forces));
    return f;
}

// ---------------------------------------------------------------------------------------------
// The optimizers: one step from state.last, updating the state; return the displacement.

Eigen::VectorXd fire_step(RelaxState& st, const FireParameters& p) {
    const Eigen::VectorXd f = masked_forces(st.last.structure, st.last.forces);
    const auto n = f.size();
    Eigen::VectorXd v(n);
    if (st.velocity.empty()) {
        v.setZero();
    } else {
        for (Eigen::Index i = 0; i < n / 3; ++i) v.segment<3>(3 * i) = st.velocity[static_cast<std::size_t>(i)];
        const double vf = f.dot(v);
        if (vf > 0.0) {
            // Downhill: turn the velocity towards the force, and speed up after nmin such steps.
            v = (1.0 - st.a) * v + st.a * f / std::sqrt(f.dot(f)) * std::sqrt(v.dot(v));
            if (st.downhill_steps > p.nmin) {
                st.dt = std::min(st.dt * p.finc, p.dtmax);
                st.a *= p.fa;
            }
            ++st.downhill_steps;
        } else {
            // Uphill: stop, and restart the dynamics with a shorter time step.
            v.setZero();
            st.a = p.astart;
            st.dt *= p.fdec;
            st.downhill_steps = 0;
        }
    }
    v += st.dt * f;
    Eigen::VectorXd dr = st.dt * v;
    const double norm = std::sqrt(dr.dot(dr));
    if (norm > p.maxstep) dr = p.maxstep * dr / norm;
    st.velocity.resize(static_cast<std::size_t>(n / 3));
    for (Eigen::Index i = 0; i < n / 3; ++i) st.velocity[static_cast<std::size_t>(i)] = v.segment<3>(3 * i);
    return dr;
}

Eigen::VectorXd lbfgs_step(RelaxState& st, const LbfgsParameters& p) {
    const Eigen::VectorXd r = flat_positions(st.last.structure);
    const Eigen::VectorXd f = masked_forces(st.last.structure, st.last.forces);
    if (st.iteration > 0) {
        Eigen::VectorXd s0 = r - st.r0;
        Eigen::VectorXd y0 = st.f0 - f;  // the gradient is minus the force
        const double ys = y0.dot(s0);
        // ASE divides unguarded; a zero curvature pair would poison the history with inf.
        st.rho.push_back(ys != 0.0 ? 1.0 / ys : 0.0);
        st.s.push_back(std::move(s0));
        st.y.push_back(std::move(y0));
    }
    if (st.iteration > p.memory) {
        st.s.erase(st.s.begin());
        st.y.erase(st.y.begin());
        st.rho.erase(st.rho.begin());
    }
    const int loopmax = std::min(p.memory, st.iteration);
    std::vector<double> a(static_cast<std::size_t>(loopmax));
    Eigen::VectorXd q = -f;
    for (int i = loopmax - 1; i >= 0; --i) {
        const auto k = static_cast<std::size_t>(i);
        a[k] = st.rho[k] * st.s[k].dot(q);
        q -= a[k] * st.y[k];
    }
    Eigen::VectorXd z = q / p.alpha;
    for (int i = 0; i < loopmax; ++i) {
        const auto k = static_cast<std::size_t>(i);
        const double b = st.rho[k] * st.y[k].dot(z);
        z += st.s[k] * (a[k] - b);
    }
    Eigen::VectorXd dr = -z;
    // Scale the whole step so that the atom moving most moves at most maxstep.
    double longest = 0;
    for (Eigen::Index i = 0; i < dr.size() / 3; ++i) longest = std::max(longest, dr.segment<3>(3 * i).norm());
    if (longest >= p.maxstep) dr *= p.maxstep / longest;
    dr *= p.damping;
    ++st.iteration;
    st.r0 = r;
    st.f0 = f;
    return dr;
}

RelaxResult run(RelaxState st, const ForceProvider& provider, const RelaxOptions& options,
                std::vector<RelaxFrame> trajectory) {
    const double fmax2 = options.fmax * options.fmax;
    auto converged = [&] { return max_free_force2(st.last.structure, st.last.forces) < fmax2; };
    while (!converged() && st.last.step < options.max_steps) {
        const Eigen::VectorXd dr =
            st.optimizer == RelaxOptimizer::Fire ? fire_step(st, options.fire) : lbfgs_step(st, options.lbfgs);
        const Structure next = displaced(st.last.structure, dr);
        st.last = evaluate(provider, next, st.last.step + 1);
        ++st.force_calls;
        trajectory.push_back(st.last);
    }
    RelaxResult r;
    r.converged = converged();
    r.steps = st.last.step;
    r.force_calls = st.force_calls;
    r.structure = st.last.structure;
    r.energy = st.last.energy;
    r.fmax = st.last.fmax;
    r.forces = st.last.forces;
    r.trajectory = std::move(trajectory);
    r.state = std::move(st);
    return r;
}

// ---------------------------------------------------------------------------------------------
// JSON helpers for the state

nlohmann::json vectors_to_json(const std::vector<Eigen::Vector3d>& v) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& x : v) a.push_back({x[0], x[1], x[2]});
    return a;
}

nlohmann::json flat_to_json(const Eigen::VectorXd& v) {
    return nlohmann::json(std::vector<double>(v.data(), v.data() + v.size()));
}

std::vector<Eigen::Vector3d> vectors_from_json(const nlohmann::json& j, const std::string& source,
                                               const std::string& field) {
    if (!j.is_array()) throw InputError(source, field, "must be a list of 3-vectors");
    std::vector<Eigen::Vector3d> out;
    for (const auto& x : j) {
        if (!x.is_array() || x.size() != 3 || !x[0].is_number() || !x[1].is_number() || !x[2].is_number())
            throw InputError(source, field, "must be a list of 3-vectors, found " + x.dump());
        out.emplace_back(x[0].get<double>(), x[1].get<double>(), x[2].get<double>());
    }
    return out;
}

Eigen::VectorXd flat_from_json(const nlohmann::json& j, std::size_t expected, const std::string& source,
                               const std::string& field) {
    if (!j.is_array() || j.size() != expected)
        throw InputError(source, field, fmt::format("must be a list of {} numbers", expected));
    Eigen::VectorXd v(static_cast<Eigen::Index>(expected));
    for (std::size_t i = 0; i < expected; ++i) {
        if (!j[i].is_number()) throw InputError(source, field, "must contain numbers, found " + j[i].dump());
        v[static_cast<Eigen::Index>(i)] = j[i].get<double>();
    }
    return v;
}

RelaxOptimizer optimizer_from_name(const std::string& name, const std::string& source, const std::string& field) {
    const auto n = text::to_lower(name);
    if (n == "fire") return RelaxOptimizer::Fire;
    if (n == "lbfgs" || n == "l-bfgs") return RelaxOptimizer::Lbfgs;
    throw InputError(source, field, text::unknown_name_message("optimizer", name, {"fire", "lbfgs"}));
}

RelaxState initial_state(const RelaxOptions& o) {
    RelaxState st;
    st.optimizer = o.optimizer;
    st.dt = o.fire.dt;
    st.a = o.fire.astart;
    return st;
}

}  // namespace

const char* to_string(RelaxOptimizer o) { return o == RelaxOptimizer::Fire ? "fire" : "lbfgs"; }

RelaxOptions RelaxOptions::from_json(const nlohmann::json& j, const std::string& source) {
    RelaxOptions o;
    if (j.is_null()) return o;
    check_keys(j, {"optimizer", "fmax", "max_steps", "fire", "lbfgs"}, "relaxation setting", source, "");
    if (j.contains("optimizer")) {
        if (!j.at("optimizer").is_string()) throw InputError(source, "optimizer", "must be \"fire\" or \"lbfgs\"");
        o.optimizer = optimizer_from_name(j.at("optimizer").get<std::string>(), source, "optimizer");
    }
    o.fmax = get(j, "fmax", o.fmax, source, "fmax");
    o.max_steps = get(j, "max_steps", o.max_steps, source, "max_steps");
    if (j.contains("fire")) {
        const auto& f = j.at("fire");
        check_keys(f, {"dt", "maxstep", "dtmax", "nmin", "finc", "fdec", "astart", "fa"}, "FIRE parameter", source, "fire");
        auto& p = o.fire;
        p.dt = get(f, "dt", p.dt, source, "fire.dt");
        p.maxstep = get(f, "maxstep", p.maxstep, source, "fire.maxstep");
        p.dtmax = get(f, "dtmax", p.dtmax, source, "fire.dtmax");
        p.nmin = get(f, "nmin", p.nmin, source, "fire.nmin");
        p.finc = get(f, "finc", p.finc, source, "fire.finc");
        p.fdec = get(f, "fdec", p.fdec, source, "fire.fdec");
        p.astart = get(f, "astart", p.astart, source, "fire.astart");
        p.fa = get(f, "fa", p.fa, source, "fire.fa");
    }
    if (j.contains("lbfgs")) {
        const auto& l = j.at("lbfgs");
        check_keys(l, {"memory", "damping", "alpha", "maxstep"}, "L-BFGS parameter", source, "lbfgs");
        auto& p = o.lbfgs;
        p.memory = get(l, "memory", p.memory, source, "lbfgs.memory");
        p.damping = get(l, "damping", p.damping, source, "lbfgs.damping");
        p.alpha = get(l, "alpha", p.alpha, source, "lbfgs.alpha");
        p.maxstep = get(l, "maxstep", p.maxstep, source, "lbfgs.maxstep");
    }
    validate(o, source);
    return o;
}

nlohmann::json RelaxOptions::to_json() const {
    return {{"optimizer", drivers::to_string(optimizer)},
            {"fmax", fmax},
            {"max_steps", max_steps},
            {"fire",
             {{"dt", fire.dt}, {"maxstep", fire.maxstep}, {"dtmax", fire.dtmax}, {"nmin", fire.nmin},
              {"finc", fire.finc}, {"fdec", fire.fdec}, {"astart", fire.astart}, {"fa", fire.fa}}},
            {"lbfgs",
             {{"memory", lbfgs.memory}, {"damping", lbfgs.damping}, {"alpha", lbfgs.alpha}, {"maxstep", lbfgs.maxstep}}}};
}

nlohmann::json RelaxState::to_json() const {
    nlohmann::json j = {{"optimizer", drivers::to_string(optimizer)},
                        {"step", last.step},
                        {"structure", structures::to_json(last.structure)},
                        {"energy", last.energy},
                        {"fmax", last.fmax},
                        {"forces", vectors_to_json(last.forces)},
                        {"force_calls", force_calls}};
    if (optimizer == RelaxOptimizer::Fire) {
        j["fire"] = {{"velocity", vectors_to_json(velocity)}, {"dt", dt}, {"a", a}, {"downhill_steps", downhill_steps}};
    } else {
        nlohmann::json s_j = nlohmann::json::array(), y_j = nlohmann::json::array();
        for (const auto& v : s) s_j.push_back(flat_to_json(v));
        for (const auto& v : y) y_j.push_back(flat_to_json(v));
        j["lbfgs"] = {{"iteration", iteration}, {"s", s_j}, {"y", y_j}, {"rho", rho},
                      {"r0", flat_to_json(r0)}, {"f0", flat_to_json(f0)}};
    }
    return j;
}

RelaxState RelaxState::from_json(const nlohmann::json& j, const std::string& source) {
    if (!j.is_object()) throw InputError(source, "relax_state", "must be a mapping");
    for (const char* key : {"optimizer", "step", "structure", "energy", "forces", "force_calls"})
        if (!j.contains(key)) throw InputError(source, key, "is missing from the relaxation state");
    RelaxState st;
    if (!j.at("optimizer").is_string()) throw InputError(source, "optimizer", "must be a string");
    st.optimizer = optimizer_from_name(j.at("optimizer").get<std::string>(), source, "optimizer");
    st.last.step = get(j, "step", 0, source, "step");
    st.last.structure = structures::structure_from_json(j.at("structure"), source);
    st.last.energy = get(j, "energy", 0.0, source, "energy");
    st.last.forces = vectors_from_json(j.at("forces"), source, "forces");
    st.force_calls = get(j, "force_calls", 0, source, "force_calls");
    const std::size_t n = st.last.structure.size();
    if (st.last.forces.size() != n)
        throw InputError(source, "forces", fmt::format("has {} vectors for {} atoms", st.last.forces.size(), n));
    st.last.fmax = std::sqrt(max_free_force2(st.last.structure, st.last.forces));
    if (st.optimizer == RelaxOptimizer::Fire) {
        if (!j.contains("fire") || !j.at("fire").is_object()) throw InputError(source, "fire", "is missing");
        const auto& f = j.at("fire");
        if (!f.contains("velocity")) throw InputError(source, "fire.velocity", "is missing");
        st.velocity = vectors_from_json(f.at("velocity"), source, "fire.velocity");
        if (!st.velocity.empty() && st.velocity.size() != n)
            throw InputError(source, "fire.velocity", fmt::format("has {} vectors for {} atoms", st.velocity.size(), n));
        st.dt = get(f, "dt", 0.0, source, "fire.dt");
        st.a = get(f, "a", 0.0, source, "fire.a");
        st.downhill_steps = get(f, "downhill_steps", 0, source, "fire.downhill_steps");
        if (!(st.dt > 0)) throw InputError(source, "fire.dt", "must be > 0");
    } else {
        if (!j.contains("lbfgs") || !j.at("lbfgs").is_object()) throw InputError(source, "lbfgs", "is missing");
        const auto& l = j.at("lbfgs");
        for (const char* key : {"iteration", "s", "y", "rho", "r0", "f0"})
            if (!l.contains(key)) throw InputError(source, std::string("lbfgs.") + key, "is missing");
        st.iteration = get(l, "iteration", 0, source, "lbfgs.iteration");
        const auto& sj = l.at("s");
        const auto& yj = l.at("y");
        const auto& rj = l.at("rho");
        if (!sj.is_array() || !yj.is_array() || !rj.is_array() || sj.size() != yj.size() || sj.size() != rj.size())
            throw InputError(source, "lbfgs.s", "s, y and rho must be lists of the same length");
        for (std::size_t k = 0; k < sj.size(); ++k) {
            st.s.push_back(flat_from_json(sj[k], 3 * n, source, fmt::format("lbfgs.s[{}]", k)));
            st.y.push_back(flat_from_json(yj[k], 3 * n, source, fmt::format("lbfgs.y[{}]", k)));
            if (!rj[k].is_number()) throw InputError(source, fmt::format("lbfgs.rho[{}]", k), "must be a number");
            st.rho.push_back(rj[k].get<double>());
        }
        if (st.iteration > 0) {
            st.r0 = flat_from_json(l.at("r0"), 3 * n, source, "lbfgs.r0");
            st.f0 = flat_from_json(l.at("f0"), 3 * n, source, "lbfgs.f0");
        }
        if (st.s.size() > static_cast<std::size_t>(std::max(st.iteration, 0)))
            throw InputError(source, "lbfgs.s", "has more pairs than iterations");
    }
    return st;
}

plugins::CalculationResult RelaxResult::to_calculation_result(const std::string& code) const {
    plugins::CalculationResult r;
    r.energy = energy;
    r.forces = forces;
    r.structure = structure;
    r.scf_converged = true;
    r.geometry_converged = converged;
    r.ionic_steps = steps;
    r.code = code;
    return r;
}

RelaxResult relax(const Structure& start, const ForceProvider& forces, const RelaxOptions& options) {
    validate(options, "relaxation options");
    if (start.size() == 0) throw StructureError("relaxation: the structure has no atoms");
    RelaxState st = initial_state(options);
    st.last = evaluate(forces, start, 0);
    st.force_calls = 1;
    std::vector<RelaxFrame> trajectory{st.last};
    return run(std::move(st), forces, options, std::move(trajectory));
}

RelaxResult resume(const RelaxState& state, const ForceProvider& forces, const RelaxOptions& options) {
    validate(options, "relaxation options");
    if (state.optimizer != options.optimizer)
        throw InputError("relaxation options", "optimizer",
                         fmt::format("the state to resume is from {}, the options ask for {}: relax() afresh from "
                                     "the last frame to change the optimizer",
                                     to_string(state.optimizer), to_string(options.optimizer)));
    if (state.last.structure.size() == 0 || state.last.forces.size() != state.last.structure.size())
        throw StructureError("relaxation: the state to resume has no atoms or no forces for its last frame");
    return run(state, forces, options, {});
}

// ---------------------------------------------------------------------------------------------
// Trajectory files

void write_trajectory(const std::filesystem::path& path, const std::vector<RelaxFrame>& frames, bool append) {
    std::string text;
    if (append && std::filesystem::exists(path)) {
        std::ifstream in(path, std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        text = ss.str();
        if (!in && !in.eof()) throw StorageError("cannot read " + path.string());
    }
    for (const auto& f : frames) {
        Structure s = f.structure;
        s.info["energy"] = f.energy;
        s.info["fmax"] = f.fmax;
        s.info["step"] = f.step;
        text += structures::write_structure_string(s, "extxyz");
    }
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    const auto tmp = std::filesystem::path(path.string() + ".tmp." + std::to_string(::getpid()));
    {
        std::ofstream out(tmp, std::ios::binary);
        out << text;
        out.flush();
        if (!out) throw StorageError("cannot write " + tmp.string());
    }
    std::filesystem::rename(tmp, path);
}

std::vector<RelaxFrame> read_trajectory(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw ParseError(path.string(), 0, "cannot open the trajectory file");
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);

    std::vector<RelaxFrame> frames;
    std::size_t at = 0;  // index of the frame's first line
    while (at < lines.size()) {
        if (text::trim(lines[at]).empty()) {  // tolerate trailing blank lines
            ++at;
            continue;
        }
        const auto count = text::parse_int(text::trim(lines[at]));
        if (!count || *count < 0)
            throw ParseError(path.string(), at + 1, fmt::format("expected the number of atoms of a frame, found '{}'",
                                                                text::trim(lines[at])));
        const std::size_t end = std::min(lines.size(), at + 2 + static_cast<std::size_t>(*count));
        std::string chunk;
        for (std::size_t k = at; k < end; ++k) chunk += lines[k] + '\n';
        RelaxFrame f;
        const std::string source = path.string();
        try {
            f.structure = structures::read_structure_string(chunk, "extxyz", source);
        } catch (const ParseError& e) {
            // Line numbers of the frame -> of the file.
            std::string message = e.what();
            const std::string prefix = fmt::format("{}:{}: ", source, e.line());
            if (message.rfind(prefix, 0) == 0) message = message.substr(prefix.size());
            throw ParseError(source, e.line() + at, message);
        }
        auto& info = f.structure.info;
        auto take = [&](const char* key, auto& target) {
            if (!info.contains(key) || !info[key].is_number())
                throw ParseError(source, at + 2, fmt::format("frame {}: no numeric '{}' on the comment line",
                                                             frames.size() + 1, key));
            target = info[key].get<std::remove_reference_t<decltype(target)>>();
            info.erase(key);
        };
        take("energy", f.energy);
        take("fmax", f.fmax);
        take("step", f.step);
        frames.push_back(std::move(f));
        at = end;
    }
    return frames;
}

}  // namespace interphase::engine::drivers
