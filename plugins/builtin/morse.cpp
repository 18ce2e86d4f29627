#include "plugins/builtin/morse.hpp"

#include <cmath>
#include <fmt/format.h>

#include "common/errors.hpp"
#include "plugins/builtin/config.hpp"
#include "plugins/builtin/neighbors.hpp"

namespace interphase::plugins::builtin {
namespace {

// JuLIP's piecewise quintic switching function (as ASE's morse.fcut): 1 below r0, 0 above r1,
// continuous up to the second derivative.
double fcut(double r, double r0, double r1) {
    const double s = 1.0 - (r - r0) / (r1 - r0);
    if (s >= 1.0) return 1.0;
    if (s > 0.0) return s * s * s * (6.0 * s * s - 15.0 * s + 10.0);
    return 0.0;
}

double fcut_derivative(double r, double r0, double r1) {
    const double s = 1.0 - (r - r0) / (r1 - r0);
    if (s > 0.0 && s < 1.0) return -(30 * s * s * s * s - 60 * s * s * s + 30 * s * s) / (r1 - r0);
    return 0.0;
}

void check(const MorseParameters& p, const std::string& source) {
    if (!(p.rcut1 < p.rcut2))
        throw InputError(source, config::field("rcut1"),
                         fmt::format("the switching onset rcut1 = {} must be below the cutoff rcut2 = {} (units of r0)",
                                     p.rcut1, p.rcut2));
}

}  // namespace

MorseParameters MorseParameters::from_json(const nlohmann::json& c, const std::string& source) {
    config::check_keys(c, {"epsilon", "rho0", "r0", "rcut1", "rcut2"}, "Morse", source);
    MorseParameters p;
    p.epsilon = config::positive(c, "epsilon", p.epsilon, source, /*allow_zero=*/true);
    p.rho0 = config::positive(c, "rho0", p.rho0, source);
    p.r0 = config::positive(c, "r0", p.r0, source);
    p.rcut1 = config::positive(c, "rcut1", p.rcut1, source);
    p.rcut2 = config::positive(c, "rcut2", p.rcut2, source);
    check(p, source);
    return p;
}

Morse::Morse(MorseParameters p) : p_(p) {
    if (!(p_.epsilon >= 0) || !(p_.rho0 > 0) || !(p_.r0 > 0) || !(p_.rcut1 > 0))
        throw InputError("morse", "calculator", "epsilon must be >= 0; rho0, r0 and rcut1 > 0");
    check(p_, "morse");
}

nlohmann::json Morse::parameters() const {
    return {{"potential", "morse"}, {"epsilon", p_.epsilon}, {"rho0", p_.rho0},
            {"r0", p_.r0},          {"rcut1", p_.rcut1},     {"rcut2", p_.rcut2}};
}

EnergyForces Morse::compute(const structures::Structure& s) const {
    const double eps = p_.epsilon, rho0 = p_.rho0, r0 = p_.r0;
    const double r1 = p_.rcut1 * r0, r2 = p_.rcut2 * r0;
    return sum_pair_terms(s, r2, [&](const NeighborPair& pr) {
        const double e = std::exp(rho0 * (1.0 - pr.r / r0));
        const double phi = eps * e * (e - 2);
        const double dphi = -2 * eps * rho0 / r0 * e * (e - 1);  // dφ/dr
        const double fc = fcut(pr.r, r1, r2);
        // Force on atom i (the gradient with respect to d = r_j - r_i).
        return PairTerm{phi * fc, (dphi * fc + phi * fcut_derivative(pr.r, r1, r2)) / pr.r * pr.d};
    });
}

}  // namespace interphase::plugins::builtin
