#include "workflows/neb/band.hpp"

#include <algorithm>

#include "common/errors.hpp"
#include "engine/drivers/neb.hpp"
#include "workflows/neb/neb_tasks.hpp"

namespace interphase::workflows::neb {

const std::vector<std::string>& band_keys() {
    static const std::vector<std::string> keys{"images",       "method",         "mic",      "climb", "climb_after",
                                               "optimizer",    "fmax",           "spring",   "max_iterations",
                                               "max_step",     "fire",           "bfgs",     "lbfgs"};
    return keys;
}

void read_band_settings(const WorkflowReader& r, const YAML::Node& h, const std::string& p, BandSettings& hop) {
    if (h["images"]) {
        hop.images = r.integer(h["images"], p + ".images");
        if (hop.images < 1 || hop.images > 50)
            r.fail(h["images"], p + ".images", fmt::format("must be between 1 and 50 intermediate images (got {})", hop.images));
    }
    if (h["method"]) {
        hop.method = r.str(h["method"], p + ".method");
        if (hop.method != "linear" && hop.method != "idpp")
            r.fail(h["method"], p + ".method", text::unknown_name_message("path method", hop.method, {"linear", "idpp"}));
    }
    if (h["mic"]) hop.mic = r.get<bool>(h["mic"], p + ".mic", "true or false");
    // The driver's own keys, validated by the driver (field names as in docs/drivers.md).
    for (const char* k : {"climb", "climb_after", "optimizer", "fmax", "spring", "max_iterations", "max_step", "fire",
                          "bfgs", "lbfgs"})
        if (h[k]) hop.options[k] = to_json(h[k], r, p + "." + k);
    try {
        engine::drivers::neb_options_from_json(hop.options, r.where(h));
    } catch (const InputError& e) {
        const std::string key = e.field().substr(0, e.field().find('.'));
        std::string msg = e.what();
        if (const auto at = msg.find("': "); at != std::string::npos) msg = msg.substr(at + 3);
        r.fail(h[key] ? h[key] : h, p + "." + e.field(), msg);
    }
}


constexpr double kMaxBandFmax = 0.05;  // eV/Å

void add_band_tasks(engine::TaskGraph& g, const std::string& base, const std::string& initial, const std::string& final,
                    const BandSettings& band, nlohmann::json params, const plugins::Protocol& protocol) {
    g.add({base + "/path", kBuildNebPath, {{"images", band.images}, {"method", band.method}, {"mic", band.mic}},
           {{"initial", initial}, {"final", final}}});
    auto options = band.options;
    // A barrier needs a converged band whatever the relaxations' threshold: at most 0.05 eV/Å
    // unless the hop says otherwise (docs/protocols.md).
    if (!options.contains("fmax")) options["fmax"] = std::min(protocol.fmax, kMaxBandFmax);
    params["options"] = options;
    g.add({base + "/neb", kNeb, params, {{"path", base + "/path"}}});
}

}  // namespace interphase::workflows::neb
