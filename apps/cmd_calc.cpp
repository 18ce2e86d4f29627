// calc and neb: one structure (single point or relaxation) or one band (CI-NEB) computed by the
// engine itself. Each command writes a small workflow (`workflow: calculation` / `workflow: neb`,
// docs/workflow.md) and runs it like `interphase run`: the same calculators, executor, store,
// cache and crash safety. The run folder is a throw-away one in the temporary directory, removed
// at the end, unless --run-dir names one (kept, and `interphase resume DIR` continues it).
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fmt/format.h>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unistd.h>

#include "apps/command.hpp"
#include "common/errors.hpp"
#include "common/text.hpp"
#include "workflows/results.hpp"
#include "engine/runner.hpp"
#include "engine/store.hpp"
#include "workflows/run.hpp"
#include "workflows/workflow_file.hpp"
#include "plugins/calculator.hpp"
#include "structures/io.hpp"

namespace fs = std::filesystem;

namespace interphase::cli {
namespace {

// Options shared by calc and neb.
struct Common {
    std::string calculator, run_dir, protocol = "fast", cache;
    double fmax = 0.05;
    int cores = 0;
    bool json = false, verbose = false;
};

void add_common(CLI::App* cmd, Common& c) {
    cmd->add_option("--calculator", c.calculator, "Calculator: emt, lj, morse (builtin, in process) or cp2k")->required();
    cmd->add_option("--protocol", c.protocol, "Protocol name for external codes: fast, standard, precise");
    cmd->add_option("--run-dir", c.run_dir, "Keep the run folder here (default: a temporary folder, removed at the end)");
    cmd->add_option("--cores", c.cores, "Core budget (default: all cores)")->check(CLI::Range(1, 100000));
    cmd->add_option("--cache", c.cache, "Result cache shared across runs (default: $INTERPHASE_CACHE)");
    cmd->add_flag("--json", c.json, "One JSON document on stdout instead of text");
    cmd->add_flag("-v,--verbose", c.verbose, "The engine's progress lines on stderr");
}

// Checks made before anything is written: each a one-line InputError naming the file or option.
void check_calculator(const std::string& command, const std::string& name) {
    plugins::CalculatorRegistry::instance().at(name, command, "--calculator");
}

std::string check_file(const std::string& file) {
    if (!fs::exists(file)) throw InputError(file, "", "no such structure file");
    if (fs::is_directory(file)) throw InputError(file, "", "is a folder, not a structure file");
    structures::read_structure(file);  // ParseError / StructureError name the file (and line)
    return fs::absolute(file).lexically_normal().string();
}

// The run folder: the user's (kept) or a fresh temporary one (removed when the command ends).
class RunFolder {
public:
    RunFolder(const std::string& given, const std::string& command) {
        if (!given.empty()) {
            path_ = fs::absolute(given).lexically_normal();
            return;
        }
        std::string tmpl = (fs::temp_directory_path() / ("interphase-" + command + "-XXXXXX")).string();
        if (!::mkdtemp(tmpl.data())) throw StorageError("cannot create a temporary run folder in " + fs::temp_directory_path().string());
        path_ = tmpl;
        temporary_ = true;
    }
    ~RunFolder() {
        std::error_code ec;
        if (temporary_) fs::remove_all(path_, ec);
    }
    RunFolder(const RunFolder&) = delete;
    RunFolder& operator=(const RunFolder&) = delete;
    const fs::path& path() const { return path_; }
    bool temporary() const { return temporary_; }

private:
    fs::path path_;
    bool temporary_ = false;
};

// Runs the generated workflow; returns the store's output of `task`, or throws with the task's error.
nlohmann::json run_one(const nlohmann::json& workflow, const RunFolder& folder, const Common& c, const std::string& task) {
    const std::string yaml = workflow.dump(2) + "\n";  // JSON is YAML
    const auto spec = workflows::parse_workflow(yaml, folder.path() / "workflow.yaml");
    engine::RunOptions opt;
    opt.run_dir = folder.path();
    opt.cores = c.cores;
    opt.quiet = !c.verbose;
    if (!c.cache.empty()) opt.cache = fs::path(c.cache);
    std::ostringstream discard;
    const auto summary = workflows::run_workflow(spec, opt, c.verbose ? std::cerr : static_cast<std::ostream&>(discard));
    engine::RunStore store(folder.path());
    if (summary.interrupted) throw Error("interrupted" + (folder.temporary() ? std::string() : "; `interphase resume " +
                                                                                              folder.path().string() + "` continues"));
    if (auto out = store.output_of(task)) return *out;
    for (const auto& t : store.tasks())
        if (!t.error.empty() && t.state == engine::state::kFailed) {
            // A build that fails (end points that do not match, atoms on top of each other) is
            // bad input (exit 2); a failed calculation or band is a failed run (exit 1).
            if (t.kind.rfind("build", 0) == 0) throw StructureError(t.error);
            throw CalculationError(CalculationError::Reason::Crashed, t.error);
        }
    throw Error(fmt::format("the engine did not finish task '{}' (see `interphase status {}`)", task, folder.path().string()));
}

nlohmann::json protocol_json(const Common& c, int max_relax_steps) {
    return {{"name", c.protocol}, {"fmax", c.fmax}, {"max_relax_steps", max_relax_steps}};
}

double free_fmax(const nlohmann::json& forces, const nlohmann::json& structure) {
    double m = 0;
    const auto& atoms = structure.at("atoms");
    for (std::size_t i = 0; i < forces.size() && i < atoms.size(); ++i) {
        if (atoms[i].value("fixed", false)) continue;
        const double f = std::sqrt(std::pow(forces[i][0].get<double>(), 2) + std::pow(forces[i][1].get<double>(), 2) +
                                   std::pow(forces[i][2].get<double>(), 2));
        m = std::max(m, f);
    }
    return m;
}

void add_calc_command(CLI::App& app, Commands& commands) {
    struct Options : Common {
        std::string file, output;
        bool relax = false;
        int steps = 1000;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("calc", "Energy, forces and stress of one structure, or its relaxation (--relax)");
    cmd->add_option("FILE", o->file, "Structure file (POSCAR, CIF, extended XYZ)")->required();
    add_common(cmd, *o);
    cmd->add_flag("--relax", o->relax, "Relax the free atoms (the cell is kept) and write the relaxed structure");
    cmd->add_option("--fmax", o->fmax, "Relaxation threshold on free atoms (eV/Å, default 0.05)")->check(CLI::PositiveNumber);
    cmd->add_option("--steps", o->steps, "Relaxation steps at most (default 1000)")->check(CLI::Range(1, 1000000));
    cmd->add_option("-o,--output", o->output, "Relaxed structure file (default: <FILE stem>-relaxed.xyz)");
    commands.push_back({cmd, [o] {
        const std::string file = check_file(o->file);
        check_calculator("calc", o->calculator);
        const fs::path output = o->output.empty() ? fs::path(fs::path(o->file).stem().string() + "-relaxed.xyz") : fs::path(o->output);
        const RunFolder folder(o->run_dir, "calc");
        const nlohmann::json wf{{"name", "calc"},
                                {"workflow", "calculation"},
                                {"calculator", {{"code", o->calculator}}},
                                {"protocol", protocol_json(*o, o->steps)},
                                {"structure", file},
                                {"relax", o->relax}};
        const std::string task = o->relax ? "structure/relax" : "structure/single_point";
        const auto out = run_one(wf, folder, *o, task);
        const auto s = structures::structure_from_json(out.at("structure"), task);
        if (o->relax) structures::write_structure(output, s);
        const auto& forces = out.at("forces_eV_per_A");
        const double fmax = free_fmax(forces, out.at("structure"));
        if (o->json) {
            nlohmann::json j{{"file", file},
                             {"calculator", o->calculator},
                             {"code_version", out.value("code_version", "")},
                             {"calculation", o->relax ? "relaxation" : "single_point"},
                             {"atoms", s.size()},
                             {"formula", s.formula()},
                             {"energy_eV", out.at("energy_eV")},
                             {"forces_eV_per_A", forces},
                             {"fmax_eV_per_A", fmax},
                             {"stress_eV_per_A3", out.value("stress_eV_per_A3", nlohmann::json())}};
            if (o->relax) {
                j["converged"] = out.value("geometry_converged", false);
                j["steps"] = out.value("ionic_steps", 0);
                j["structure"] = out.at("structure");
                j["output"] = output.string();
            }
            if (!folder.temporary()) j["run_dir"] = folder.path().string();
            std::cout << j.dump(2) << "\n";
            return 0;
        }
        std::cout << fmt::format("{} ({}, {} atoms), {} {}\n", o->file, s.formula(), s.size(), o->calculator,
                                 o->relax ? "relaxation" : "single point");
        std::cout << fmt::format("energy   {:.6f} eV\n", out.at("energy_eV").get<double>());
        std::cout << fmt::format("fmax     {:.4f} eV/Å (free atoms)\n", fmax);
        if (out.contains("stress_eV_per_A3")) {
            const auto& st = out.at("stress_eV_per_A3");
            // Voigt order as ASE: xx yy zz yz xz xy.
            std::cout << fmt::format("stress   {:.6f} {:.6f} {:.6f} {:.6f} {:.6f} {:.6f} eV/Å³ (xx yy zz yz xz xy)\n",
                                     st[0][0].get<double>(), st[1][1].get<double>(), st[2][2].get<double>(),
                                     st[1][2].get<double>(), st[0][2].get<double>(), st[0][1].get<double>());
        }
        std::cout << "forces (eV/Å):\n";
        for (std::size_t i = 0; i < s.size() && i < forces.size(); ++i)
            std::cout << fmt::format("{:5} {:<3} {:12.6f} {:12.6f} {:12.6f}{}\n", i + 1, s[i].species, forces[i][0].get<double>(),
                                     forces[i][1].get<double>(), forces[i][2].get<double>(), s[i].fixed ? "  fixed" : "");
        if (o->relax)
            std::cout << fmt::format("relaxed in {} steps to fmax {:.4f} < {} eV/Å; wrote {}\n", out.value("ionic_steps", 0), fmax,
                                     o->fmax, output.string());
        if (!folder.temporary()) std::cout << fmt::format("run folder {}\n", folder.path().string());
        return 0;
    }});
}

void add_neb_command(CLI::App& app, Commands& commands) {
    struct Options : Common {
        std::string start, end, method = "idpp", optimizer = "lbfgs", saddle;
        int images = 0, max_iterations = 1000;
        double spring = 0.1;
        bool climb = false, no_mic = false;
    };
    auto o = std::make_shared<Options>();
    auto* cmd = app.add_subcommand("neb", "Migration barrier between two relaxed end points (CI-NEB with --climb)");
    cmd->add_option("START", o->start, "Initial state (structure file, relaxed)")->required();
    cmd->add_option("END", o->end, "Final state (the same atoms in the same order, relaxed)")->required();
    cmd->add_option("--images", o->images, "Intermediate images N (the band has N + 2)")->required();
    add_common(cmd, *o);
    cmd->add_flag("--climb", o->climb, "Climbing image (CI-NEB): the highest image climbs to the saddle");
    cmd->add_option("--fmax", o->fmax, "Convergence on the NEB force (eV/Å, default 0.05)")->check(CLI::PositiveNumber);
    cmd->add_option("--method", o->method, "Initial path: idpp (default) or linear");
    cmd->add_option("--optimizer", o->optimizer, "Band optimizer: lbfgs (default), fire or bfgs");
    cmd->add_option("--spring", o->spring, "Spring constant (eV/Å², default 0.1)")->check(CLI::PositiveNumber);
    cmd->add_option("--max-iterations", o->max_iterations, "Optimizer steps at most (default 1000)")->check(CLI::Range(0, 1000000));
    cmd->add_flag("--no-mic", o->no_mic, "Take END - START as written instead of the minimum image");
    cmd->add_option("--saddle", o->saddle, "Write the saddle (highest) image to this structure file");
    commands.push_back({cmd, [o] {
        // Every option is checked before anything runs: one line naming the file or option.
        if (o->images < 1) throw InputError("neb", "--images", fmt::format("must be at least 1 (got {})", o->images));
        if (o->images > 50) throw InputError("neb", "--images", fmt::format("must be at most 50 (got {})", o->images));
        const std::string start = check_file(o->start), end = check_file(o->end);
        check_calculator("neb", o->calculator);
        const std::string method = text::to_lower(o->method), optimizer = text::to_lower(o->optimizer);
        if (method != "idpp" && method != "linear")
            throw InputError("neb", "--method", text::unknown_name_message("path method", o->method, {"idpp", "linear"}));
        if (optimizer != "lbfgs" && optimizer != "fire" && optimizer != "bfgs")
            throw InputError("neb", "--optimizer", text::unknown_name_message("optimizer", o->optimizer, {"lbfgs", "fire", "bfgs"}));
        const RunFolder folder(o->run_dir, "neb");
        const nlohmann::json wf{{"name", "neb"},
                                {"workflow", "neb"},
                                {"calculator", {{"code", o->calculator}}},
                                {"protocol", protocol_json(*o, 100)},
                                {"start", start},
                                {"end", end},
                                {"neb",
                                 {{"images", o->images},
                                  {"method", method},
                                  {"mic", !o->no_mic},
                                  {"climb", o->climb},
                                  {"optimizer", optimizer},
                                  {"fmax", o->fmax},
                                  {"spring", o->spring},
                                  {"max_iterations", o->max_iterations}}}};
        const auto out = run_one(wf, folder, *o, "band/neb");
        const auto saddle = structures::structure_from_json(out.at("saddle"), "saddle");
        if (!o->saddle.empty()) structures::write_structure(o->saddle, saddle);
        const bool converged = out.at("converged").get<bool>();
        if (o->json) {
            nlohmann::json j{{"start", start},
                             {"end", end},
                             {"calculator", o->calculator},
                             {"images", o->images},
                             {"method", method},
                             {"optimizer", optimizer},
                             {"climb", o->climb},
                             {"fmax_target_eV_per_A", o->fmax},
                             {"reaction_coordinate_A", out.at("reaction_coordinate")},
                             {"energy_eV", out.at("energy_profile_eV")},
                             {"total_energy_eV", out.at("energies_eV")},
                             {"forward_barrier_eV", out.at("forward_barrier_eV")},
                             {"reverse_barrier_eV", out.at("reverse_barrier_eV")},
                             {"saddle_index", out.at("saddle_index")},
                             {"saddle", out.at("saddle")},
                             {"climbing", out.at("climbing")},
                             {"converged", converged},
                             {"fmax_eV_per_A", out.at("fmax")},
                             {"iterations", out.at("iterations")},
                             {"force_calls", out.at("force_calls")}};
            if (!folder.temporary()) j["run_dir"] = folder.path().string();
            std::cout << j.dump(2) << "\n";
        } else {
            std::cout << fmt::format("{}NEB {} -> {}: {} images ({} path), {}, optimizer {}\n", o->climb ? "CI-" : "", o->start,
                                     o->end, o->images, method, o->calculator, optimizer);
            std::cout << "image  reaction coordinate (Å)  energy (eV)\n";
            const auto& rc = out.at("reaction_coordinate");
            const auto& e = out.at("energy_profile_eV");
            const std::size_t imax = out.at("saddle_index").get<std::size_t>();
            for (std::size_t k = 0; k < e.size(); ++k)
                std::cout << fmt::format("{:5}  {:23.4f}  {:11.4f}{}\n", k, rc[k].get<double>(), e[k].get<double>(),
                                         k == imax ? (out.at("climbing").get<bool>() ? "  <- saddle (climbing image)" : "  <- highest")
                                                   : "");
            std::cout << fmt::format("forward barrier  {:.4f} eV\nreverse barrier  {:.4f} eV\n",
                                     out.at("forward_barrier_eV").get<double>(), out.at("reverse_barrier_eV").get<double>());
            std::cout << fmt::format("{} (fmax {:.4f} eV/Å, target {}), {} iterations, {} force calls\n",
                                     converged ? "converged" : "NOT converged", out.at("fmax").get<double>(), o->fmax,
                                     out.at("iterations").get<int>(), out.at("force_calls").get<long>());
            if (!o->saddle.empty()) std::cout << fmt::format("wrote the saddle image to {}\n", o->saddle);
            if (!folder.temporary()) std::cout << fmt::format("run folder {}\n", folder.path().string());
        }
        if (!converged) {
            std::cerr << fmt::format("interphase: error: the band did not converge to fmax {} eV/Å in {} iterations\n", o->fmax,
                                     o->max_iterations);
            return 1;
        }
        return 0;
    }});
}

}  // namespace

void add_calc_commands(CLI::App& app, Commands& commands) {
    add_calc_command(app, commands);
    add_neb_command(app, commands);
}

}  // namespace interphase::cli
