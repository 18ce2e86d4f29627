#include "plugins/calculator.hpp"

#include <cmath>
#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/text.hpp"

namespace interphase::plugins {

namespace {
// The named protocols (docs/protocols.md has the measured distance of each from convergence).
// The CP2K plugin maps `precision` to basis, pseudopotential, cutoffs and grids; the k-point
// spacings are Å^-1 with 2π, metals (and metal|insulator interfaces) on the denser one.
// The named protocols, one row each (docs/protocols.md says why each value). `plumbing` is for
// tests of the machinery (restart, recovery, executors): its numbers are not science (SZV has no
// p functions for Li).
struct NamedProtocol {
    const char* name;
    double kpoint_spacing, kpoint_spacing_metal, smearing, scf_tolerance, fmax;
    int max_relax_steps;
};
constexpr NamedProtocol kNamedProtocols[] = {
    //  name        k insul.  k metal  σ (eV)  SCF tol  fmax  max steps
    {"plumbing", 0.50, 0.50, 0.10, 1e-5, 0.10, 60},
    {"fast", 0.30, 0.20, 0.03, 1e-6, 0.05, 200},
    {"standard", 0.25, 0.15, 0.03, 1e-6, 0.03, 300},
    {"precise", 0.20, 0.10, 0.01, 1e-7, 0.02, 400},
};

std::vector<std::string> protocol_names() {
    std::vector<std::string> names;
    for (const auto& row : kNamedProtocols) names.emplace_back(row.name);
    return names;
}

Protocol named_protocol(const std::string& name, const std::string& source) {
    for (const auto& row : kNamedProtocols) {
        if (name != row.name) continue;
        Protocol p;
        p.name = name;
        p.precision = name;
        p.kpoint_spacing = row.kpoint_spacing;
        p.kpoint_spacing_metal = row.kpoint_spacing_metal;
        p.smearing = row.smearing;
        p.scf_tolerance = row.scf_tolerance;
        p.fmax = row.fmax;
        p.max_relax_steps = row.max_relax_steps;
        return p;
    }
    throw InputError(source, "protocol", text::unknown_name_message("protocol", name, protocol_names()));
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
    auto j = identity_v1();
    j["kpoint_spacing_metal"] = kpoint_spacing_metal;
    j["dispersion"] = dispersion;
    return j;
}

nlohmann::json Protocol::identity_v1() const {
    return {{"name", name},         {"functional", functional},       {"precision", precision},
            {"kpoint_spacing", kpoint_spacing}, {"smearing", smearing}, {"scf_tolerance", scf_tolerance},
            {"max_scf", max_scf},   {"fmax", fmax},                   {"max_relax_steps", max_relax_steps}};
}

Protocol Protocol::from_json(const nlohmann::json& j, const std::string& source) {
    if (j.is_string()) return named_protocol(j.get<std::string>(), source);
    if (!j.is_object()) throw InputError(source, "protocol", "must be a name or a mapping");
    static const std::vector<std::string> keys{"name",          "functional", "precision", "kpoint_spacing",
                                               "kpoint_spacing_metal", "smearing", "scf_tolerance", "max_scf",
                                               "fmax",          "max_relax_steps", "dispersion"};
    for (const auto& [k, v] : j.items())
        if (std::find(keys.begin(), keys.end(), k) == keys.end())
            throw InputError(source, "protocol." + k, text::unknown_name_message("protocol setting", k, keys));
    std::string base = "fast";
    override_field(j, "name", base, source);
    Protocol p = named_protocol(base, source);
    override_field(j, "functional", p.functional, source);
    override_field(j, "precision", p.precision, source);
    override_field(j, "kpoint_spacing", p.kpoint_spacing, source);
    // One spacing given alone applies to every system, as it did before the per-character
    // spacings existed (a stored protocol of an older run means the same as when it ran).
    if (j.contains("kpoint_spacing") && !j.contains("kpoint_spacing_metal")) p.kpoint_spacing_metal = p.kpoint_spacing;
    override_field(j, "kpoint_spacing_metal", p.kpoint_spacing_metal, source);
    override_field(j, "smearing", p.smearing, source);
    override_field(j, "scf_tolerance", p.scf_tolerance, source);
    override_field(j, "max_scf", p.max_scf, source);
    override_field(j, "fmax", p.fmax, source);
    override_field(j, "max_relax_steps", p.max_relax_steps, source);
    override_field(j, "dispersion", p.dispersion, source);
    if (const auto names = protocol_names(); std::find(names.begin(), names.end(), p.precision) == names.end())
        throw InputError(source, "protocol.precision", text::unknown_name_message("precision", p.precision, names));
    if (!(p.kpoint_spacing > 0)) throw InputError(source, "protocol.kpoint_spacing", "must be > 0 (Å^-1)");
    if (!(p.kpoint_spacing_metal > 0)) throw InputError(source, "protocol.kpoint_spacing_metal", "must be > 0 (Å^-1)");
    if (p.smearing < 0) throw InputError(source, "protocol.smearing", "must be >= 0 (eV)");
    if (!(p.scf_tolerance > 0)) throw InputError(source, "protocol.scf_tolerance", "must be > 0");
    if (!(p.fmax > 0)) throw InputError(source, "protocol.fmax", "must be > 0 (eV/Å)");
    if (p.max_scf < 1) throw InputError(source, "protocol.max_scf", "must be >= 1");
    if (p.max_relax_steps < 1) throw InputError(source, "protocol.max_relax_steps", "must be >= 1");
    if (p.dispersion != "none" && p.dispersion != "d3bj")
        throw InputError(source, "protocol.dispersion", text::unknown_name_message("dispersion", p.dispersion, {"none", "d3bj"}));
    return p;
}

const char* to_string(Electronic e) {
    switch (e) {
        case Electronic::Metal: return "metal";
        case Electronic::Insulator: return "insulator";
        case Electronic::Unknown: break;
    }
    return "unknown";
}

const char* to_string(SpinTreatment s) {
    switch (s) {
        case SpinTreatment::Restricted: return "restricted";
        case SpinTreatment::Unrestricted: return "unrestricted";
        case SpinTreatment::Auto: break;
    }
    return "auto";
}

Electronic electronic_from_string(const std::string& name, const std::string& source, const std::string& field) {
    if (name == "metal") return Electronic::Metal;
    if (name == "insulator") return Electronic::Insulator;
    throw InputError(source, field, text::unknown_name_message("electronic character", name, {"metal", "insulator"}));
}

SpinTreatment spin_from_string(const std::string& name, const std::string& source, const std::string& field) {
    if (name == "auto") return SpinTreatment::Auto;
    if (name == "restricted") return SpinTreatment::Restricted;
    if (name == "unrestricted") return SpinTreatment::Unrestricted;
    throw InputError(source, field, text::unknown_name_message("spin treatment", name, {"auto", "restricted", "unrestricted"}));
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
    nlohmann::json j{{"energy_eV", energy},
                     {"forces_eV_per_A", f},
                     {"structure", structures::to_json(structure)},
                     {"scf_converged", scf_converged},
                     {"geometry_converged", geometry_converged},
                     {"ionic_steps", ionic_steps},
                     {"code", code},
                     {"code_version", code_version}};
    // Only electronic-structure codes have them: an in-process potential's output keeps the
    // layout (and the stored outputs) it always had.
    if (free_energy) j["free_energy_eV"] = *free_energy;
    if (!physics.empty()) j["physics"] = physics;
    return j;
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
    if (j.contains("free_energy_eV")) r.free_energy = j.at("free_energy_eV").get<double>();
    if (j.contains("physics")) r.physics = j.at("physics");
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
