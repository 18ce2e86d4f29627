#include "structures/structure.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <limits>
#include <numeric>

#include "common/errors.hpp"
#include "common/units.hpp"
#include "structures/elements.hpp"

namespace interphase::structures {

Structure::Structure(const Eigen::Matrix3d& lattice, std::array<bool, 3> pbc) : lattice_(lattice), pbc_(pbc) {}

void Structure::set_lattice(const Eigen::Matrix3d& lattice, bool keep_cartesian) {
    if (keep_cartesian) {
        std::vector<Eigen::Vector3d> cart;
        cart.reserve(atoms_.size());
        for (std::size_t i = 0; i < atoms_.size(); ++i) cart.push_back(cartesian(i));
        lattice_ = lattice;
        for (std::size_t i = 0; i < atoms_.size(); ++i) atoms_[i].frac = to_fractional(cart[i]);
    } else {
        lattice_ = lattice;
    }
}

Atom& Structure::add_atom(const std::string& species, const Eigen::Vector3d& frac) {
    Atom a;
    a.species = species;
    a.frac = frac;
    atoms_.push_back(std::move(a));
    return atoms_.back();
}

Atom& Structure::add_atom_cartesian(const std::string& species, const Eigen::Vector3d& cart) {
    return add_atom(species, to_fractional(cart));
}

Eigen::Vector3d Structure::cartesian(std::size_t i) const { return to_cartesian(atoms_.at(i).frac); }

Eigen::Vector3d Structure::to_fractional(const Eigen::Vector3d& cart) const {
    return lattice_.transpose().partialPivLu().solve(cart);
}

double Structure::volume() const { return std::abs(lattice_.determinant()); }

double Structure::density() const {
    double mass = 0;
    for (const auto& a : atoms_) mass += element(a.species).mass;
    // g/mol / (Å^3 * N_A) -> g/cm^3
    return mass / units::kAvogadro / (volume() * 1e-24);
}

std::map<std::string, int> Structure::composition() const {
    std::map<std::string, int> c;
    for (const auto& a : atoms_) ++c[a.species];
    return c;
}

std::string Structure::formula(bool reduced) const {
    auto comp = composition();
    int g = 0;
    for (const auto& [s, n] : comp) g = std::gcd(g, n);
    if (!reduced || g == 0) g = 1;
    // Hill order: C, H first when carbon is present, otherwise alphabetical.
    std::vector<std::string> order;
    if (comp.count("C")) {
        order.push_back("C");
        if (comp.count("H")) order.push_back("H");
    }
    for (const auto& [s, n] : comp)
        if (std::find(order.begin(), order.end(), s) == order.end()) order.push_back(s);
    std::string out;
    for (const auto& s : order) {
        const int n = comp[s] / g;
        out += s;
        if (n != 1) out += std::to_string(n);
    }
    return out;
}

std::array<double, 6> Structure::parameters() const {
    const Eigen::Vector3d a = lattice_.row(0), b = lattice_.row(1), c = lattice_.row(2);
    auto angle = [](const Eigen::Vector3d& u, const Eigen::Vector3d& v) {
        return std::acos(std::clamp(u.dot(v) / (u.norm() * v.norm()), -1.0, 1.0)) * 180.0 / M_PI;
    };
    return {a.norm(), b.norm(), c.norm(), angle(b, c), angle(a, c), angle(a, b)};
}

void Structure::wrap() {
    for (auto& a : atoms_)
        for (int k = 0; k < 3; ++k)
            if (pbc_[static_cast<std::size_t>(k)]) {
                a.frac[k] -= std::floor(a.frac[k]);
                if (a.frac[k] >= 1.0) a.frac[k] = 0.0;  // -1e-17 floors to 1 - eps rounding to 1
            }
}

Eigen::Vector3d Structure::minimum_image(const Eigen::Vector3d& frac_a, const Eigen::Vector3d& frac_b) const {
    Eigen::Vector3d d = frac_b - frac_a;
    for (int k = 0; k < 3; ++k)
        if (pbc_[static_cast<std::size_t>(k)]) d[k] -= std::round(d[k]);
    // Rounding in fractional space is exact only for orthogonal cells; search neighbours too.
    Eigen::Vector3d best = to_cartesian(d);
    double best_n = best.squaredNorm();
    for (int i = -1; i <= 1; ++i)
        for (int j = -1; j <= 1; ++j)
            for (int k = -1; k <= 1; ++k) {
                if ((i && !pbc_[0]) || (j && !pbc_[1]) || (k && !pbc_[2])) continue;
                const Eigen::Vector3d v = to_cartesian(d + Eigen::Vector3d(i, j, k));
                if (v.squaredNorm() < best_n) { best_n = v.squaredNorm(); best = v; }
            }
    return best;
}

double Structure::distance(std::size_t i, std::size_t j) const {
    return minimum_image(atoms_.at(i).frac, atoms_.at(j).frac).norm();
}

double Structure::min_interatomic_distance() const {
    double m = std::numeric_limits<double>::infinity();
    for (std::size_t i = 0; i < atoms_.size(); ++i)
        for (std::size_t j = i + 1; j < atoms_.size(); ++j) m = std::min(m, distance(i, j));
    return m;
}

void Structure::validate(const std::string& source, double min_distance) const {
    if (!lattice_.allFinite())
        throw StructureError(fmt::format("{}: lattice contains NaN or infinite values", source));
    const double v = volume();
    const double scale = lattice_.row(0).norm() * lattice_.row(1).norm() * lattice_.row(2).norm();
    if (!(v > 1e-6) || v < 1e-8 * scale)
        throw StructureError(fmt::format("{}: singular lattice (cell volume {:.3g} Å^3): cell vectors are "
                                         "zero or linearly dependent", source, v));
    for (std::size_t i = 0; i < atoms_.size(); ++i) {
        if (!atoms_[i].frac.allFinite())
            throw StructureError(fmt::format("{}: atom {} ({}) has non-finite coordinates", source, i + 1,
                                             atoms_[i].species));
        if (!is_element(atoms_[i].species))
            throw StructureError(fmt::format("{}: atom {} has unknown species '{}'", source, i + 1,
                                             atoms_[i].species));
    }
    if (min_distance > 0 && atoms_.size() < 2000) {
        for (std::size_t i = 0; i < atoms_.size(); ++i)
            for (std::size_t j = i + 1; j < atoms_.size(); ++j)
                if (const double d = distance(i, j); d < min_distance)
                    throw StructureError(fmt::format("{}: atoms {} ({}) and {} ({}) are {:.3f} Å apart (< {} Å)",
                                                     source, i + 1, atoms_[i].species, j + 1, atoms_[j].species,
                                                     d, min_distance));
    }
}

Eigen::Matrix3d lattice_from_parameters(double a, double b, double c, double alpha, double beta, double gamma) {
    const double deg = M_PI / 180.0;
    auto cosd = [&](double x) {
        // Exact zeros for right angles, as ASE does, so orthogonal cells stay orthogonal.
        return std::abs(x - 90.0) < 1e-10 ? 0.0 : std::cos(x * deg);
    };
    const double ca = cosd(alpha), cb = cosd(beta), cg = cosd(gamma);
    const double sg = std::abs(gamma - 90.0) < 1e-10 ? 1.0 : std::sin(gamma * deg);
    Eigen::Matrix3d m;
    m.row(0) << a, 0, 0;
    m.row(1) << b * cg, b * sg, 0;
    const double cx = cb;
    const double cy = (ca - cb * cg) / sg;
    const double cz2 = 1.0 - cx * cx - cy * cy;
    if (!(cz2 > 0)) throw StructureError(fmt::format(
        "lattice angles alpha={} beta={} gamma={} do not form a valid cell", alpha, beta, gamma));
    m.row(2) << c * cx, c * cy, c * std::sqrt(cz2);
    return m;
}

}  // namespace interphase::structures

namespace interphase::structures {

nlohmann::json to_json(const Structure& s) {
    nlohmann::json atoms = nlohmann::json::array();
    for (const auto& a : s.atoms()) {
        nlohmann::json ja{{"species", a.species}, {"frac", {a.frac[0], a.frac[1], a.frac[2]}}};
        if (a.fixed) ja["fixed"] = true;
        if (a.layer >= 0) ja["layer"] = a.layer;
        if (!a.label.empty()) ja["label"] = a.label;
        atoms.push_back(std::move(ja));
    }
    const auto& L = s.lattice();
    return {{"title", s.title},
            {"lattice", {{L(0, 0), L(0, 1), L(0, 2)}, {L(1, 0), L(1, 1), L(1, 2)}, {L(2, 0), L(2, 1), L(2, 2)}}},
            {"pbc", {s.pbc()[0], s.pbc()[1], s.pbc()[2]}},
            {"atoms", atoms},
            {"info", s.info}};
}

Structure structure_from_json(const nlohmann::json& j, const std::string& source) {
    try {
        Eigen::Matrix3d L;
        const auto& jl = j.at("lattice");
        if (!jl.is_array() || jl.size() != 3) throw InputError(source, "lattice", "must be 3 vectors");
        for (int r = 0; r < 3; ++r) {
            const auto& row = jl.at(static_cast<std::size_t>(r));
            if (!row.is_array() || row.size() != 3) throw InputError(source, "lattice", "each vector needs 3 numbers");
            for (int c = 0; c < 3; ++c) L(r, c) = row.at(static_cast<std::size_t>(c)).get<double>();
        }
        std::array<bool, 3> pbc{true, true, true};
        if (j.contains("pbc"))
            for (std::size_t k = 0; k < 3; ++k) pbc[k] = j.at("pbc").at(k).get<bool>();
        Structure s(L, pbc);
        s.title = j.value("title", std::string());
        if (j.contains("info")) s.info = j.at("info");
        std::size_t i = 0;
        for (const auto& ja : j.at("atoms")) {
            ++i;
            const auto& f = ja.at("frac");
            if (!f.is_array() || f.size() != 3)
                throw InputError(source, fmt::format("atoms[{}].frac", i), "needs 3 numbers");
            Atom& a = s.add_atom(ja.at("species").get<std::string>(),
                                 Eigen::Vector3d(f[0].get<double>(), f[1].get<double>(), f[2].get<double>()));
            a.fixed = ja.value("fixed", false);
            a.layer = ja.value("layer", -1);
            a.label = ja.value("label", std::string());
        }
        return s;
    } catch (const nlohmann::json::exception& e) {
        throw InputError(source, "", std::string("malformed structure JSON: ") + e.what());
    }
}

}  // namespace interphase::structures
