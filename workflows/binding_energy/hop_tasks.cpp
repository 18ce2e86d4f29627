#include "workflows/binding_energy/tasks.hpp"

#include <fmt/format.h>
#include <limits>

#include "structures/neb_path.hpp"
#include "structures/sites.hpp"

namespace interphase::workflows::binding_energy {

namespace st = interphase::structures;
using engine::Inputs;
using engine::output_structure;
using engine::Task;
using engine::task_input;

nlohmann::json build_hop_endpoint(const Task& t, const Inputs& in) {
    const auto slab = output_structure(task_input(in, "slab", t), t.name);
    const auto& p = t.params;
    const std::string species = p.at("species").get<std::string>();
    const std::string from_name = p.at("from").get<std::string>(), to_name = p.at("to").get<std::string>();
    const auto sites = st::find_adsorption_sites(slab);
    const auto& from = st::select_site(sites, from_name, t.name);
    st::Structure s;
    std::string description;
    if (p.at("end") == "initial") {
        s = st::add_adsorbate(slab, from, species);
        description = fmt::format("{} on {}", species, from.name);
    } else if (from_name == to_name) {
        // Between equivalent sites: the nearest other copy (StructureError when the cell is too
        // small for an unambiguous hop).
        const auto hop = st::adsorbate_hop(slab, from, species);
        s = hop.final;
        description = hop.description;
    } else {
        const auto& to = st::select_site(sites, to_name, t.name);
        const Eigen::Vector3d f0 = slab.to_fractional(from.position);
        std::size_t copy = 0;
        double best = std::numeric_limits<double>::infinity();
        for (std::size_t q = 0; q < to.equivalent_positions.size(); ++q) {
            const double d = slab.minimum_image(f0, slab.to_fractional(to.equivalent_positions[q])).norm();
            if (d < best - 1e-9) {
                best = d;
                copy = q;
            }
        }
        s = st::add_adsorbate(slab, to, species, 0.0, copy);
        description = fmt::format("{} from {} to the nearest {} ({:.3f} Å in plane)", species, from.name, to.name, best);
    }
    s[s.size() - 1].label = "mobile";
    return {{"structure", st::to_json(s)}, {"description", description}, {"moving_atom", s.size() - 1}};
}

}  // namespace interphase::workflows::binding_energy
