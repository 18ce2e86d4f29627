// What each in-process task kind computes. Build tasks call structures/; expression tasks
// (binding energy, ΔE) combine calculation outputs. Calculation tasks are not here: they go
// through a calculator plugin and an executor (see runner.cpp).
//
// Every function takes the task's parameters and its inputs' outputs (by role) and returns the
// task's output as JSON; errors are thrown as interphase::Error and recorded by the runner.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "engine/graph.hpp"
#include "structures/structure.hpp"

namespace interphase::engine {

using Inputs = std::map<std::string, nlohmann::json>;

/// The output of the task's input `role`; throws Error naming the task when it is missing.
const nlohmann::json& task_input(const Inputs& inputs, const std::string& role, const Task& task);
/// The structure in a task's output; throws Error naming `what` when there is none.
structures::Structure output_structure(const nlohmann::json& output, const std::string& what);

/// True for kinds evaluated inside the engine process (everything but calculations).
bool runs_in_process(const std::string& kind);

/// Evaluates an in-process task. Throws InputError for unknown kinds.
nlohmann::json run_in_process(const Task& task, const Inputs& inputs);

/// Li binding energy of one host from its relaxed clean slab, the relaxed slab+adsorbate at
/// each site and the reference: E_b = E(X + Li) − E(X) − μ_Li. Exposed for tests.
nlohmann::json binding_energy(const nlohmann::json& params, const Inputs& inputs);

}  // namespace interphase::engine
