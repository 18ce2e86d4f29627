// The builtin potentials by name ("lj", "morse", "emt"), each created from a JSON
// configuration (the workflow's `calculator:` block, ASE's keyword names), and their use as
// workflow calculators: `calculator: {code: emt}` gives a Calculator whose potential() the
// engine evaluates in process. Each potential is registered with one line in registry.cpp;
// unknown names get a "did you mean" error listing the known ones.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/registry.hpp"
#include "plugins/calculator.hpp"
#include "plugins/potential.hpp"

namespace interphase::plugins::builtin {

using PotentialFactory =
    std::function<std::unique_ptr<Potential>(const nlohmann::json& config, const std::string& source)>;

struct PotentialInfo {
    std::string name;                     ///< "emt"
    std::string description;
    std::vector<std::string> parameters;  ///< accepted configuration keys
    PotentialFactory create;              ///< throws InputError naming `source` and the field
};

/// Lookup, names() (registration order) and the duplicate check come from Registry<Info>.
class PotentialRegistry : public Registry<PotentialInfo> {
public:
    static PotentialRegistry& instance();
    /// Throws InputError (field "calculator.code") with a "did you mean" list for unknown
    /// names, or for bad settings.
    std::unique_ptr<Potential> create(const std::string& name, const nlohmann::json& config,
                                      const std::string& source) const;
    const PotentialInfo& info(const std::string& name, const std::string& source) const;

private:
    PotentialRegistry();
};

/// Version of the builtin calculators (part of every task hash): bump it when a potential's
/// results change.
inline constexpr const char* kPluginVersion = "builtin/1";

/// The workflow calculator wrapping the named potential, for CalculatorRegistry (one line
/// each in plugins/registry.cpp). It runs in process: potential() is non-null, there is no
/// command to launch (launch() throws ExecutionError); parse() evaluates a single point
/// directly, while relaxations go through the engine's drivers (engine/drivers/relax.hpp).
CalculatorInfo calculator_registration(const std::string& potential_name);

/// A single point of `potential` as a CalculationResult (energy, forces, the same structure).
CalculationResult single_point(const Potential& potential, const structures::Structure& s);

}  // namespace interphase::plugins::builtin
