// What each task kind of `workflow: binding_energy` computes (names.hpp lists them). Build tasks
// call structures/; expression tasks (binding energy, ΔE) combine calculation outputs; the
// relaxations themselves are the engine's `calculation` kind.
//
// Every function takes the task (its parameters) and its inputs' outputs (by role) and returns
// the task's output as JSON; errors are thrown as interphase::Error and recorded by the runner.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/task_kind.hpp"
#include "structures/structure.hpp"

namespace interphase::workflows::binding_energy {

/// Li binding energy of one host from its relaxed clean host, the relaxed host+adsorbate at
/// each site and the reference: E_b = E(X + Li) − E(X) − μ_Li. Exposed for tests.
nlohmann::json binding_energy(const nlohmann::json& params, const engine::Inputs& inputs);
/// The in-plane supercell (na, nb <= 20) of a slab with 1x1 `lattice` (rows a, b, c) that has at
/// least `area` Å² per adsorbate: among those with at most 1.5x the smallest such area, the one
/// whose adsorbate images are farthest apart, then the smaller, then the smaller na; InputError
/// naming `task`.
std::array<int, 2> supercell_for_area(const Eigen::Matrix3d& lattice, double area, const std::string& task);

/// build_hop_endpoint: params {from, to, species, end: "initial"|"final"}, input "slab".
nlohmann::json build_hop_endpoint(const engine::Task& task, const engine::Inputs& inputs);

/// find_sites' growth rule: one build_adsorbate + relaxation per site found (growth.cpp).
std::vector<std::string> grow_sites(engine::TaskGraph& graph, const engine::Task& finished, const nlohmann::json& output);

/// One interface of the builder's ranking, chosen by a `kind: interface` host's parameters:
/// {a: {miller, layers, termination?}, b: {...}, max_area, max_strain (%), max_angle_strain (%),
/// match (index among the candidates with the asked terminations, 0 = best), gap (Å), vacuum,
/// fix_outer_layers}. The slab model (vacuum above B), outermost planes of both sides fixed.
struct SelectedInterface {
    structures::Structure structure;  ///< atoms tagged "A"/"B", planes in Atom::layer
    nlohmann::json info;              ///< rank, match, area, strain, terminations, gap, fixed planes
};
/// Throws InputError(source, field) when nothing matches within the tolerances (saying the best
/// strain found and at which area), when no candidate has the asked terminations (listing those
/// on offer), when `match` is beyond the ranking, or when fix_outer_layers is impossible.
SelectedInterface select_interface(const structures::Structure& bulk_a, const structures::Structure& bulk_b,
                                   const nlohmann::json& params, const std::string& source);

/// The task kinds of interface hosts and hops across interfaces (interface_tasks.cpp).
std::vector<engine::TaskKind> interface_task_kinds();

/// The task kinds of molecule hosts (molecule_tasks.cpp).
std::vector<engine::TaskKind> molecule_task_kinds();

/// The task kinds of bulk hosts (bulk_tasks.cpp).
std::vector<engine::TaskKind> bulk_task_kinds();

/// The registry entries of every task kind of this workflow kind (names.hpp).
std::vector<engine::TaskKind> task_kinds();

}  // namespace interphase::workflows::binding_energy
