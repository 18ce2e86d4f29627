#include "plugins/builtin/emt.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

#include "common/errors.hpp"
#include "plugins/builtin/config.hpp"
#include "plugins/builtin/neighbors.hpp"

namespace interphase::plugins::builtin {
namespace {

// ASE's table, in its units (eV, Bohr, Bohr^-1, Bohr^-3), converted below with ASE's Bohr:
// 3.22 defaults to CODATA 2014, and the exponentials amplify the 1e-10 difference to CODATA
// 2018 (common/units.hpp) enough to show in the last digits we compare.
struct Row {
    const char* symbol;
    double E0, s0, V0, eta2, kappa, lambda, n0;
};
constexpr Row kTable[] = {
    {"Al", -3.28, 3.00, 1.493, 1.240, 2.000, 1.169, 0.00700},
    {"Cu", -3.51, 2.67, 2.476, 1.652, 2.740, 1.906, 0.00910},
    {"Ag", -2.96, 3.01, 2.132, 1.652, 2.790, 1.892, 0.00547},
    {"Au", -3.80, 3.00, 2.321, 1.674, 2.873, 2.182, 0.00703},
    {"Ni", -4.44, 2.60, 3.673, 1.669, 2.757, 1.948, 0.01030},
    {"Pd", -3.90, 2.87, 2.773, 1.818, 3.107, 2.155, 0.00688},
    {"Pt", -5.85, 2.90, 4.067, 1.812, 3.145, 2.192, 0.00802},
    // ASE: "extra parameters - just for fun"; not for serious use.
    {"H", -3.21, 1.31, 0.132, 2.652, 2.790, 3.892, 0.00547},
    {"C", -3.50, 1.81, 0.332, 1.652, 2.790, 1.892, 0.01322},
    {"N", -5.10, 1.88, 0.132, 1.652, 2.790, 1.892, 0.01222},
    {"O", -4.60, 1.95, 0.332, 1.652, 2.790, 1.892, 0.00850},
};
constexpr double kBohr = 0.5291772105638411;  // Å, ase.units.Bohr in ASE 3.22 (CODATA 2014)
constexpr double kBeta = 1.809;               // (16π/3)^(1/3)/√2 with ASE's historical rounding

struct Species {
    double E0, s0, V0, eta2, kappa, lambda, n0;  // eV and Å
    double gamma1 = 0, gamma2 = 0;               // normalisation of the fcc reference
};

const Row* find_row(const std::string& symbol) {
    for (const auto& r : kTable)
        if (symbol == r.symbol) return &r;
    return nullptr;
}

}  // namespace

EmtParameters EmtParameters::from_json(const nlohmann::json& c, const std::string& source) {
    config::check_keys(c, {"asap_cutoff"}, "EMT", source);
    EmtParameters p;
    p.asap_cutoff = config::boolean(c, "asap_cutoff", p.asap_cutoff, source);
    return p;
}

Emt::Emt(EmtParameters p) : p_(p) {}

nlohmann::json Emt::parameters() const { return {{"potential", "emt"}, {"asap_cutoff", p_.asap_cutoff}}; }

std::vector<std::string> Emt::elements() {
    std::vector<std::string> out;
    for (const auto& r : kTable) out.emplace_back(r.symbol);
    return out;
}

EnergyForces Emt::compute(const structures::Structure& s) const {
    const std::size_t n = s.size();
    EnergyForces out;
    out.forces.assign(n, Eigen::Vector3d::Zero());
    const auto& pbc = s.pbc();
    out.has_stress = pbc[0] || pbc[1] || pbc[2];
    if (n == 0) return out;

    // Species present, in order of first appearance; kind[i] indexes them.
    std::vector<const Row*> rows;
    std::vector<std::size_t> kind(n);
    for (std::size_t i = 0; i < n; ++i) {
        const Row* row = find_row(s[i].species);
        if (!row)
            throw StructureError(fmt::format("EMT has no parameters for '{}' (atom {}); it describes {}", s[i].species,
                                             i + 1, fmt::join(elements(), ", ")));
        const auto it = std::find(rows.begin(), rows.end(), row);
        kind[i] = static_cast<std::size_t>(it - rows.begin());
        if (it == rows.end()) rows.push_back(row);
    }

    // Global cutoff: a Fermi function centred between the 3rd and 4th fcc shells of the largest
    // atom, rc_list where the pair terms stop (a tiny discontinuity, as in ASE).
    double maxseq = 0;
    if (p_.asap_cutoff)
        for (const Row* r : rows) maxseq = std::max(maxseq, r->s0);
    else
        for (const auto& r : kTable) maxseq = std::max(maxseq, r.s0);
    maxseq *= kBohr;
    const double rc = kBeta * maxseq * 0.5 * (std::sqrt(3.0) + 2.0);
    const double rr = rc * 2 * 2.0 / (std::sqrt(3.0) + 2.0);
    const double acut = std::log(9999.0) / (rr - rc);
    const double rc_list = p_.asap_cutoff ? rc * 1.045 : rc + 0.5;

    std::vector<Species> sp;
    for (const Row* r : rows) {
        Species p{r->E0, r->s0 * kBohr, r->V0, r->eta2 / kBohr, r->kappa / kBohr, r->lambda / kBohr,
                  r->n0 / (kBohr * kBohr * kBohr)};
        const int shell_size[3] = {12, 6, 24};
        for (int k = 0; k < 3; ++k) {
            const double rk = p.s0 * kBeta * std::sqrt(k + 1.0);
            const double w = shell_size[k] / (12 * (1.0 + std::exp(acut * (rk - rc))));
            p.gamma1 += w * std::exp(-p.eta2 * (rk - kBeta * p.s0));
            p.gamma2 += w * std::exp(-p.kappa / kBeta * (rk - kBeta * p.s0));
        }
        sp.push_back(p);
    }

    auto pairs = neighbor_pairs(s, rc_list);
    std::erase_if(pairs, [&](const NeighborPair& pr) { return !(pr.r < rc_list); });

    // Pass 1: the pair (atomic-sphere correction) energy and the neighbour densities sigma1.
    std::vector<double> sigma1(n, 0.0);
    Eigen::Matrix3d acc = Eigen::Matrix3d::Zero();
    double energy = 0;
    for (const auto& pr : pairs) {
        const Species& p1 = sp[kind[pr.i]];
        const Species& p2 = sp[kind[pr.j]];
        const double ksi = p2.n0 / p1.n0;
        const double r = pr.r;
        const double x = std::exp(acut * (r - rc));
        const double theta = 1.0 / (1.0 + x);
        const double y1 = 0.5 * p1.V0 * std::exp(-p2.kappa * (r / kBeta - p2.s0)) * ksi / p1.gamma2 * theta;
        const double y2 = 0.5 * p2.V0 * std::exp(-p1.kappa * (r / kBeta - p1.s0)) / ksi / p2.gamma2 * theta;
        energy -= y1 + y2;
        const Eigen::Vector3d f =
            ((y1 * p2.kappa + y2 * p1.kappa) / kBeta + (y1 + y2) * acut * theta * x) * pr.d / r;
        out.forces[pr.i] += f;
        out.forces[pr.j] -= f;
        acc -= f * pr.d.transpose();
        sigma1[pr.i] += std::exp(-p2.eta2 * (r - kBeta * p2.s0)) * ksi * theta / p1.gamma1;
        sigma1[pr.j] += std::exp(-p1.eta2 * (r - kBeta * p1.s0)) / ksi * theta / p2.gamma1;
    }

    // The cohesive function of each atom's neighbour density, and its derivative deds that
    // weighs the density forces of pass 2.
    std::vector<double> deds(n, 0.0);
    for (std::size_t a = 0; a < n; ++a) {
        const Species& p = sp[kind[a]];
        if (!(sigma1[a] > 0)) {  // an isolated atom: ds -> infinity (ASE catches log(0) here)
            energy -= p.E0;
            continue;
        }
        const double ds = -std::log(sigma1[a] / 12) / (kBeta * p.eta2);
        const double x = p.lambda * ds;
        const double y = std::exp(-x);
        const double z = 6 * p.V0 * std::exp(-p.kappa * ds);
        deds[a] = (x * y * p.E0 * p.lambda + p.kappa * z) / (sigma1[a] * kBeta * p.eta2);
        energy += p.E0 * ((1 + x) * y - 1) + z;
    }

    // Pass 2: forces from the neighbour densities.
    for (const auto& pr : pairs) {
        const Species& p1 = sp[kind[pr.i]];
        const Species& p2 = sp[kind[pr.j]];
        const double ksi = p2.n0 / p1.n0;
        const double r = pr.r;
        const double x = std::exp(acut * (r - rc));
        const double theta = 1.0 / (1.0 + x);
        const double y1 = std::exp(-p2.eta2 * (r - kBeta * p2.s0)) * ksi / p1.gamma1 * theta * deds[pr.i];
        const double y2 = std::exp(-p1.eta2 * (r - kBeta * p1.s0)) / ksi / p2.gamma1 * theta * deds[pr.j];
        const Eigen::Vector3d f = ((y1 * p2.eta2 + y2 * p1.eta2) + (y1 + y2) * acut * theta * x) * pr.d / r;
        out.forces[pr.i] -= f;
        out.forces[pr.j] += f;
        acc += f * pr.d.transpose();
    }

    out.energy = energy;
    if (out.has_stress) out.stress = -0.5 * (acc + acc.transpose()) / s.volume();
    return out;
}

}  // namespace interphase::plugins::builtin
