// Lennard-Jones pair potential, u(r) = 4ε[(σ/r)^12 − (σ/r)^6], exactly as ASE 3.22's
// ase.calculators.lj.LennardJones: one ε and σ for every atom whatever its species, a cutoff
// rc (default 3σ) and either an energy shift u(r) − u(rc) (smooth = false, the default:
// energy continuous at rc, forces jump there) or a C¹ switching function between ro (default
// 0.66 rc) and rc (smooth = true: energy and forces continuous). Units: ε in eV, lengths in Å.
#pragma once

#include "plugins/potential.hpp"

namespace interphase::plugins::builtin {

struct LennardJonesParameters {
    double epsilon = 1.0;  ///< eV, depth of the well
    double sigma = 1.0;    ///< Å, u(σ) = 0; the minimum is at 2^(1/6) σ
    double rc = 0;         ///< Å, cutoff; 0 = 3σ (ASE's default)
    double ro = 0;         ///< Å, onset of the switching function (smooth only); 0 = 0.66 rc
    bool smooth = false;

    /// From the workflow's calculator block (ASE's keyword names); throws InputError naming
    /// `source` and the field, with "did you mean" for unknown keys.
    static LennardJonesParameters from_json(const nlohmann::json& config, const std::string& source);
};

class LennardJones final : public Potential {
public:
    explicit LennardJones(LennardJonesParameters p = {});
    std::string name() const override { return "lj"; }
    nlohmann::json parameters() const override;
    EnergyForces compute(const structures::Structure& s) const override;
    const LennardJonesParameters& settings() const noexcept { return p_; }

private:
    LennardJonesParameters p_;  ///< with rc and ro resolved
};

}  // namespace interphase::plugins::builtin
