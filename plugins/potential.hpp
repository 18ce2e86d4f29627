// In-process interatomic potentials (plugins/builtin/: Lennard-Jones, Morse, EMT): energy,
// forces and stress of a structure computed inside the engine, without an external program.
// They make tests, dry runs and benchmarks of the engine and the drivers run in milliseconds,
// and they are the reference the drivers (relaxation, NEB) are checked against.
//
// A Potential is immutable after construction and compute() is const and thread-safe, so the
// engine may evaluate several structures (NEB images) at once.
#pragma once

#include <Eigen/Dense>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "structures/structure.hpp"

namespace interphase::plugins {

/// What a potential returns for one structure, in Interphase units.
struct EnergyForces {
    double energy = 0;                          ///< eV
    std::vector<Eigen::Vector3d> forces;        ///< eV/Å, one per atom (fixed atoms included)
    Eigen::Matrix3d stress = Eigen::Matrix3d::Zero();  ///< eV/Å^3, sign as ASE (positive = tensile)
    bool has_stress = false;                    ///< false for non-periodic structures
};

class Potential {
public:
    virtual ~Potential() = default;
    /// Registry name, e.g. "emt".
    virtual std::string name() const = 0;
    /// Every parameter that changes results; part of every task hash.
    virtual nlohmann::json parameters() const = 0;
    /// Throws StructureError for species the potential does not describe (naming them).
    virtual EnergyForces compute(const structures::Structure& s) const = 0;
};

}  // namespace interphase::plugins
