#include "engine/neb_task.hpp"

#include <csignal>
#include <exception>
#include <fmt/format.h>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "engine/drivers/neb.hpp"
#include "engine/hash.hpp"
#include "engine/runner.hpp"
#include "plugins/potential.hpp"
#include "structures/neb_path.hpp"
#include "structures/sites.hpp"

namespace interphase::engine {

namespace fs = std::filesystem;
namespace st = interphase::structures;

namespace {

// Writes `j` to `path` through a temporary file and a rename: a killed engine leaves either the
// old or the new file, never half of one.
void write_json_atomically(const fs::path& path, const nlohmann::json& j) { write_file_atomically(path, j.dump()); }

std::optional<nlohmann::json> read_json(const fs::path& path) {
    std::ifstream in(path);
    if (!in) return std::nullopt;
    try {
        return nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception&) {
        return std::nullopt;  // a torn file cannot exist (atomic writes), but never trust the disk
    }
}

}  // namespace

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

nlohmann::json run_neb_task(const Task& t, const Inputs& in, const std::string& hash, const drivers::ForceProvider& forces,
                            const fs::path& folder, const std::function<void(const std::string&)>& say) {
    const auto& p = t.params;
    const auto options = drivers::neb_options_from_json(p.value("options", nlohmann::json::object()), t.name);
    const auto& path_out = task_input(in, "path", t);
    std::vector<st::Structure> path;
    for (const auto& j : path_out.at("images")) path.push_back(st::structure_from_json(j, t.name + " path"));

    // The state of an interrupted attempt of this very task (same hash) is the restart point;
    // anything else in the folder belongs to another task identity and goes.
    const fs::path state_file = folder / "neb_state.json";
    std::optional<drivers::NebResult> previous;
    if (auto saved = read_json(state_file)) {
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
    for (const char* k : {"host", "hop", "from", "to"})
        if (p.contains(k)) out[k] = p.at(k);
    return out;
}

drivers::ForceProvider parallel_in_process(const plugins::Potential& potential, int threads) {
    const int n_threads = std::max(1, threads);
    return [&potential, n_threads](const std::vector<st::Structure>& batch) {
        std::vector<plugins::EnergyForces> out(batch.size());
        std::vector<std::exception_ptr> errors(batch.size());
        const std::size_t workers = std::min<std::size_t>(static_cast<std::size_t>(n_threads), batch.size());
        auto work = [&](std::size_t first) {
            for (std::size_t i = first; i < batch.size(); i += workers) {
                try {
                    out[i] = potential.compute(batch[i]);
                } catch (...) {
                    errors[i] = std::current_exception();
                }
            }
        };
        if (workers <= 1) {
            work(0);
        } else {
            std::vector<std::thread> pool;
            for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work, w);
            work(0);
            for (auto& th : pool) th.join();
        }
        for (const auto& e : errors)
            if (e) std::rethrow_exception(e);  // the first failing image, in batch order
        return out;
    };
}

namespace {

nlohmann::json energy_forces_json(const plugins::CalculationResult& r) { return r.to_json(); }

plugins::EnergyForces energy_forces_from(const nlohmann::json& j) {
    plugins::EnergyForces ef;
    ef.energy = j.at("energy_eV").get<double>();
    for (const auto& f : j.at("forces_eV_per_A")) ef.forces.emplace_back(f[0].get<double>(), f[1].get<double>(), f[2].get<double>());
    return ef;
}

}  // namespace

drivers::ForceProvider executor_forces(ExecutorForces spec) {
    if (!spec.calculator || !spec.executor) throw Error("executor_forces needs a calculator and an executor");
    return [spec](const std::vector<st::Structure>& batch) {
        const auto& calc = *spec.calculator;
        auto& exec = *spec.executor;
        const int cores = std::max(1, std::min(spec.cores_per_image, exec.capacity()));
        const nlohmann::json settings{{"code", calc.name()}, {"settings", calc.hashed_settings()},
                                      {"plugin_version", calc.plugin_version()}, {"protocol", spec.protocol.to_json()}};
        std::vector<plugins::EnergyForces> out(batch.size());
        struct Image {
            std::size_t index;
            fs::path dir;
            plugins::CalculationRequest request;
        };
        std::vector<Image> todo;
        for (std::size_t i = 0; i < batch.size(); ++i) {
            // Named by content: the same structure under the same settings is the same calculation.
            const std::string key =
                content_hash({{"structure", st::to_json(batch[i])}, {"calculator", settings}}).substr(0, 16);
            const fs::path dir = spec.folder / "images" / key;
            if (auto done = read_json(dir / "result.json")) {
                out[i] = energy_forces_from(*done);
                continue;
            }
            plugins::CalculationRequest req;
            req.structure = batch[i];
            req.kind = plugins::CalculationKind::SinglePoint;
            req.protocol = spec.protocol;
            req.label = fmt::format("{} image {}", spec.task, key);
            todo.push_back({i, dir, std::move(req)});
        }
        std::map<std::string, Image> running;
        std::size_t next = 0;
        while (next < todo.size() || !running.empty()) {
            if (spec.interrupted && spec.interrupted()) throw NebInterrupted{};
            while (next < todo.size() && exec.free_cores() >= cores) {
                Image& im = todo[next++];
                if (fs::exists(im.dir)) stop_orphaned_calculation(im.dir);
                fs::remove_all(im.dir);  // a folder without result.json is a stale attempt
                fs::create_directories(im.dir);
                calc.write_inputs(im.request, im.dir);
                const auto launch = calc.launch(im.dir, cores);
                cluster::Job job;
                job.id = fmt::format("{}#{}", spec.task, im.dir.filename().string());
                job.argv = launch.argv;
                job.workdir = im.dir;
                job.cores = launch.cores;
                job.stdout_path = im.dir / launch.stdout_file;
                job.stderr_path = im.dir / launch.stderr_file;
                job.environment = launch.environment;
                exec.submit(job);
                if (auto pg = exec.process_group(job.id)) std::ofstream(im.dir / "process_group") << *pg << "\n";
                if (spec.started) spec.started(job.id, im.dir);
                running.emplace(job.id, im);
            }
            for (const auto& o : exec.wait(std::chrono::milliseconds(200))) {
                auto it = running.find(o.id);
                if (it == running.end()) {
                    if (spec.foreign) spec.foreign(o);
                    continue;
                }
                const Image im = std::move(it->second);
                running.erase(it);
                if (!o.error.empty()) throw ExecutionError(o.error);
                // Parse even after a non-zero exit: the code's own message is the useful one.
                const auto result = calc.parse(im.request, im.dir);
                if (!o.succeeded())
                    throw ExecutionError(fmt::format("{} ended with {} (see {})", im.request.label, o.describe(),
                                                     (im.dir / "stderr.txt").string()));
                write_json_atomically(im.dir / "result.json", energy_forces_json(result));
                out[im.index] = energy_forces_from(energy_forces_json(result));
            }
        }
        return out;
    };
}

}  // namespace interphase::engine
