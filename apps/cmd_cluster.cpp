// `interphase cluster check PROFILE`: is this cluster profile usable from here? And the hidden
// `interphase calc-task TASK_DIR` that batch jobs run for builtin calculations (engine/builtin_task.hpp).
#include <fmt/format.h>
#include <fstream>
#include <iostream>
#include <memory>
#include <unistd.h>

#include "apps/command.hpp"
#include "cluster/profile.hpp"
#include "cluster/slurm_executor.hpp"
#include "common/errors.hpp"
#include "common/text.hpp"
#include "engine/builtin_task.hpp"

namespace fs = std::filesystem;

namespace interphase::cli {
namespace {

bool executable_file(const fs::path& p) {
    std::error_code ec;
    return fs::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
}

std::optional<fs::path> on_path(const std::string& name) {
    if (name.find('/') != std::string::npos) return executable_file(name) ? std::optional<fs::path>(name) : std::nullopt;
    const char* path = std::getenv("PATH");
    std::string rest = path ? path : "/usr/local/bin:/usr/bin:/bin";
    while (true) {
        const auto colon = rest.find(':');
        const fs::path candidate = fs::path(rest.substr(0, colon).empty() ? "." : rest.substr(0, colon)) / name;
        if (executable_file(candidate)) return candidate;
        if (colon == std::string::npos) return std::nullopt;
        rest = rest.substr(colon + 1);
    }
}

int cluster_check(const std::string& profile_file, const std::string& run_dir) {
    const auto p = cluster::load_cluster_profile(profile_file);  // FILE:LINE: field errors
    int problems = 0;
    auto report = [&](bool ok, const std::string& what) {
        std::cout << (ok ? "ok    " : "FAIL  ") << what << "\n";
        if (!ok) ++problems;
    };
    std::cout << fmt::format("cluster profile {} (scheduler {})\n", profile_file, p.scheduler);

    // The scheduler answers, and the partition exists (Slurm; PBS and LSF: their commands are found).
    const auto sinfo = p.scheduler == "slurm" ? cluster::run_command({"sinfo", "-h", "-o", "%P %a %D %T"}) : cluster::CommandResult{};
    if (p.scheduler == "slurm")
        report(sinfo.status == 0, sinfo.status == 0 ? "sinfo answers" : "sinfo: " + text::trim(sinfo.err.empty() ? "not found on PATH" : sinfo.err));
    if (sinfo.status == 0 && !p.partition.empty()) {
        bool found = false;
        for (const auto& line : text::split_ws(sinfo.out))
            if (line == p.partition || line == p.partition + "*") found = true;
        report(found, fmt::format("partition '{}' exists", p.partition));
    }
    const std::vector<std::string> commands =
        p.scheduler == "pbs"   ? std::vector<std::string>{"qsub", "qstat", "qdel"}
        : p.scheduler == "lsf" ? std::vector<std::string>{"bsub", "bjobs", "bkill"}
                               : std::vector<std::string>{"sbatch", "squeue", "scontrol", "scancel"};
    for (const auto& cmd : commands) report(on_path(cmd).has_value(), fmt::format("{} on PATH", cmd));

    // Programs: found here (the login node usually sees the compute nodes' software tree).
    for (const auto& [name, prog] : p.programs) {
        const std::string exe = prog.executable.empty() ? name : prog.executable;
        const auto found = on_path(exe);
        report(found.has_value(), fmt::format("program {}: executable '{}'{}", name, exe,
                                              found ? " at " + found->string() : " not found on PATH (checked on this node)"));
        if (!prog.launch.empty()) {
            const auto words = text::split_ws(prog.launch);
            if (!words.empty() && words[0] != "{executable}")
                report(on_path(words[0]).has_value(), fmt::format("program {}: launcher '{}'", name, words[0]));
        }
    }
    if (!p.interphase.empty())
        report(executable_file(p.interphase), fmt::format("interphase binary for builtin tasks: {}", p.interphase));

    // The run folder can be written (jobs write their outputs there).
    const fs::path dir = fs::absolute(run_dir.empty() ? fs::current_path() : fs::path(run_dir));
    std::error_code ec;
    fs::create_directories(dir, ec);
    const fs::path probe = dir / fmt::format(".interphase-write-test-{}", ::getpid());
    bool writable = false;
    {
        std::ofstream out(probe);
        out << "ok\n";
        writable = static_cast<bool>(out);
    }
    fs::remove(probe, ec);
    report(writable, fmt::format("run folder {} is writable", dir.string()));
    std::cout << (problems == 0 ? "the profile is usable\n" : fmt::format("{} problem(s)\n", problems));
    return problems == 0 ? 0 : 3;
}

}  // namespace

void add_cluster_commands(CLI::App& app, Commands& commands) {
    struct Options {
        std::string profile, run_dir, task_dir;
    };
    auto o = std::make_shared<Options>();
    auto* cluster = app.add_subcommand("cluster", "Batch clusters: check a cluster profile (docs/cluster.md)");
    cluster->require_subcommand(1);
    auto* check = cluster->add_subcommand("check", "Check a cluster profile: scheduler reachable, programs found, "
                                                   "run folder writable");
    check->add_option("PROFILE", o->profile, "Cluster profile YAML")->required();
    check->add_option("--run-dir", o->run_dir, "Folder the runs will use (default: the current folder)");
    commands.push_back({check, [o] { return cluster_check(o->profile, o->run_dir); }});

    // What a batch job runs for a builtin calculation; not for users (hidden from --help).
    auto* task = app.add_subcommand("calc-task", "Run one prepared builtin calculation (batch jobs)");
    task->group("");
    task->add_option("TASK_DIR", o->task_dir, "Task folder with builtin_task.json")->required();
    commands.push_back({task, [o] { return engine::run_builtin_task(o->task_dir); }});
}

}  // namespace interphase::cli
