// The graph grows at run time: some tasks only know what comes after them once they have run.
// A find_sites task lists the symmetry-unique adsorption sites of a relaxed slab; when it
// finishes, grow() adds one build_adsorbate + relaxation per site and wires each relaxation
// into the host's binding-energy task. The rule is deterministic (same output, same tasks,
// same names), so a resumed run regrows the same graph and finds the finished tasks by hash.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/graph.hpp"

namespace interphase::engine {

/// True if tasks of `kind` may add tasks when they finish.
bool grows_graph(const std::string& kind);

/// Adds the tasks that `finished` (with `output`) brings; returns their names in insertion order.
/// Tasks that already exist (a regrowth) are left alone and not returned.
std::vector<std::string> grow(TaskGraph& graph, const Task& finished, const nlohmann::json& output);

}  // namespace interphase::engine
