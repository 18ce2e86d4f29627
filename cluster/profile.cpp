#include "cluster/profile.hpp"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <regex>
#include <sstream>
#include <yaml-cpp/yaml.h>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "common/yaml_reader.hpp"

namespace interphase::cluster {

namespace {

// Reads profile YAML nodes with FILE:LINE in every error.
class Reader : public yaml::Reader {
public:
    using yaml::Reader::Reader;
    std::string str(const YAML::Node& n, const std::string& field) const {
        if (!n.IsScalar()) fail(n, field, "expected a string");
        const std::string s = n.Scalar();
        if (s.find_first_of("\n\r") != std::string::npos) fail(n, field, "must be one line");
        return s;
    }
    /// A single word (no blanks): partition, account and the like end up in #SBATCH lines.
    std::string word(const YAML::Node& n, const std::string& field) const {
        const auto s = str(n, field);
        if (s.empty() || s.find_first_of(" \t") != std::string::npos) fail(n, field, fmt::format("expected one word, got '{}'", s));
        return s;
    }
    int integer(const YAML::Node& n, const std::string& field, int lo, int hi) const {
        const auto v = n.IsScalar() ? text::parse_int(n.Scalar()) : std::nullopt;
        if (!v) fail(n, field, fmt::format("expected an integer, got '{}'", YAML::Dump(n)));
        if (*v < lo || *v > hi) fail(n, field, fmt::format("must be between {} and {}", lo, hi));
        return static_cast<int>(*v);
    }
    double number(const YAML::Node& n, const std::string& field, double lo, double hi) const {
        const auto v = n.IsScalar() ? text::parse_double(n.Scalar()) : std::nullopt;
        if (!v) fail(n, field, fmt::format("expected a number, got '{}'", YAML::Dump(n)));
        if (*v < lo || *v > hi) fail(n, field, fmt::format("must be between {} and {}", lo, hi));
        return *v;
    }
    std::vector<std::string> lines(const YAML::Node& n, const std::string& field) const {
        std::vector<std::string> out;
        if (n.IsScalar()) {
            out.push_back(str(n, field));
            return out;
        }
        if (!n.IsSequence()) fail(n, field, "expected a list of strings");
        for (std::size_t i = 0; i < n.size(); ++i) out.push_back(str(n[i], fmt::format("{}[{}]", field, i)));
        return out;
    }
};

}  // namespace

long walltime_seconds(const std::string& time) {
    // Slurm's forms: "minutes", "minutes:seconds", "hours:minutes:seconds", "days-hours[:minutes[:seconds]]".
    long days = 0;
    std::string rest = time;
    if (const auto dash = time.find('-'); dash != std::string::npos) {
        days = text::parse_int(time.substr(0, dash)).value_or(0);
        rest = time.substr(dash + 1);
    }
    std::vector<long> parts;
    for (std::size_t start = 0;;) {
        const auto colon = rest.find(':', start);
        parts.push_back(text::parse_int(rest.substr(start, colon == std::string::npos ? std::string::npos : colon - start))
                            .value_or(0));
        if (colon == std::string::npos) break;
        start = colon + 1;
    }
    long s = 0;
    if (days > 0) {
        const long h = parts.size() > 0 ? parts[0] : 0, m = parts.size() > 1 ? parts[1] : 0, sec = parts.size() > 2 ? parts[2] : 0;
        s = ((days * 24 + h) * 60 + m) * 60 + sec;
    } else if (parts.size() == 1) {
        s = parts[0] * 60;
    } else if (parts.size() == 2) {
        s = parts[0] * 60 + parts[1];
    } else {
        s = (parts[0] * 60 + parts[1]) * 60 + parts[2];
    }
    return s;
}

long ClusterProfile::walltime() const { return walltime_seconds(time); }

long ClusterProfile::max_walltime() const {
    return on_timeout.max_time.empty() ? 4 * walltime() : walltime_seconds(on_timeout.max_time);
}

std::vector<std::string> ClusterProfile::launch_argv(const std::vector<std::string>& argv, int cores) const {
    if (argv.empty()) return argv;
    const auto it = programs.find(std::filesystem::path(argv[0]).filename().string());
    if (it == programs.end()) return argv;
    const auto& p = it->second;
    const std::string exe = p.executable.empty() ? argv[0] : p.executable;
    if (p.launch.empty()) {
        auto out = argv;
        out[0] = exe;
        return out;
    }
    std::vector<std::string> out;
    for (const auto& w : text::split_ws(p.launch)) {
        if (w == "{args}") {
            out.insert(out.end(), argv.begin() + 1, argv.end());
            continue;
        }
        std::string word = w;
        for (const auto& [token, value] :
             {std::pair<std::string, std::string>{"{executable}", exe}, {"{cores}", std::to_string(cores)}})
            for (auto pos = word.find(token); pos != std::string::npos; pos = word.find(token, pos + value.size()))
                word.replace(pos, token.size(), value);
        out.push_back(word);
    }
    return out;
}

ClusterProfile parse_cluster_profile(const std::string& yaml_text, const std::string& source) {
    // Bounded, duplicate and non-scalar keys refused (the same loader as workflows).
    const YAML::Node root = yaml::load(yaml_text, source);
    Reader r(source);
    if (!root || root.IsNull()) throw InputError(source, "", "the cluster profile is empty");
    r.only_keys(root, "",
                {"scheduler", "partition", "account", "qos", "constraint", "time", "memory_per_cpu", "cores_per_task",
                 "setup", "environment", "programs", "sbatch_options", "max_queued_jobs", "array_throttle", "poll",
                 "max_resubmits", "interphase", "queue", "project", "pbs_flavor", "arrays", "tasks_per_job",
                 "on_timeout"});
    ClusterProfile p;
    p.source = source;
    if (auto n = root["scheduler"]) {
        p.scheduler = r.word(n, "scheduler");
        const std::vector<std::string> known{"slurm", "pbs", "lsf"};
        if (std::find(known.begin(), known.end(), p.scheduler) == known.end())
            r.fail(n, "scheduler", text::unknown_name_message("scheduler", p.scheduler, known));
    }
    if (auto n = root["partition"]) p.partition = r.word(n, "partition");
    if (auto n = root["account"]) p.account = r.word(n, "account");
    if (auto n = root["qos"]) p.qos = r.word(n, "qos");
    if (auto n = root["constraint"]) p.constraint = r.word(n, "constraint");
    if (auto n = root["queue"]) p.queue = r.word(n, "queue");
    if (auto n = root["project"]) p.project = r.word(n, "project");
    if (auto n = root["pbs_flavor"]) {
        p.pbs_flavor = r.word(n, "pbs_flavor");
        if (p.pbs_flavor != "pro" && p.pbs_flavor != "torque")
            r.fail(n, "pbs_flavor", fmt::format("expected pro or torque, got '{}'", p.pbs_flavor));
    }
    if (auto n = root["arrays"]) {
        const auto v = r.word(n, "arrays");
        if (v != "true" && v != "false") r.fail(n, "arrays", fmt::format("expected true or false, got '{}'", v));
        p.arrays = v == "true";
    }
    static const std::regex kTime(R"(^(\d+-)?\d{1,3}(:\d{2}){0,2}$)");
    if (auto n = root["time"]) {
        p.time = r.word(n, "time");
        if (!std::regex_match(p.time, kTime)) r.fail(n, "time", fmt::format("expected [D-]HH:MM:SS or minutes, got '{}'", p.time));
        if (walltime_seconds(p.time) < 60) r.fail(n, "time", "must be at least one minute");
    }
    if (auto n = root["tasks_per_job"]) p.tasks_per_job = r.integer(n, "tasks_per_job", 1, 100000);
    if (auto n = root["on_timeout"]) {
        r.only_keys(n, "on_timeout", {"restarts", "time_factor", "max_time"});
        if (auto v = n["restarts"]) p.on_timeout.restarts = r.integer(v, "on_timeout.restarts", 0, 100);
        if (auto v = n["time_factor"]) p.on_timeout.time_factor = r.number(v, "on_timeout.time_factor", 1.01, 100);
        if (auto v = n["max_time"]) {
            p.on_timeout.max_time = r.word(v, "on_timeout.max_time");
            if (!std::regex_match(p.on_timeout.max_time, kTime))
                r.fail(v, "on_timeout.max_time",
                       fmt::format("expected [D-]HH:MM:SS or minutes, got '{}'", p.on_timeout.max_time));
            if (walltime_seconds(p.on_timeout.max_time) < walltime_seconds(p.time))
                r.fail(v, "on_timeout.max_time", fmt::format("must be at least `time` ({})", p.time));
        }
    }
    if (auto n = root["memory_per_cpu"]) {
        p.memory_per_cpu = r.word(n, "memory_per_cpu");
        static const std::regex kMem(R"(^\d+[KMGT]?$)");
        if (!std::regex_match(p.memory_per_cpu, kMem))
            r.fail(n, "memory_per_cpu", fmt::format("expected a size such as 2000M or 4G, got '{}'", p.memory_per_cpu));
    }
    if (auto n = root["cores_per_task"]) p.cores_per_task = r.integer(n, "cores_per_task", 1, 100000);
    if (auto n = root["setup"]) p.setup = r.lines(n, "setup");
    if (auto n = root["environment"]) {
        if (!n.IsMap()) r.fail(n, "environment", "expected a mapping NAME: value");
        static const std::regex kName(R"(^[A-Za-z_][A-Za-z0-9_]*$)");
        for (const auto& kv : n) {
            const auto key = kv.first.as<std::string>();
            if (!std::regex_match(key, kName)) r.fail(kv.first, "environment." + key, "not a valid variable name");
            p.environment[key] = r.str(kv.second, "environment." + key);
        }
    }
    if (auto n = root["programs"]) {
        if (!n.IsMap()) r.fail(n, "programs", "expected a mapping: program name -> {executable, launch}");
        for (const auto& kv : n) {
            const auto name = kv.first.as<std::string>();
            const std::string field = "programs." + name;
            ProgramProfile prog;
            if (kv.second.IsScalar()) {
                prog.executable = r.word(kv.second, field);
            } else {
                r.only_keys(kv.second, field, {"executable", "launch"});
                if (auto e = kv.second["executable"]) prog.executable = r.word(e, field + ".executable");
                if (auto l = kv.second["launch"]) {
                    prog.launch = r.str(l, field + ".launch");
                    const auto words = text::split_ws(prog.launch);
                    if (std::find(words.begin(), words.end(), "{executable}") == words.end())
                        r.fail(l, field + ".launch", "the launch template must contain the word {executable}");
                }
            }
            p.programs[name] = prog;
        }
    }
    if (auto n = root["sbatch_options"]) {
        p.sbatch_options = r.lines(n, "sbatch_options");
        for (std::size_t i = 0; i < p.sbatch_options.size(); ++i) {
            const auto& o = p.sbatch_options[i];
            if (o.rfind("-", 0) != 0 || o.find_first_of(" \t") != std::string::npos)
                r.fail(n.IsSequence() ? n[i] : n, fmt::format("sbatch_options[{}]", i),
                       fmt::format("expected one option word such as --begin=now+5, got '{}'", o));
            for (const char* reserved : {"--array", "-a", "--parsable", "--output", "-o", "--error", "-e", "--wrap"})
                if (o == reserved || o.rfind(std::string(reserved) + "=", 0) == 0)
                    r.fail(n.IsSequence() ? n[i] : n, fmt::format("sbatch_options[{}]", i),
                           fmt::format("'{}' is set by the executor itself", reserved));
        }
    }
    if (auto n = root["max_queued_jobs"]) p.max_queued_jobs = r.integer(n, "max_queued_jobs", 1, 1000000);
    if (auto n = root["array_throttle"]) p.array_throttle = r.integer(n, "array_throttle", 0, 1000000);
    if (auto n = root["poll"]) {
        r.only_keys(n, "poll", {"interval", "max_interval", "backoff"});
        if (auto v = n["interval"]) p.poll_interval = r.number(v, "poll.interval", 0.05, 3600);
        if (auto v = n["max_interval"]) p.poll_max_interval = r.number(v, "poll.max_interval", 0.05, 3600);
        if (auto v = n["backoff"]) p.poll_backoff = r.number(v, "poll.backoff", 1, 10);
        if (p.poll_max_interval < p.poll_interval)
            r.fail(n, "poll.max_interval", fmt::format("must be at least poll.interval ({})", p.poll_interval));
    }
    if (auto n = root["max_resubmits"]) p.max_resubmits = r.integer(n, "max_resubmits", 0, 100);
    if (auto n = root["interphase"]) p.interphase = r.str(n, "interphase");
    return p;
}

ClusterProfile load_cluster_profile(const std::filesystem::path& file) {
    std::ifstream in(file);
    if (!in) throw InputError(file.string(), "", "cannot read the cluster profile");
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_cluster_profile(ss.str(), file.string());
}

}  // namespace interphase::cluster
