// The band of a migration barrier as a workflow file gives it — intermediate images, initial
// path (linear or IDPP, minimum image) and the CI-NEB driver's options — shared by the `neb:`
// block of `workflow: neb` and every entry of `hops:`; and the two tasks that make a band of
// two relaxed end points (neb_tasks.hpp).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "engine/graph.hpp"
#include "plugins/calculator.hpp"
#include "workflows/workflow_reader.hpp"

namespace interphase::workflows::neb {

struct BandSettings {
    int images = 5;                       ///< intermediate images
    std::string method = "idpp";          ///< initial path: "linear" | "idpp"
    bool mic = true;                      ///< minimum-image displacements between the end points
    /// NEB driver options (engine/drivers/neb.hpp, JSON form); `fmax` defaults to the protocol's.
    nlohmann::json options = nlohmann::json::object();
};

/// The keys read_band_settings reads (beside a hop's own keys).
const std::vector<std::string>& band_keys();

/// Reads the band keys of mapping `h` (field prefix `p`), validating the driver's options now.
void read_band_settings(const WorkflowReader& r, const YAML::Node& h, const std::string& p, BandSettings& band);

/// `<base>/path` (the initial band between the outputs of tasks `initial` and `final`) and
/// `<base>/neb` (CI-NEB, with `params` plus the driver options; fmax from the protocol unless
/// the band gives one).
void add_band_tasks(engine::TaskGraph& g, const std::string& base, const std::string& initial, const std::string& final,
                    const BandSettings& band, nlohmann::json params, const plugins::Protocol& protocol);

}  // namespace interphase::workflows::neb
