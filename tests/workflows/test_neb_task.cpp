// The neb task kind (workflows/neb/neb_tasks.hpp, images from engine/force_providers.hpp) without the CLI: the same band on 1 or 4 threads
// is the same bit for bit; an "external code" (a fake calculator whose jobs run through the
// local executor and whose parser computes EMT) gives the same result as the in-process path,
// one job per image in its own folder, and finished image jobs are reused; a band interrupted
// after a few iterations resumes from its saved state; hop end points and paths build.
#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cluster/local_executor.hpp"
#include "common/errors.hpp"
#include "engine/drivers/relax.hpp"
#include "engine/force_providers.hpp"
#include "workflows/binding_energy/names.hpp"
#include "workflows/neb/neb_tasks.hpp"
#include "engine/runner.hpp"
#include "engine/store.hpp"
#include "workflows/run.hpp"
#include "workflows/workflow_file.hpp"
#include "plugins/builtin/emt.hpp"
#include "structures/io.hpp"
#include "structures/prototypes.hpp"
#include "structures/slab.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;
using namespace interphase;
using namespace interphase::engine;
using namespace interphase::workflows;

namespace {

// The neb task kind's entry point with its context spelled out, as the runner fills it.
nlohmann::json run_neb_task(const Task& t, const Inputs& in, const std::string& hash, engine::drivers::ForceProvider forces,
                            const fs::path& folder, engine::Say say) {
    return workflows::neb::run_neb_task(t, in, {hash, std::move(forces), folder, std::move(say)});
}

const plugins::builtin::Emt& emt() {
    static const plugins::builtin::Emt e;
    return e;
}

// A relaxed Al(100) 3x3 slab, two planes fixed (the engine's own builders and relaxation).
nlohmann::json relaxed_slab() {
    structures::SlabSpec spec;
    spec.miller = {1, 0, 0};
    spec.layers = 3;
    spec.supercell = {3, 3};
    spec.vacuum = 10;
    spec.fix_bottom_layers = 2;
    const auto slab = structures::build_slab(structures::build_bulk("Al"), spec);
    drivers::RelaxOptions o;
    o.optimizer = drivers::RelaxOptimizer::Lbfgs;
    o.fmax = 0.01;
    return {{"structure", structures::to_json(drivers::relax(slab, drivers::in_process(emt()), o).structure)}};
}

nlohmann::json relaxed(const nlohmann::json& out) {
    drivers::RelaxOptions o;
    o.optimizer = drivers::RelaxOptimizer::Lbfgs;
    o.fmax = 0.01;
    const auto s = structures::structure_from_json(out.at("structure"), "end point");
    return {{"structure", structures::to_json(drivers::relax(s, drivers::in_process(emt()), o).structure)}};
}

// Hop end points and the band, through the task kinds of a `hops:` entry.
nlohmann::json band(int images) {
    const auto slab = relaxed_slab();
    Inputs in{{"slab", slab}};
    Task ti{"h/initial", workflows::binding_energy::kinds::kBuildHopEndpoint, {{"from", "4fold_hollow"}, {"to", "4fold_hollow"}, {"species", "Au"}, {"end", "initial"}}, {}};
    Task tf = ti;
    tf.params["end"] = "final";
    const auto initial = relaxed(run_in_process(ti, in));
    const auto final = relaxed(run_in_process(tf, in));
    Task tp{"h/path", workflows::neb::kBuildNebPath, {{"images", images}, {"method", "idpp"}, {"mic", true}}, {}};
    return run_in_process(tp, {{"initial", initial}, {"final", final}});
}

Task neb_task(nlohmann::json options) {
    return {"h/neb", workflows::neb::kNeb, {{"options", std::move(options)}, {"host", "Al(100)"}, {"hop", "4fold_hollow-4fold_hollow"}}, {}};
}

// An "external code": inputs written to the folder, a real process started by the executor, and
// a parser that computes EMT on the structure it wrote.
class FakeCode : public plugins::Calculator {
public:
    std::string name() const override { return "fake"; }
    std::string plugin_version() const override { return "1"; }
    nlohmann::json hashed_settings() const override { return nlohmann::json::object(); }
    void check_available() const override {}
    void write_inputs(const plugins::CalculationRequest& r, const fs::path& dir) const override {
        std::ofstream(dir / "in.json") << structures::to_json(r.structure).dump();
    }
    plugins::LaunchSpec launch(const fs::path& dir, int cores) const override {
        plugins::LaunchSpec l;
        l.argv = {"/bin/true"};
        l.workdir = dir;
        l.cores = cores;
        ++launches;
        return l;
    }
    plugins::CalculationResult parse(const plugins::CalculationRequest&, const fs::path& dir) const override {
        std::ifstream in(dir / "in.json");
        const auto s = structures::structure_from_json(nlohmann::json::parse(in), dir.string());
        const auto ef = emt().compute(s);
        plugins::CalculationResult r;
        r.energy = ef.energy;
        r.forces = ef.forces;
        r.structure = s;
        r.scf_converged = r.geometry_converged = true;
        r.code = "fake";
        return r;
    }
    mutable std::atomic<int> launches{0};
};

}  // namespace

TEST_CASE("hop end points: the adatom on the site and on its nearest copy; the band between them") {
    const auto path = band(3);
    REQUIRE(path.at("images").size() == 5);
    const auto a = structures::structure_from_json(path.at("images").front(), "a");
    const auto b = structures::structure_from_json(path.at("images").back(), "b");
    CHECK(a[a.size() - 1].species == "Au");
    // Neighbouring hollows of Al(100): a/√2 ≈ 2.86 Å apart (within relaxation noise).
    CHECK(a.minimum_image(a[a.size() - 1].frac, b[b.size() - 1].frac).norm() == doctest::Approx(2.86).epsilon(0.03));
    CHECK(path.at("method") == "idpp");
    // A site that is not on the slab: the error lists the ones found.
    Task bad{"h/initial", workflows::binding_energy::kinds::kBuildHopEndpoint, {{"from", "fcc_hollow"}, {"to", "fcc_hollow"}, {"species", "Au"}, {"end", "initial"}}, {}};
    CHECK_THROWS_AS(run_in_process(bad, {{"slab", relaxed_slab()}}), InputError);
}

TEST_CASE("neb task: in-process threads, deterministic; an external code through the executor gives the same band") {
    const auto path = band(3);
    const Inputs in{{"path", path}};
    const auto task = neb_task({{"climb", true}, {"fmax", 0.05}, {"optimizer", "lbfgs"}});
    const auto dir = testing::scratch("neb-task");
    const auto one = run_neb_task(task, in, "h1", parallel_in_process(emt(), 1), dir / "one", {});
    const auto four = run_neb_task(task, in, "h1", parallel_in_process(emt(), 4), dir / "four", {});
    CHECK(one.at("converged").get<bool>());
    CHECK(one.at("forward_barrier_eV").get<double>() > 0.05);
    CHECK(one.dump() == four.dump());  // bit for bit
    CHECK(one.at("energy_profile_eV").at(0).get<double>() == 0.0);
    CHECK(one.at("host") == "Al(100)");
    CHECK(fs::exists(dir / "one/neb_state.json"));

    FakeCode code;
    cluster::LocalExecutor exec(2);
    ExecutorForces spec;
    spec.calculator = &code;
    spec.executor = &exec;
    spec.cores_per_image = 1;
    spec.folder = dir / "external";
    spec.task = "h/neb";
    const auto ext = run_neb_task(task, in, "h1", executor_forces(spec), dir / "external", {});
    CHECK(ext.at("forward_barrier_eV").get<double>() == one.at("forward_barrier_eV").get<double>());
    CHECK(ext.at("iterations") == one.at("iterations"));
    // One job per image evaluation, each in its own folder; none repeated.
    const long calls = ext.at("force_calls").get<long>();
    CHECK(code.launches.load() <= calls);
    std::size_t folders = 0;
    for (const auto& e : fs::directory_iterator(dir / "external/images")) {
        ++folders;
        CHECK(fs::exists(e.path() / "result.json"));
    }
    CHECK(static_cast<long>(folders) == code.launches.load());

    // Finished image jobs are reused: the same batch again starts no job.
    const int before = code.launches.load();
    std::vector<structures::Structure> batch;
    for (const auto& j : ext.at("band")) batch.push_back(structures::structure_from_json(j, "band"));
    batch.erase(batch.begin());
    batch.pop_back();
    executor_forces(spec)(batch);
    CHECK(code.launches.load() == before);
    // A finished task folder with the same hash returns the saved result without a force call.
    const auto again = run_neb_task(task, in, "h1", [](const std::vector<structures::Structure>&) -> std::vector<plugins::EnergyForces> {
        throw Error("no force call expected");
    }, dir / "external", {});
    CHECK(again.at("forward_barrier_eV") == ext.at("forward_barrier_eV"));
}

TEST_CASE("neb task: interrupted after a few iterations, resumed from its saved band") {
    const auto path = band(5);
    const Inputs in{{"path", path}};
    const auto task = neb_task({{"climb", true}, {"fmax", 0.01}, {"optimizer", "fire"}});
    const auto dir = testing::scratch("neb-task-resume");
    const auto reference = run_neb_task(task, in, "h2", parallel_in_process(emt(), 2), dir / "reference", {});
    REQUIRE(reference.at("converged").get<bool>());

    // The "crash": the provider dies at its 15th batch.
    int batches = 0;
    const auto good = parallel_in_process(emt(), 2);
    const drivers::ForceProvider dying = [&](const std::vector<structures::Structure>& b) {
        if (++batches == 15) throw DriverInterrupted{};
        return good(b);
    };
    CHECK_THROWS_AS(run_neb_task(task, in, "h2", dying, dir / "crashed", {}), DriverInterrupted);
    std::vector<std::string> said;
    const auto resumed = run_neb_task(task, in, "h2", good, dir / "crashed", [&](const std::string& s) { said.push_back(s); });
    REQUIRE(said.size() == 1);
    CHECK(said[0].find("resume h/neb from its saved band (iteration 13") != std::string::npos);
    CHECK(resumed.at("resumed_from_iteration") == 13);
    CHECK(resumed.at("converged").get<bool>());
    CHECK(resumed.at("forward_barrier_eV").get<double>() ==
          doctest::Approx(reference.at("forward_barrier_eV").get<double>()).epsilon(2e-3));
    CHECK(resumed.at("saddle_index") == reference.at("saddle_index"));

    // Another identity (hash): the old state is discarded, the band starts afresh.
    const auto fresh = run_neb_task(task, in, "h3", good, dir / "crashed", {});
    CHECK(fresh.at("resumed_from_iteration").is_null());
    CHECK(fresh.dump() == reference.dump());
}

TEST_CASE("runner: a neb workflow with an external code runs every image as an executor job in its own folder") {
    // The fake code registered like a plugin: the runner cannot tell it from CP2K.
    static const bool registered = [] {
        plugins::CalculatorRegistry::instance().add(
            {"fake-ext", "test double of an external code", {"single_point"},
             [](const nlohmann::json&, const std::string&) -> std::unique_ptr<plugins::Calculator> {
                 return std::make_unique<FakeCode>();
             }});
        return true;
    }();
    CHECK(registered);
    const auto dir = testing::scratch("neb-runner-external");
    const auto path = band(3);
    structures::write_structure(dir / "start.xyz", structures::structure_from_json(path.at("images").front(), "start"));
    structures::write_structure(dir / "end.xyz", structures::structure_from_json(path.at("images").back(), "end"));
    auto run = [&](const std::string& code, const std::string& folder) {
        const std::string yaml = "name: ext\nworkflow: neb\ncalculator: {code: " + code +
                                 ", cores_per_task: 1}\nstart: start.xyz\nend: end.xyz\n"
                                 "neb: {images: 3, method: idpp, climb: true, fmax: 0.05}\n";
        const auto spec = parse_workflow(yaml, dir / "wf.yaml");
        std::ostringstream log;
        RunOptions opt;
        opt.run_dir = dir / folder;
        opt.cores = 2;
        const auto summary = run_workflow(spec, opt, log);
        INFO(log.str());
        REQUIRE(summary.ok());
        RunStore store(dir / folder);
        return store.output_of("band/neb").value();
    };
    const auto external = run("fake-ext", "external");
    const auto builtin = run("emt", "builtin");
    CHECK(external.at("converged").get<bool>());
    CHECK(external.at("forward_barrier_eV").get<double>() == builtin.at("forward_barrier_eV").get<double>());
    CHECK(external.at("force_calls") == builtin.at("force_calls"));
    // One folder per image evaluation under the task folder, each finished (result.json, stdout).
    std::size_t folders = 0;
    for (const auto& e : fs::directory_iterator(dir / "external/tasks" / task_folder_name("band/neb") / "images")) {
        ++folders;
        CHECK(fs::exists(e.path() / "result.json"));
        CHECK(fs::exists(e.path() / "in.json"));
    }
    CHECK(static_cast<long>(folders) == external.at("force_calls").get<long>());
    CHECK(fs::exists(dir / "external/tasks" / task_folder_name("band/neb") / "neb_state.json"));
}
