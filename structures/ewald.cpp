#include "structures/ewald.hpp"

#include <cmath>
#include <fmt/format.h>

#include "common/errors.hpp"

namespace interphase::structures {
namespace {

struct Parts {
    Eigen::MatrixXd real, reciprocal;  // Φ parts; self and background are closed-form
    double eta = 0, rmax = 0, gmax = 0, volume = 0;
};

// pymatgen's defaults (EwaldSummation.__init__): η = π (N w / V²)^(1/3) with w = 1/√2, and
// both sums cut at accf = √(ln 10^digits): erfc(accf) and exp(−accf²) are ~10^-digits.
Parts ewald_parts(const Eigen::Matrix3d& L, const std::vector<Eigen::Vector3d>& frac, std::size_t n_for_eta,
                  const EwaldParameters& p) {
    const double volume = std::abs(L.determinant());
    if (!L.allFinite() || volume < 1e-6) throw StructureError("Ewald sum: the lattice is singular or not finite");
    if (!(p.accuracy_digits > 0 && p.accuracy_digits < 30))
        throw InputError("Ewald sum", "accuracy_digits", fmt::format("must be in (0, 30), got {}", p.accuracy_digits));
    if (p.eta < 0 || !std::isfinite(p.eta))
        throw InputError("Ewald sum", "eta", fmt::format("must be positive (or 0 for the default), got {}", p.eta));
    Parts out;
    out.volume = volume;
    const double n = static_cast<double>(std::max<std::size_t>(n_for_eta, 1));
    out.eta = p.eta > 0 ? p.eta : std::pow(n / std::sqrt(2.0) / (volume * volume), 1.0 / 3.0) * M_PI;
    const double accf = std::sqrt(std::log(std::pow(10.0, p.accuracy_digits)));
    const double sqrt_eta = std::sqrt(out.eta);
    out.rmax = accf / sqrt_eta;
    out.gmax = 2.0 * sqrt_eta * accf;

    const std::size_t N = frac.size();
    out.real = Eigen::MatrixXd::Zero(static_cast<Eigen::Index>(N), static_cast<Eigen::Index>(N));
    out.reciprocal = out.real;
    if (N == 0) return out;

    // Real space: all images of j within rmax of i. The image range per axis follows from the
    // distance between lattice planes, 1/|b_k| with b the reciprocal basis (no 2π).
    const Eigen::Matrix3d B = L.inverse().transpose();  // rows b_k with a_i·b_k = δ_ik
    int range[3];
    for (int k = 0; k < 3; ++k) range[k] = static_cast<int>(std::ceil(out.rmax * B.row(k).norm())) + 1;
    std::vector<Eigen::Vector3d> cart(N);
    for (std::size_t i = 0; i < N; ++i) cart[i] = L.transpose() * frac[i];
    for (std::size_t i = 0; i < N; ++i)
        for (std::size_t j = i; j < N; ++j) {
            // Start from the minimum-image separation so the image loop stays symmetric.
            Eigen::Vector3d d = frac[j] - frac[i];
            for (int k = 0; k < 3; ++k) d[k] -= std::round(d[k]);
            const Eigen::Vector3d dc = L.transpose() * d;
            double sum = 0;
            for (int a = -range[0]; a <= range[0]; ++a)
                for (int b = -range[1]; b <= range[1]; ++b)
                    for (int c = -range[2]; c <= range[2]; ++c) {
                        const Eigen::Vector3d r = dc + L.transpose() * Eigen::Vector3d(a, b, c);
                        const double dist = r.norm();
                        if (dist > out.rmax || dist < 1e-10) continue;  // i = j, n = 0 is the self term
                        sum += std::erfc(sqrt_eta * dist) / dist;
                    }
            out.real(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j)) = sum;
            out.real(static_cast<Eigen::Index>(j), static_cast<Eigen::Index>(i)) = sum;
        }

    // Reciprocal space: (4π/V) Σ_{G≠0} exp(−G²/4η)/G² cos(G·(r_i − r_j)), as C W Cᵀ + S W Sᵀ.
    int grange[3];
    for (int k = 0; k < 3; ++k) grange[k] = static_cast<int>(std::ceil(out.gmax * L.row(k).norm() / (2 * M_PI))) + 1;
    std::vector<Eigen::Vector3d> gs;
    std::vector<double> weights;
    for (int h = -grange[0]; h <= grange[0]; ++h)
        for (int k = -grange[1]; k <= grange[1]; ++k)
            for (int l = -grange[2]; l <= grange[2]; ++l) {
                if (h == 0 && k == 0 && l == 0) continue;
                const Eigen::Vector3d g = 2 * M_PI * (B.transpose() * Eigen::Vector3d(h, k, l));
                const double g2 = g.squaredNorm();
                if (g2 > out.gmax * out.gmax) continue;
                gs.push_back(g);
                weights.push_back(4 * M_PI / volume * std::exp(-g2 / (4 * out.eta)) / g2);
            }
    const auto NG = static_cast<Eigen::Index>(gs.size());
    Eigen::MatrixXd C(static_cast<Eigen::Index>(N), NG), S(static_cast<Eigen::Index>(N), NG);
    for (std::size_t i = 0; i < N; ++i)
        for (Eigen::Index g = 0; g < NG; ++g) {
            const double phase = gs[static_cast<std::size_t>(g)].dot(cart[i]);
            const double w = std::sqrt(weights[static_cast<std::size_t>(g)]);
            C(static_cast<Eigen::Index>(i), g) = w * std::cos(phase);
            S(static_cast<Eigen::Index>(i), g) = w * std::sin(phase);
        }
    out.reciprocal = C * C.transpose() + S * S.transpose();
    return out;
}

}  // namespace

Eigen::MatrixXd ewald_matrix(const Eigen::Matrix3d& lattice, const std::vector<Eigen::Vector3d>& frac,
                             std::size_t n_atoms_for_eta, EwaldParameters p) {
    const Parts parts = ewald_parts(lattice, frac, n_atoms_for_eta, p);
    Eigen::MatrixXd phi = parts.real + parts.reciprocal;
    // Self term −√(η/π) q_i² = ½ q_i² (−2√(η/π)); background −π Q²/(2Vη) = ½ Σ_ij q_i q_j (−π/(Vη)).
    phi.diagonal().array() -= 2 * std::sqrt(parts.eta / M_PI);
    phi.array() -= M_PI / (parts.volume * parts.eta);
    return kCoulombEvAngstrom * phi;
}

EwaldEnergy ewald_energy(const Structure& s, const std::vector<double>& charges, EwaldParameters p) {
    if (charges.size() != s.size())
        throw InputError("Ewald sum", "charges",
                         fmt::format("{} charges for {} atoms: give one charge per atom", charges.size(), s.size()));
    Eigen::VectorXd q(static_cast<Eigen::Index>(charges.size()));
    for (std::size_t i = 0; i < charges.size(); ++i) {
        if (!std::isfinite(charges[i]))
            throw InputError("Ewald sum", "charges", fmt::format("charge of atom {} ({}) is not finite", i + 1, s[i].species));
        q[static_cast<Eigen::Index>(i)] = charges[i];
    }
    std::vector<Eigen::Vector3d> frac;
    frac.reserve(s.size());
    for (const auto& a : s.atoms()) frac.push_back(a.frac);
    const Parts parts = ewald_parts(s.lattice(), frac, s.size(), p);
    EwaldEnergy e;
    e.eta = parts.eta;
    e.real_cutoff = parts.rmax;
    e.reciprocal_cutoff = parts.gmax;
    e.real = 0.5 * kCoulombEvAngstrom * q.dot(parts.real * q);
    e.reciprocal = 0.5 * kCoulombEvAngstrom * q.dot(parts.reciprocal * q);
    e.self = -kCoulombEvAngstrom * std::sqrt(parts.eta / M_PI) * q.squaredNorm();
    const double Q = q.sum();
    e.charged = -kCoulombEvAngstrom * M_PI * Q * Q / (2 * parts.volume * parts.eta);
    return e;
}

double formal_oxidation_state(const std::string& species) {
    // Al is 0: in this project it is the metal of the anode (Al, LiAl), not Al3+ of an oxide.
    static const std::map<std::string, double> table{
        {"H", 1},   {"Li", 1},  {"Na", 1},  {"K", 1},   {"Rb", 1},  {"Cs", 1},  {"Be", 2},  {"Mg", 2},
        {"Ca", 2},  {"Sr", 2},  {"Ba", 2},  {"B", 3},   {"Al", 0},  {"Ga", 3},  {"In", 3},  {"Si", 4},
        {"Ge", 4},  {"Sn", 4},  {"P", 5},   {"As", 5},  {"Sb", 5},  {"N", -3},  {"O", -2},  {"S", -2},
        {"Se", -2}, {"Te", -2}, {"F", -1},  {"Cl", -1}, {"Br", -1}, {"I", -1},  {"Ti", 4},  {"Zr", 4},
        {"Nb", 5},  {"Ta", 5},  {"Mn", 4},  {"Fe", 2},  {"Co", 3},  {"Ni", 2},  {"Cu", 1},  {"Zn", 2},
        {"Y", 3},   {"La", 3},  {"Ag", 1},
    };
    const auto it = table.find(species);
    if (it == table.end())
        throw InputError("ordering", "charges",
                         fmt::format("no default oxidation state for '{}': give one explicitly (e.g. {}=+2)", species, species));
    return it->second;
}

std::vector<double> formal_charge_list(const Structure& s, const std::map<std::string, double>& overrides) {
    std::vector<double> q;
    q.reserve(s.size());
    for (const auto& a : s.atoms()) {
        const auto it = overrides.find(a.species);
        q.push_back(it != overrides.end() ? it->second : formal_oxidation_state(a.species));
    }
    return q;
}

}  // namespace interphase::structures
