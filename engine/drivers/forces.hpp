// The one thing the code-agnostic drivers (relaxation, NEB) need from the world: energies and
// forces for a batch of structures. The engine supplies it — from an in-process Potential
// (plugins/potential.hpp), or by running each structure as a single-point task of an external
// code through an executor — so the drivers never know which code or which machine computes.
// A batch is evaluated together so that NEB images run as independent parallel tasks.
#pragma once

#include <functional>
#include <vector>

#include "plugins/potential.hpp"
#include "structures/structure.hpp"

namespace interphase::engine::drivers {

using plugins::EnergyForces;

/// Evaluates every structure of the batch; results in the same order. Throws on failure.
using ForceProvider = std::function<std::vector<EnergyForces>(const std::vector<structures::Structure>&)>;

/// A ForceProvider that calls an in-process potential (serially; potentials are fast).
ForceProvider in_process(const plugins::Potential& potential);

}  // namespace interphase::engine::drivers
