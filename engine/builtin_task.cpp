#include "engine/builtin_task.hpp"

#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "common/errors.hpp"
#include "common/files.hpp"

namespace interphase::engine {

namespace fs = std::filesystem;

namespace {
constexpr const char* kTaskFile = "builtin_task.json";
constexpr const char* kResultFile = "result.json";

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    if (!in) throw InputError(p.string(), "", "cannot read the file");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

void write_atomically(const fs::path& target, const std::string& text) { write_file_atomically(target, text); }

CalculationError::Reason reason_from_name(const std::string& name) {
    using R = CalculationError::Reason;
    for (R r : {R::ScfNotConverged, R::GeometryNotConverged, R::Crashed, R::Truncated, R::Missing})
        if (name == CalculationError::reason_name(r)) return r;
    return R::Crashed;
}
}  // namespace

void write_builtin_task(const fs::path& dir, const std::string& code, const nlohmann::json& config,
                        const std::string& source, const plugins::CalculationRequest& req) {
    const nlohmann::json j{{"calculator", {{"code", code}, {"config", config}, {"source", source}}},
                           {"request",
                            {{"structure", structures::to_json(req.structure)},
                             {"kind", plugins::to_string(req.kind)},
                             {"protocol", req.protocol.to_json()},
                             {"charge", req.charge},
                             {"spin_multiplicity", req.spin_multiplicity},
                             {"label", req.label}}}};
    write_atomically(dir / kTaskFile, j.dump(1) + "\n");
}

int run_builtin_task(const fs::path& dir) {
    const fs::path file = dir / kTaskFile;
    const auto j = nlohmann::json::parse(slurp(file), nullptr, false);
    if (j.is_discarded() || !j.contains("calculator") || !j.contains("request"))
        throw InputError(file.string(), "", "not a builtin task file");
    const auto& c = j.at("calculator");
    const auto calc = plugins::CalculatorRegistry::instance().create(c.at("code").get<std::string>(), c.at("config"),
                                                                    c.value("source", file.string()));
    if (!calc->potential())
        throw InputError(file.string(), "calculator.code",
                         fmt::format("'{}' is not a builtin potential", c.at("code").get<std::string>()));
    const auto& r = j.at("request");
    plugins::CalculationRequest req;
    req.structure = structures::structure_from_json(r.at("structure"), file.string());
    req.kind = r.at("kind").get<std::string>() == "relaxation" ? plugins::CalculationKind::Relaxation
                                                                : plugins::CalculationKind::SinglePoint;
    req.protocol = plugins::Protocol::from_json(r.at("protocol"), file.string());
    req.charge = r.value("charge", 0);
    req.spin_multiplicity = r.value("spin_multiplicity", 0);
    req.label = r.value("label", std::string());
    nlohmann::json out;
    int status = 0;
    try {
        out = {{"ok", true}, {"result", evaluate_builtin(*calc, req)}};
    } catch (const CalculationError& e) {
        out = {{"ok", false}, {"reason", CalculationError::reason_name(e.reason())}, {"message", e.what()}};
        status = 1;
    }
    write_atomically(dir / kResultFile, out.dump() + "\n");
    return status;
}

nlohmann::json read_builtin_output(const fs::path& dir) {
    const fs::path file = dir / kResultFile;
    std::error_code ec;
    if (!fs::exists(file, ec))
        throw CalculationError(CalculationError::Reason::Missing,
                               fmt::format("{} was not written (see stderr.txt there)", file.string()));
    const auto j = nlohmann::json::parse(slurp(file), nullptr, false);
    if (j.is_discarded() || !j.contains("ok"))
        throw CalculationError(CalculationError::Reason::Truncated, fmt::format("{} is not valid", file.string()));
    if (!j.at("ok").get<bool>())
        throw CalculationError(reason_from_name(j.value("reason", "crashed")), j.value("message", "builtin task failed"));
    return j.at("result");
}

std::vector<std::string> builtin_task_argv(const fs::path& dir, const std::string& interphase_binary) {
    std::string exe = interphase_binary;
    if (exe.empty())
        if (const char* env = std::getenv("INTERPHASE_BINARY"); env && *env) exe = env;
    if (exe.empty()) {
        std::error_code ec;
        exe = fs::read_symlink("/proc/self/exe", ec).string();
        if (ec || exe.empty()) throw ExecutionError("cannot find this interphase executable (/proc/self/exe); set INTERPHASE_BINARY");
    }
    return {exe, "calc-task", fs::absolute(dir).string()};
}

}  // namespace interphase::engine
