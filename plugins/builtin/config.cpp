#include "plugins/builtin/config.hpp"

#include <algorithm>
#include <cmath>

#include "common/errors.hpp"
#include "common/text.hpp"

namespace interphase::plugins::builtin::config {

std::string field(const std::string& key) { return "calculator." + key; }

void check_keys(const nlohmann::json& config, const std::vector<std::string>& known, const std::string& what,
                const std::string& source) {
    if (config.is_null()) return;
    if (!config.is_object()) throw InputError(source, "calculator", "must be a mapping of " + what + " settings");
    for (const auto& [key, value] : config.items()) {
        if (key == "code") continue;
        if (std::find(known.begin(), known.end(), key) == known.end())
            throw InputError(source, field(key), text::unknown_name_message(what + " setting", key, known));
    }
}

double number(const nlohmann::json& config, const std::string& key, double fallback, const std::string& source) {
    if (!config.is_object() || !config.contains(key)) return fallback;
    const auto& v = config.at(key);
    if (!v.is_number()) throw InputError(source, field(key), "must be a number, got " + v.dump());
    const double x = v.get<double>();
    if (!std::isfinite(x)) throw InputError(source, field(key), "must be finite");
    return x;
}

double positive(const nlohmann::json& config, const std::string& key, double fallback, const std::string& source,
                bool allow_zero) {
    const double x = number(config, key, fallback, source);
    if (allow_zero ? x < 0 : !(x > 0))
        throw InputError(source, field(key), std::string("must be ") + (allow_zero ? ">= 0" : "> 0") + ", got " +
                                                 nlohmann::json(x).dump());
    return x;
}

bool boolean(const nlohmann::json& config, const std::string& key, bool fallback, const std::string& source) {
    if (!config.is_object() || !config.contains(key)) return fallback;
    const auto& v = config.at(key);
    if (!v.is_boolean()) throw InputError(source, field(key), "must be true or false, got " + v.dump());
    return v.get<bool>();
}

}  // namespace interphase::plugins::builtin::config
