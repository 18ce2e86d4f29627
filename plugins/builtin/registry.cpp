// The one place where builtin potentials are registered: one line per potential.
#include "plugins/builtin/registry.hpp"

#include <fstream>
#include <fmt/format.h>

#include "common/errors.hpp"
#include "plugins/builtin/emt.hpp"
#include "plugins/builtin/lennard_jones.hpp"
#include "plugins/builtin/morse.hpp"

namespace interphase::plugins::builtin {
namespace {

template <class P, class Params>
PotentialInfo entry(std::string name, std::string description, std::vector<std::string> keys) {
    return {std::move(name), std::move(description), std::move(keys),
            [](const nlohmann::json& config, const std::string& source) -> std::unique_ptr<Potential> {
                return std::make_unique<P>(Params::from_json(config, source));
            }};
}

/// A builtin potential as a workflow calculator.
class PotentialCalculator final : public Calculator {
public:
    explicit PotentialCalculator(std::unique_ptr<Potential> potential) : potential_(std::move(potential)) {}
    std::string name() const override { return potential_->name(); }
    std::string plugin_version() const override { return kPluginVersion; }
    nlohmann::json hashed_settings() const override { return potential_->parameters(); }
    void check_available() const override {}  // nothing outside the process is needed
    const Potential* potential() const override { return potential_.get(); }

    /// Records what would be computed, for provenance (the engine evaluates in process).
    void write_inputs(const CalculationRequest& request, const std::filesystem::path& dir) const override {
        const nlohmann::json j = {{"potential", potential_->parameters()},
                                  {"kind", to_string(request.kind)},
                                  {"structure", structures::to_json(request.structure)}};
        std::ofstream out(dir / "input.json");
        out << j.dump(1) << '\n';
        if (!out) throw ExecutionError(fmt::format("cannot write {}", (dir / "input.json").string()));
    }

    LaunchSpec launch(const std::filesystem::path&, int) const override {
        throw ExecutionError(fmt::format("calculator '{}' is an in-process potential: it has no command to "
                                         "launch; the engine evaluates it through Calculator::potential()",
                                         potential_->name()));
    }

    CalculationResult parse(const CalculationRequest& request, const std::filesystem::path&) const override {
        if (request.kind != CalculationKind::SinglePoint)
            throw CalculationError(CalculationError::Reason::Missing,
                                   fmt::format("calculator '{}': relaxations run in the engine's relaxation driver "
                                               "(engine/drivers/relax.hpp), not in parse()",
                                               potential_->name()));
        return single_point(*potential_, request.structure);
    }

private:
    std::unique_ptr<Potential> potential_;
};

}  // namespace

PotentialRegistry::PotentialRegistry() : Registry("potential") {
    add(entry<LennardJones, LennardJonesParameters>(
        "lj", "Lennard-Jones pair potential as ASE's LennardJones (one epsilon, sigma for all species)",
        {"epsilon", "sigma", "rc", "ro", "smooth"}));
    add(entry<Morse, MorseParameters>("morse", "Morse pair potential as ASE's MorsePotential",
                                      {"epsilon", "rho0", "r0", "rcut1", "rcut2"}));
    add(entry<Emt, EmtParameters>("emt", "effective medium theory as ASE's EMT (Al Cu Ag Au Ni Pd Pt; H C N O)",
                                  {"asap_cutoff"}));
}

PotentialRegistry& PotentialRegistry::instance() {
    static PotentialRegistry registry;
    return registry;
}

const PotentialInfo& PotentialRegistry::info(const std::string& name, const std::string& source) const {
    return at(name, source, "calculator.code");
}

std::unique_ptr<Potential> PotentialRegistry::create(const std::string& name, const nlohmann::json& config,
                                                     const std::string& source) const {
    return info(name, source).create(config, source);
}

CalculatorInfo calculator_registration(const std::string& potential_name) {
    const auto& p = PotentialRegistry::instance().info(potential_name, "builtin registry");
    CalculatorInfo info;
    info.name = p.name;
    info.description = "in-process " + p.description;
    info.capabilities = {"single_point", "relaxation", "fixed_atoms", "stress", "in_process"};
    info.create = [name = p.name](const nlohmann::json& config, const std::string& source) -> std::unique_ptr<Calculator> {
        return std::make_unique<PotentialCalculator>(PotentialRegistry::instance().create(name, config, source));
    };
    return info;
}

CalculationResult single_point(const Potential& potential, const structures::Structure& s) {
    const auto ef = potential.compute(s);
    CalculationResult r;
    r.energy = ef.energy;
    r.forces = ef.forces;
    r.structure = s;
    r.scf_converged = true;
    r.geometry_converged = true;
    r.ionic_steps = 0;
    r.code = potential.name();
    r.code_version = kPluginVersion;
    return r;
}

}  // namespace interphase::plugins::builtin
