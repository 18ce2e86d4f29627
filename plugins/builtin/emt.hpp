// Effective medium theory (Jacobsen, Stoltze, Nørskov, Surf. Sci. 366, 394 (1996)) exactly as
// ASE 3.22's pure-Python ase.calculators.emt.EMT: the same parameter table (Al, Cu, Ag, Au,
// Ni, Pd, Pt, and ASE's "just for fun" H, C, N, O), the same Fermi-function cutoff, the same
// neighbour cutoff (rc + 0.5 Å, or 1.045 rc with asap_cutoff) and ASE's Bohr (CODATA 2014)
// for the conversion of the table. Energies are ASE's EMT energies (zero for the fcc metal at
// its EMT lattice constant), not cohesive energies. Fast, many-body and metallic: the builtin
// stand-in for DFT when testing relaxations and NEB on Al surfaces.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "plugins/potential.hpp"

namespace interphase::plugins::builtin {

struct EmtParameters {
    /// As ASE's `asap_cutoff`: the global cutoff follows the largest atom present (true) or the
    /// largest atom of the whole table (false, ASE's default).
    bool asap_cutoff = false;

    static EmtParameters from_json(const nlohmann::json& config, const std::string& source);
};

class Emt final : public Potential {
public:
    explicit Emt(EmtParameters p = {});
    std::string name() const override { return "emt"; }
    nlohmann::json parameters() const override;
    /// Throws StructureError naming the first atom whose species has no EMT parameters.
    EnergyForces compute(const structures::Structure& s) const override;

    /// Symbols with EMT parameters, in ASE's table order.
    static std::vector<std::string> elements();

private:
    EmtParameters p_;
};

}  // namespace interphase::plugins::builtin
