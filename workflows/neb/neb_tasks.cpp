#include "workflows/neb/neb_tasks.hpp"

#include <fmt/format.h>
#include <fstream>
#include <optional>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "common/json_files.hpp"
#include "engine/drivers/neb.hpp"
#include "structures/neb_path.hpp"

namespace interphase::workflows::neb {

namespace fs = std::filesystem;
namespace st = interphase::structures;
using engine::Inputs;
using engine::Task;
using engine::task_input;
using engine::output_structure;
namespace drivers = engine::drivers;

nlohmann::json build_neb_path(const Task& t, const Inputs& in) {
    const auto initial = output_structure(task_input(in, "initial", t), t.name + " (initial)");
    const auto final = output_structure(task_input(in, "final", t), t.name + " (final)");
    const auto& p = t.params;
    st::PathOptions po;
    po.images = p.at("images").get<int>();
    po.method = st::parse_path_method(p.value("method", std::string("idpp")), t.name);
    po.mic = p.value("mic", true);
    const auto path = st::interpolate_path(initial, final, po);
    const double threshold = p.value("min_distance", 1.0);
    if (threshold > 0) st::check_path_distances(path.images, threshold);
    nlohmann::json images = nlohmann::json::array();
    for (const auto& s : path.images) images.push_back(st::to_json(s));
    nlohmann::json out{{"images", images}, {"method", st::to_string(path.method)}, {"mic", po.mic}};
    if (path.method == st::PathMethod::Idpp)
        out["idpp"] = {{"steps", path.idpp_steps}, {"converged", path.idpp_converged}, {"fmax", path.idpp_fmax}};
    return out;
}

nlohmann::json run_neb_task(const Task& t, const Inputs& in, const engine::DriverContext& context) {
    const std::string& hash = context.hash;
    const fs::path& folder = context.folder;
    const auto& forces = context.forces;
    const auto& say = context.say;
    const auto& p = t.params;
    const auto options = drivers::neb_options_from_json(p.value("options", nlohmann::json::object()), t.name);
    const auto& path_out = task_input(in, "path", t);
    std::vector<st::Structure> path;
    for (const auto& j : path_out.at("images")) path.push_back(st::structure_from_json(j, t.name + " path"));

    // The state of an interrupted attempt of this very task (same hash) is the restart point;
    // anything else in the folder belongs to another task identity and goes.
    const fs::path state_file = folder / "neb_state.json";
    std::optional<drivers::NebResult> previous;
    if (auto saved = read_json_file(state_file)) {
        if (saved->value("hash", "") == hash && saved->contains("state"))
            previous = drivers::neb_result_from_json(saved->at("state"), state_file.string());
        else
            fs::remove_all(folder);
    }
    fs::create_directories(folder);
    write_json_atomically(folder / "task.json", {{"task", t.name}, {"hash", hash}, {"params", p}});
    const drivers::NebObserver observer = [&](const drivers::NebResult& r) {
        write_json_atomically(state_file, {{"hash", hash}, {"state", drivers::to_json(r)}});
    };

    drivers::NebResult r;
    std::optional<int> resumed_from;
    if (previous && previous->converged) {
        r = *previous;
        resumed_from = r.iterations;
    } else if (previous) {
        resumed_from = previous->iterations;
        if (say)
            say(fmt::format("resume {} from its saved band (iteration {}, {} force calls, fmax {:.4f} eV/Å)", t.name,
                            previous->iterations, previous->force_calls, previous->fmax));
        auto o = options;
        o.max_iterations = std::max(0, options.max_iterations - previous->iterations);
        r = drivers::resume_neb(*previous, o, forces, observer);
    } else {
        r = drivers::run_neb(path, options, forces, observer);
    }

    nlohmann::json profile = nlohmann::json::array(), band = nlohmann::json::array();
    for (double e : r.energies) profile.push_back(e - r.energies.front());
    for (const auto& s : r.images) band.push_back(st::to_json(s));
    nlohmann::json out{{"images", static_cast<int>(r.images.size()) - 2},
                       {"method", path_out.value("method", "")},
                       {"optimizer", drivers::to_string(options.optimizer)},
                       {"climb", options.climb},
                       {"spring", options.spring},
                       {"fmax_target", options.fmax},
                       {"reaction_coordinate", r.reaction_coordinate},
                       {"energies_eV", r.energies},
                       {"energy_profile_eV", profile},
                       {"image_fmax", r.image_fmax},
                       {"forward_barrier_eV", r.forward_barrier},
                       {"reverse_barrier_eV", r.reverse_barrier},
                       {"saddle_index", r.saddle_index},
                       {"saddle", st::to_json(r.saddle())},
                       {"band", band},
                       {"fmax", r.fmax},
                       {"climbing", r.climbing},
                       {"converged", r.converged},
                       {"iterations", r.iterations},
                       {"force_calls", r.force_calls},
                       {"resumed_from_iteration", resumed_from ? nlohmann::json(*resumed_from) : nlohmann::json()}};
    for (const char* k : {"host", "hop", "from", "to", "across_interface", "mechanism"})
        if (p.contains(k)) out[k] = p.at(k);
    return out;
}

}  // namespace interphase::workflows::neb

namespace interphase::workflows::neb {

engine::TaskKind build_neb_path_kind() {
    engine::TaskKind k;
    k.name = kBuildNebPath;
    k.description = "the initial band (linear or IDPP) between two relaxed end points";
    k.run = build_neb_path;
    return k;
}

engine::TaskKind neb_kind() {
    engine::TaskKind k;
    k.name = kNeb;
    k.description = "CI-NEB on a band: images on threads (builtin potentials) or as jobs (external codes)";
    k.runs = engine::TaskKind::Runs::ForceDriver;
    k.drive = run_neb_task;
    k.depends_on_calculator = true;  // a band's energies come from the calculator, as a calculation's
    k.shared_in_cache = true;
    k.done_line = [](const engine::Task&, const nlohmann::json& out) {
        return fmt::format("E_a = {:.3f} eV, reverse {:.3f} eV ({} iterations, {} force calls{})",
                           out.at("forward_barrier_eV").get<double>(), out.at("reverse_barrier_eV").get<double>(),
                           out.at("iterations").get<int>(), out.at("force_calls").get<long>(),
                           out.at("converged").get<bool>() ? "" : ", NOT converged");
    };
    return k;
}

}  // namespace interphase::workflows::neb
