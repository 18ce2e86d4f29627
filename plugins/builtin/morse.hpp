// Morse pair potential, φ(r) = ε e(r)[e(r) − 2] with e(r) = exp[ρ0(1 − r/r0)], exactly as ASE
// 3.22's ase.calculators.morse.MorsePotential: one ε, ρ0, r0 for every atom whatever its
// species, multiplied by JuLIP's quintic C² switching function between rcut1·r0 and rcut2·r0
// (the cutoffs are in units of r0, as in ASE). ASE computes no stress for Morse; we add the
// analytic virial. Units: ε in eV, r0 in Å, ρ0 dimensionless.
#pragma once

#include "plugins/potential.hpp"

namespace interphase::plugins::builtin {

struct MorseParameters {
    double epsilon = 1.0;  ///< eV, depth of the well at r0
    double rho0 = 6.0;     ///< stiffness: curvature at the minimum is 2ε(ρ0/r0)^2
    double r0 = 1.0;       ///< Å, position of the minimum
    double rcut1 = 1.9;    ///< onset of the switching function, in units of r0
    double rcut2 = 2.7;    ///< cutoff, in units of r0

    /// From the workflow's calculator block (ASE's keyword names); throws InputError.
    static MorseParameters from_json(const nlohmann::json& config, const std::string& source);
};

class Morse final : public Potential {
public:
    explicit Morse(MorseParameters p = {});
    std::string name() const override { return "morse"; }
    nlohmann::json parameters() const override;
    EnergyForces compute(const structures::Structure& s) const override;
    const MorseParameters& settings() const noexcept { return p_; }

private:
    MorseParameters p_;
};

}  // namespace interphase::plugins::builtin
