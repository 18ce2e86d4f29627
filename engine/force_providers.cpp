#include "engine/force_providers.hpp"

#include <csignal>
#include <exception>
#include <fmt/format.h>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "common/errors.hpp"
#include "common/files.hpp"
#include "common/json_files.hpp"
#include "engine/hash.hpp"
#include "engine/runner.hpp"
#include "plugins/potential.hpp"

namespace interphase::engine {

namespace fs = std::filesystem;
namespace st = interphase::structures;

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
        nlohmann::json settings{{"code", calc.name()}, {"settings", calc.hashed_settings()},
                                {"plugin_version", calc.plugin_version()}, {"protocol", spec.protocol.to_json()}};
        // Only when set, so that image folders of earlier runs keep their names.
        if (spec.electronic != plugins::Electronic::Unknown) settings["electronic"] = plugins::to_string(spec.electronic);
        if (spec.slab) settings["slab"] = true;
        if (spec.spin != plugins::SpinTreatment::Auto) settings["spin"] = plugins::to_string(spec.spin);
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
            if (auto done = read_json_file(dir / "result.json")) {
                out[i] = energy_forces_from(*done);
                continue;
            }
            plugins::CalculationRequest req;
            req.structure = batch[i];
            req.kind = plugins::CalculationKind::SinglePoint;
            req.protocol = spec.protocol;
            req.electronic = spec.electronic;
            req.slab = spec.slab;
            req.spin = spec.spin;
            req.label = fmt::format("{} image {}", spec.task, key);
            todo.push_back({i, dir, std::move(req)});
        }
        std::map<std::string, Image> running;
        std::size_t next = 0;
        while (next < todo.size() || !running.empty()) {
            if (spec.interrupted && spec.interrupted()) throw DriverInterrupted{};
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
