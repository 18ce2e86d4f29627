#include "plugins/builtin/lennard_jones.hpp"

#include <cmath>
#include <fmt/format.h>

#include "common/errors.hpp"
#include "plugins/builtin/config.hpp"
#include "plugins/builtin/neighbors.hpp"

namespace interphase::plugins::builtin {
namespace {

// ASE's (and Jax-MD's) switching function of the squared distance, 1 below ro², 0 above rc²;
// r2, rc2 and ro2 are all squared distances.
double switching(double r2, double rc2, double ro2) {
    if (r2 < ro2) return 1.0;
    if (r2 < rc2) return (rc2 - r2) * (rc2 - r2) * (rc2 + 2 * r2 - 3 * ro2) / std::pow(rc2 - ro2, 3);
    return 0.0;
}

/// d switching / d r2.
double switching_derivative(double r2, double rc2, double ro2) {
    if (r2 < ro2) return 0.0;
    if (r2 < rc2) return 6 * (rc2 - r2) * (ro2 - r2) / std::pow(rc2 - ro2, 3);
    return 0.0;
}

}  // namespace

LennardJonesParameters LennardJonesParameters::from_json(const nlohmann::json& c, const std::string& source) {
    config::check_keys(c, {"epsilon", "sigma", "rc", "ro", "smooth"}, "Lennard-Jones", source);
    LennardJonesParameters p;
    p.epsilon = config::positive(c, "epsilon", p.epsilon, source, /*allow_zero=*/true);
    p.sigma = config::positive(c, "sigma", p.sigma, source);
    p.rc = config::positive(c, "rc", 3 * p.sigma, source);
    p.ro = config::positive(c, "ro", 0.66 * p.rc, source);
    p.smooth = config::boolean(c, "smooth", p.smooth, source);
    if (p.smooth && !(p.ro < p.rc))
        throw InputError(source, config::field("ro"),
                         fmt::format("the switching onset ro = {} Å must be below the cutoff rc = {} Å", p.ro, p.rc));
    return p;
}

LennardJones::LennardJones(LennardJonesParameters p) : p_(p) {
    if (!(p_.sigma > 0) || !(p_.epsilon >= 0))
        throw InputError("lj", "calculator.sigma", "sigma must be > 0 and epsilon >= 0");
    if (!(p_.rc > 0)) p_.rc = 3 * p_.sigma;
    if (!(p_.ro > 0)) p_.ro = 0.66 * p_.rc;
    if (p_.smooth && !(p_.ro < p_.rc))
        throw InputError("lj", "calculator.ro", fmt::format("ro = {} Å must be below rc = {} Å", p_.ro, p_.rc));
}

nlohmann::json LennardJones::parameters() const {
    return {{"potential", "lj"}, {"epsilon", p_.epsilon}, {"sigma", p_.sigma},
            {"rc", p_.rc},       {"ro", p_.ro},           {"smooth", p_.smooth}};
}

EnergyForces LennardJones::compute(const structures::Structure& s) const {
    const double eps = p_.epsilon, sigma = p_.sigma, rc = p_.rc;
    const double rc2 = rc * rc, ro2 = p_.ro * p_.ro;
    // Pair energy at the cutoff: subtracted in the shifted (non-smooth) mode.
    const double e0 = 4 * eps * (std::pow(sigma / rc, 12) - std::pow(sigma / rc, 6));
    return sum_pair_terms(s, rc, [&](const NeighborPair& pr) {
        const double r2 = pr.d.squaredNorm();
        if (r2 > rc2) return PairTerm{};
        const double c6 = std::pow(sigma * sigma / r2, 3);
        const double c12 = c6 * c6;
        double u = 4 * eps * (c12 - c6);
        // du: (du/dr)/r, so that du * d is the gradient of u with respect to d = r_j - r_i,
        // i.e. the force on atom i.
        double du = -24 * eps * (2 * c12 - c6) / r2;
        if (p_.smooth) {
            const double fc = switching(r2, rc2, ro2);
            du = fc * du + 2 * switching_derivative(r2, rc2, ro2) * u;
            u *= fc;
        } else {
            u -= e0;
        }
        return PairTerm{u, du * pr.d};
    });
}

}  // namespace interphase::plugins::builtin
