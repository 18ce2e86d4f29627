#include "plugins/calculator.hpp"

#include <cmath>
#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/text.hpp"

namespace interphase::plugins {

namespace {
// Named protocols. "fast" is for demonstrations and tests: small basis, low cutoff, coarse k-points.
Protocol named_protocol(const std::string& name, const std::string& source) {
    Protocol p;
    p.name = name;
    if (name == "fast") {
        p.precision = "fast";
        p.kpoint_spacing = 0.50;
        p.smearing = 0.1;
        p.scf_tolerance = 1e-5;
        p.fmax = 0.10;
        p.max_relax_steps = 60;
    } else if (name == "standard") {
        p.precision = "standard";
        p.kpoint_spacing = 0.25;
        p.smearing = 0.05;
        p.scf_tolerance = 1e-6;
        p.fmax = 0.05;
        p.max_relax_steps = 200;
    } else if (name == "precise") {
        p.precision = "precise";
        p.kpoint_spacing = 0.15;
        p.smearing = 0.02;
        p.scf_tolerance = 1e-7;
        p.fmax = 0.02;
        p.max_relax_steps = 400;
    } else {
        throw InputError(source, "protocol", text::unknown_name_message("protocol", name, {"fast", "standard", "precise"}));
    }
    return p;
}

template <class T>
void override_field(const nlohmann::json& j, const char* key, T& target, const std::string& source) {
    if (!j.contains(key)) return;
    try {
        target = j.at(key).get<T>();
    } catch (const nlohmann::json::exception&) {
        throw InputError(source, std::string("protocol.") + key, "has the wrong type: " + j.at(key).dump());
    }
}
}  // namespace

nlohmann::json Protocol::to_json() const {
    return {{"name", name},         {"functional", functional},       {"precision", precision},
            {"kpoint_spacing", kpoint_spacing}, {"smearing", smearing}, {"scf_tolerance", scf_tolerance},
            {"max_scf", max_scf},   {"fmax", fmax},                   {"max_relax_steps", max_relax_steps}};
}

Protocol Protocol::from_json(const nlohmann::json& j, const std::string& source) {
    if (j.is_string()) return named_protocol(j.get<std::string>(), source);
    if (!j.is_object()) throw InputError(source, "protocol", "must be a name or a mapping");
    static const std::vector<std::string> keys{"name", "functional", "precision", "kpoint_spacing", "smearing",
                                               "scf_tolerance", "max_scf", "fmax", "max_relax_steps"};
    for (const auto& [k, v] : j.items())
        if (std::find(keys.begin(), keys.end(), k) == keys.end())
            throw InputError(source, "protocol." + k, text::unknown_name_message("protocol setting", k, keys));
    std::string base = "fast";
    override_field(j, "name", base, source);
    Protocol p = named_protocol(base, source);
    override_field(j, "functional", p.functional, source);
    override_field(j, "precision", p.precision, source);
    override_field(j, "kpoint_spacing", p.kpoint_spacing, source);
    override_field(j, "smearing", p.smearing, source);
    override_field(j, "scf_tolerance", p.scf_tolerance, source);
    override_field(j, "max_scf", p.max_scf, source);
    override_field(j, "fmax", p.fmax, source);
    override_field(j, "max_relax_steps", p.max_relax_steps, source);
    if (!(p.kpoint_spacing > 0)) throw InputError(source, "protocol.kpoint_spacing", "must be > 0 (Å^-1)");
    if (p.smearing < 0) throw InputError(source, "protocol.smearing", "must be >= 0 (eV)");
    if (!(p.fmax > 0)) throw InputError(source, "protocol.fmax", "must be > 0 (eV/Å)");
    if (p.max_scf < 1) throw InputError(source, "protocol.max_scf", "must be >= 1");
    if (p.max_relax_steps < 1) throw InputError(source, "protocol.max_relax_steps", "must be >= 1");
    return p;
}

const char* to_string(CalculationKind k) {
    return k == CalculationKind::Relaxation ? "relaxation" : "single_point";
}

double CalculationResult::max_force() const {
    double m = 0;
    for (std::size_t i = 0; i < forces.size(); ++i) {
        if (i < structure.size() && structure[i].fixed) continue;
        m = std::max(m, forces[i].norm());
    }
    return m;
}

}  // namespace interphase::plugins

namespace interphase::plugins {

nlohmann::json CalculationResult::to_json() const {
    nlohmann::json f = nlohmann::json::array();
    for (const auto& v : forces) f.push_back({v[0], v[1], v[2]});
    return {{"energy_eV", energy},
            {"forces_eV_per_A", f},
            {"structure", structures::to_json(structure)},
            {"scf_converged", scf_converged},
            {"geometry_converged", geometry_converged},
            {"ionic_steps", ionic_steps},
            {"code", code},
            {"code_version", code_version}};
}

CalculationResult CalculationResult::from_json(const nlohmann::json& j) {
    CalculationResult r;
    r.energy = j.at("energy_eV").get<double>();
    for (const auto& v : j.at("forces_eV_per_A"))
        r.forces.emplace_back(v[0].get<double>(), v[1].get<double>(), v[2].get<double>());
    r.structure = structures::structure_from_json(j.at("structure"), "stored result");
    r.scf_converged = j.at("scf_converged").get<bool>();
    r.geometry_converged = j.at("geometry_converged").get<bool>();
    r.ionic_steps = j.at("ionic_steps").get<int>();
    r.code = j.at("code").get<std::string>();
    r.code_version = j.at("code_version").get<std::string>();
    return r;
}

CalculatorRegistry& CalculatorRegistry::instance() {
    static CalculatorRegistry registry;
    return registry;
}

const CalculatorInfo& CalculatorRegistry::info(const std::string& name, const std::string& source) const {
    return at(name, source, "calculator.code");
}

std::unique_ptr<Calculator> CalculatorRegistry::create(const std::string& name, const nlohmann::json& config,
                                                       const std::string& source) const {
    return info(name, source).create(config, source);
}

}  // namespace interphase::plugins
