// Hostile values against every generator of batch scripts: the Slurm array and bundle scripts,
// the PBS Pro, Torque and LSF scripts, and the MPI pilot script of `interphase submit`. Run
// folders, task folders, arguments, environment values and job names carry spaces, quotes,
// `$(touch PWNED)`, backticks, `;`, `#`, `%` and newlines followed by `touch PWNED;#`. Each
// generated script is EXECUTED with bash in a fake scheduler environment (SLURM_ARRAY_TASK_ID,
// PBS_ARRAY_INDEX, LSB_JOBINDEX; the program a recorder script, mpirun a fake one that records its
// arguments), and the tests check that no file named PWNED appears, that every directive line
// reads back as one option with its value intact (Slurm's own tokenizer rules, below), that
// every argument arrives as one word, and that a value no script line can carry (a newline in
// a directive, an environment name that is not a name) is refused with an InputError naming
// the field instead of being written.
#include <doctest/doctest.h>

#include <algorithm>
#include <fmt/format.h>
#include <functional>
#include <memory>
#include <fstream>
#include <regex>
#include <sstream>
#include <sys/wait.h>

#include "cluster/lsf_executor.hpp"
#include "cluster/pbs_executor.hpp"
#include "cluster/profile.hpp"
#include "cluster/script_text.hpp"
#include "cluster/slurm_executor.hpp"
#include "common/errors.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;
using namespace interphase;
using namespace interphase::cluster;
using interphase::testing::slurp;

namespace {

// A folder name a colleague's workflow or a careless --run-dir could produce, without a line break.
const std::string kHostile = "a b 'q' \"dq\" $(touch PWNED) `touch PWNED` ; touch PWNED #h %j";
// The same with a line break: whatever follows would be a command line of its own.
const std::string kNewline = "x\ntouch PWNED;#";

// The test's own quoting for the commands it runs (kept apart from the code under test).
std::string sq(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

// Runs `script_text` with bash in `cwd` with the fake scheduler variables `env`; its exit status.
int run_script(const fs::path& cwd, const std::string& script_text, const std::string& env) {
    std::ofstream(cwd / "job.sh") << script_text;
    const std::string cmd = "cd " + sq(cwd.string()) + " && " + env + " bash job.sh > job.log 2>&1";
    const int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Every file named PWNED under `root`.
std::vector<fs::path> pwned_under(const fs::path& root) {
    std::vector<fs::path> out;
    for (const auto& e : fs::recursive_directory_iterator(root))
        if (e.path().filename() == "PWNED") out.push_back(e.path());
    return out;
}

// A program that records its arguments (NUL-separated) and $HOSTILE in its working folder.
fs::path recorder(const fs::path& dir) {
    fs::create_directories(dir);
    const fs::path p = dir / "record";
    std::ofstream(p) << "#!/bin/bash\nprintf '%s\\0' \"$@\" > argv.bin\nprintf '%s' \"${HOSTILE-unset}\" > env.txt\n";
    fs::permissions(p, fs::perms::owner_all);
    return p;
}

std::vector<std::string> split_nul(const std::string& s) {
    std::vector<std::string> out;
    for (std::size_t start = 0; start < s.size();) {
        const auto end = s.find('\0', start);
        out.push_back(s.substr(start, end - start));
        start = end == std::string::npos ? s.size() : end + 1;
    }
    return out;
}

// The words sbatch reads from the text after "#SBATCH" (Slurm src/sbatch/opt.c, _get_argument):
// blanks separate words, "..." or '...' group, a backslash takes the next character as it is,
// an unquoted # ends the line.
std::vector<std::string> slurm_words(const std::string& text) {
    std::vector<std::string> words;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
        if (i >= text.size() || text[i] == '#') break;
        std::string w;
        char quote = 0;
        bool escape = false;
        for (; i < text.size() && (quote || !std::isspace(static_cast<unsigned char>(text[i]))); ++i) {
            const char c = text[i];
            if (escape) { w += c; escape = false; }
            else if (c == '\\') escape = true;
            else if (quote) { if (c == quote) quote = 0; else w += c; }
            else if (c == '"' || c == '\'') quote = c;
            else if (c == '#') { i = text.size(); break; }
            else w += c;
        }
        words.push_back(w);
    }
    return words;
}

// The words of a #PBS or #BSUB line: blanks separate, "..." groups (no escapes).
std::vector<std::string> plain_words(const std::string& text) {
    std::vector<std::string> words;
    std::size_t i = 0;
    while (i < text.size()) {
        while (i < text.size() && text[i] == ' ') ++i;
        if (i >= text.size()) break;
        std::string w;
        bool quoted = false;
        for (; i < text.size() && (quoted || text[i] != ' '); ++i) {
            if (text[i] == '"') quoted = !quoted;
            else w += text[i];
        }
        words.push_back(w);
    }
    return words;
}

// Directive lines of a script, without the prefix: each must read back as ONE option (Slurm:
// one word "--name=value"; PBS and LSF: "-x value").
std::vector<std::vector<std::string>> directives(const std::string& script, const std::string& prefix) {
    std::vector<std::vector<std::string>> out;
    std::istringstream in(script);
    for (std::string line; std::getline(in, line);) {
        if (line.rfind(prefix + " ", 0) != 0) continue;
        const auto rest = line.substr(prefix.size() + 1);
        auto words = prefix == "#SBATCH" ? slurm_words(rest) : plain_words(rest);
        CHECK_MESSAGE(words.size() == (prefix == "#SBATCH" ? 1u : 2u), line);
        if (!words.empty()) CHECK_MESSAGE(words[0].rfind("-", 0) == 0, line);
        out.push_back(std::move(words));
    }
    return out;
}

// The value of directive `option` ("--output", "-o"), or "<none>".
std::string directive(const std::vector<std::vector<std::string>>& ds, const std::string& option) {
    for (const auto& d : ds) {
        if (d.size() == 1 && d[0].rfind(option + "=", 0) == 0) return d[0].substr(option.size() + 1);
        if (d.size() == 2 && d[0] == option) return d[1];
    }
    return "<none>";
}

// Jobs in hostile task folders whose program is the recorder, with hostile arguments and environment.
std::vector<Job> hostile_jobs(const fs::path& dir, int n) {
    const auto rec = recorder(dir);
    std::vector<Job> jobs(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        auto& j = jobs[static_cast<std::size_t>(i)];
        j.id = fmt::format("task {}\n$(touch PWNED)", i);
        j.workdir = dir / fmt::format("task {} {} {}", i, kHostile, kNewline);
        fs::create_directories(j.workdir);
        j.stdout_path = "out " + kHostile;
        j.stderr_path = "err.txt";
        j.argv = {rec.string(), "a b", "$(touch PWNED)", "`touch PWNED`", kNewline, "'\"", "", fmt::format("#{}", i)};
        j.environment["HOSTILE"] = "$(touch PWNED)\n;touch PWNED";
    }
    return jobs;
}

// Checks what the recorder saw for each job: every argument one word, intact.
void check_recorded(const std::vector<Job>& jobs) {
    for (const auto& j : jobs) {
        const std::vector<std::string> expected(j.argv.begin() + 1, j.argv.end());
        CHECK(split_nul(slurp(j.workdir / "argv.bin")) == expected);
        CHECK(slurp(j.workdir / "env.txt") == j.environment.at("HOSTILE"));
    }
}

void write_table(const BatchExecutor& ex, const fs::path& table, const std::vector<Job>& jobs) {
    std::ofstream t(table);
    for (const auto& j : jobs) t << ex.table_line(j) << "\n";
}

// No line of `script` carries a hostile value as it is (percent-encoded, "touch%20PWNED", is
// fine) except comments and directives: no hostile value becomes command text.
void check_no_marker_in_commands(const std::string& script) {
    std::istringstream in(script);
    for (std::string line; std::getline(in, line);)
        if (line.find("touch PWNED") != std::string::npos) CHECK_MESSAGE(line.rfind("#", 0) == 0, line);
}

}  // namespace

TEST_CASE("Slurm array and bundle scripts: hostile folders, arguments and environment arrive intact and run nothing") {
    const auto root = testing::scratch("inject-slurm");
    const fs::path dir = root / kHostile;
    const fs::path plain = root / "plain";
    fs::create_directories(plain);
    auto profile = parse_cluster_profile("partition: debug\nenvironment: {GREETING: \"$(touch PWNED)`touch PWNED`\"}\n"
                                         "sbatch_options: ['--wckey=a#b']\n", "p.yaml");
    for (const int per_job : {1, 2}) {
        CAPTURE(per_job);
        profile.tasks_per_job = per_job;
        SlurmExecutor ex(profile, dir / fmt::format("state {}", per_job), "ip-" + kNewline);
        // The job name goes to sbatch --job-name and squeue -n: a safe word, whatever it was given.
        CHECK(std::regex_match(ex.job_name(), std::regex("^[A-Za-z][A-Za-z0-9_.-]{0,63}$")));
        auto jobs = hostile_jobs(dir / fmt::format("jobs {}", per_job), 3);
        const fs::path table = dir / fmt::format("table {}", per_job);
        write_table(ex, table, jobs);
        const std::size_t elements = per_job == 1 ? 3 : 2;
        const auto script = ex.batch_script(0, elements, 1, table, per_job);
        check_no_marker_in_commands(script);
        const auto ds = directives(script, "#SBATCH");
        CHECK(directive(ds, "--partition") == "debug");
        CHECK(directive(ds, "--wckey") == "a#b");  // an unquoted # would start a comment for sbatch
        for (std::size_t e = 0; e < elements; ++e)
            CHECK(run_script(plain, script, fmt::format("SLURM_ARRAY_JOB_ID=77 SLURM_ARRAY_TASK_ID={}", e)) == 0);
        check_recorded(jobs);
        CHECK(slurp(jobs[2].workdir / ".slurm-exit") == (per_job == 1 ? "77_2 0\n" : "77_1 0\n"));
    }
    CHECK(pwned_under(root).empty());
}

TEST_CASE("PBS Pro, Torque and LSF scripts: hostile folders and arguments arrive intact and run nothing") {
    const auto root = testing::scratch("inject-pbs-lsf");
    // LSF writes the run folder into a double-quoted #BSUB -o line: a folder with " is refused (below).
    const std::string no_dq = "a b 'q' $(touch PWNED) `touch PWNED` ; touch PWNED #h %j";
    const fs::path plain = root / "plain";
    fs::create_directories(plain);
    const std::string common = "queue: short\naccount: acc1\nproject: chem\nmemory_per_cpu: 2G\n"
                               "environment: {GREETING: \"$(touch PWNED)\"}\n";
    struct Case {
        std::string name, profile, env, exit_file, me, prefix;
        fs::path state;
    };
    const std::vector<Case> cases{
        {"pbs pro", "scheduler: pbs\n" + common, "PBS_JOBID='77[2].pbs01' PBS_ARRAY_INDEX=2", ".pbs-exit", "77[2].pbs01", "#PBS",
         root / kHostile / "pro"},
        {"torque", "scheduler: pbs\npbs_flavor: torque\n" + common, "PBS_JOBID='78[2].t01' PBS_ARRAYID=2", ".pbs-exit",
         "78[2].t01", "#PBS", root / kHostile / "torque"},
        {"lsf", "scheduler: lsf\n" + common, "LSB_JOBID=79 LSB_JOBINDEX=2", ".lsf-exit", "79[2]", "#BSUB",
         root / no_dq / "lsf"}};
    for (const auto& c : cases) {
        CAPTURE(c.name);
        std::unique_ptr<BatchExecutor> ex;
        if (c.prefix == "#PBS") ex = std::make_unique<PbsExecutor>(parse_cluster_profile(c.profile, "p.yaml"), c.state, "ip-" + kNewline);
        else ex = std::make_unique<LsfExecutor>(parse_cluster_profile(c.profile, "p.yaml"), c.state, "ip-" + kNewline);
        CHECK(std::regex_match(ex->job_name(), std::regex("^[A-Za-z][A-Za-z0-9_.-]{0,63}$")));
        auto jobs = hostile_jobs(c.state.parent_path() / (c.name + " jobs"), 3);
        const fs::path table = c.state.parent_path() / (c.name + " table");
        write_table(*ex, table, jobs);
        const auto script = ex->batch_script(0, 3, 1, table);
        check_no_marker_in_commands(script);
        const auto ds = directives(script, c.prefix);
        CHECK(directive(ds, "-q") == "short");
        if (c.prefix == "#BSUB") CHECK(directive(ds, "-o") == (c.state / "logs" / "%J_%I.out").string());
        CHECK(run_script(plain, script, c.env + " PBS_O_WORKDIR=" + sq(plain.string())) == 0);
        const std::vector<Job> second{jobs[1]};
        check_recorded(second);
        CHECK(slurp(jobs[1].workdir / c.exit_file) == c.me + " 0\n");
    }
    CHECK(pwned_under(root).empty());
}

TEST_CASE("a value no script line can carry is refused with an InputError naming the field, before it is written") {
    const auto root = testing::scratch("inject-refused");
    struct Case {
        std::string name, scheduler, field, env;
        std::function<void(ClusterProfile&)> edit;
        std::string state = "state";
    };
    const std::string bad = "v\ntouch PWNED;#";
    const std::vector<Case> cases{
        {"slurm partition", "slurm", "partition", "SLURM_JOB_ID=5", [&](ClusterProfile& p) { p.partition = bad; }},
        {"slurm account", "slurm", "account", "SLURM_JOB_ID=5", [&](ClusterProfile& p) { p.account = bad; }},
        {"slurm qos", "slurm", "qos", "SLURM_JOB_ID=5", [&](ClusterProfile& p) { p.qos = bad; }},
        {"slurm constraint", "slurm", "constraint", "SLURM_JOB_ID=5", [&](ClusterProfile& p) { p.constraint = bad; }},
        {"slurm memory", "slurm", "memory_per_cpu", "SLURM_JOB_ID=5", [&](ClusterProfile& p) { p.memory_per_cpu = bad; }},
        {"slurm option", "slurm", "sbatch_options[1]", "SLURM_JOB_ID=5",
         [&](ClusterProfile& p) { p.sbatch_options = {"--exclusive", "--begin=now" + bad}; }},
        {"slurm env name", "slurm", "environment", "SLURM_JOB_ID=5",
         [&](ClusterProfile& p) { p.environment["X=1;touch PWNED;Y"] = "v"; }},
        {"slurm run folder", "slurm", "run folder", "SLURM_JOB_ID=5", [](ClusterProfile&) {}, "state " + kNewline},
        {"pbs queue", "pbs", "queue", "PBS_JOBID=1.s", [&](ClusterProfile& p) { p.queue = bad; }},
        {"pbs account", "pbs", "account", "PBS_JOBID=1.s", [&](ClusterProfile& p) { p.account = bad; }},
        {"pbs project", "pbs", "project", "PBS_JOBID=1.s", [&](ClusterProfile& p) { p.project = bad; }},
        {"pbs env name", "pbs", "environment", "PBS_JOBID=1.s", [&](ClusterProfile& p) { p.environment["A;touch PWNED"] = "v"; }},
        {"pbs run folder", "pbs", "run folder", "PBS_JOBID=1.s", [](ClusterProfile&) {}, "state " + kNewline},
        {"lsf queue", "lsf", "queue", "LSB_JOBID=3", [&](ClusterProfile& p) { p.queue = bad; }},
        {"lsf project", "lsf", "project", "LSB_JOBID=3", [&](ClusterProfile& p) { p.project = bad; }},
        {"lsf run folder", "lsf", "run folder", "LSB_JOBID=3", [](ClusterProfile&) {}, "state " + kNewline},
        // LSF's #BSUB -o "..." cannot hold a double quote.
        {"lsf run folder quote", "lsf", "run folder", "LSB_JOBID=3", [](ClusterProfile&) {}, "state \"q\""},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        const fs::path dir = root / c.name;
        fs::create_directories(dir / "work");
        auto profile = parse_cluster_profile("scheduler: " + c.scheduler + "\n", "p.yaml");
        c.edit(profile);
        std::string field = "<not refused>";
        try {
            std::unique_ptr<BatchExecutor> ex;
            if (c.scheduler == "slurm") ex = std::make_unique<SlurmExecutor>(profile, dir / c.state, "ip-t");
            else if (c.scheduler == "pbs") ex = std::make_unique<PbsExecutor>(profile, dir / c.state, "ip-t");
            else ex = std::make_unique<LsfExecutor>(profile, dir / c.state, "ip-t");
            Job job;
            job.id = "t";
            job.workdir = dir / "work";
            job.argv = {"/bin/true"};
            write_table(*ex, dir / "table", {job});
            // Without the refusal, this is what a compute node would run.
            run_script(dir, ex->batch_script(0, 1, 1, dir / "table"), c.env);
        } catch (const InputError& e) {
            field = e.field();
            CHECK(std::string(e.what()).find('\n') == std::string::npos);  // one line, the value escaped
        }
        CHECK(field == c.field);
        CHECK(pwned_under(dir).empty());
    }
}

TEST_CASE("the interphase submit pilot script: a hostile run folder and working folder stay one word each") {
    const auto root = testing::scratch("inject-pilot");
    const fs::path cwd = root / ("cwd " + kHostile);
    const fs::path plain = root / "plain";
    fs::create_directories(cwd);
    fs::create_directories(plain);
    fs::copy_file(testing::source_dir() / "tests/cluster/mpi/data/emt_pilot.yaml", cwd / "wf.yaml");
    const fs::path fake_mpirun = plain / "fake-mpirun";
    std::ofstream(fake_mpirun) << "#!/bin/bash\nprintf '%s\\0' \"$@\" > \"$RECORD\"\n";
    fs::permissions(fake_mpirun, fs::perms::owner_all);

    // `interphase submit ... --dry-run` run in `cwd`; returns the exit code, stderr in `err`.
    auto submit = [&](const std::vector<std::string>& args, std::string& err) {
        std::string cmd = "cd " + sq(cwd.string()) + " && " + sq(testing::cli().string()) + " submit";
        for (const auto& a : args) cmd += " " + sq(a);
        cmd += " --nodes 1 --ranks-per-node 2 --time 10 --dry-run --mpirun " + sq(fake_mpirun.string()) +
               " > " + sq((plain / "out.txt").string()) + " 2> " + sq((plain / "err.txt").string());
        const int status = std::system(cmd.c_str());
        err = slurp(plain / "err.txt");
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    };

    SUBCASE("spaces, quotes, $(), backticks, ; # and % in the run folder and the working folder") {
        const fs::path run = cwd / ("run " + kHostile);
        std::string err;
        REQUIRE_MESSAGE(submit({"wf.yaml", "--run-dir", run.string()}, err) == 0, err);
        const auto script = slurp(run / "pilot" / "pilot-1.sbatch");
        const auto ds = directives(script, "#SBATCH");
        // Slurm's filename patterns: a literal % is written %%; sbatch gives the file its real name.
        std::string pilot_dir = (run / "pilot").string();
        for (auto at = pilot_dir.find('%'); at != std::string::npos; at = pilot_dir.find('%', at + 2)) pilot_dir.insert(at, "%");
        CHECK(directive(ds, "--output") == pilot_dir + "/pilot-1-%j.out");
        CHECK(directive(ds, "--chdir") == cwd.string());
        CHECK(std::regex_match(directive(ds, "--job-name"), std::regex("^[A-Za-z][A-Za-z0-9_.-]*$")));
        // Comments and directives are the only lines that mention the run folder, besides the mpirun line.
        std::istringstream in(script);
        for (std::string line; std::getline(in, line);)
            if (line.find("touch PWNED") != std::string::npos)
                CHECK_MESSAGE((line.rfind("#", 0) == 0 || line.rfind(sq(fake_mpirun.string()), 0) == 0 ||
                               line.rfind(fake_mpirun.string(), 0) == 0), line);
        const fs::path record = plain / "mpirun.argv";
        CHECK(run_script(plain, script, "SLURM_JOB_ID=5 SLURM_JOB_NODELIST=n1 RECORD=" + sq(record.string())) == 0);
        const auto argv = split_nul(slurp(record));
        const auto worker = std::find(argv.begin(), argv.end(), "worker");
        REQUIRE(worker != argv.end());
        REQUIRE(worker + 1 != argv.end());
        CHECK(*(worker + 1) == run.string());  // the run folder arrives as ONE argument, intact
        const auto wf = std::find(argv.begin(), argv.end(), "--workflow");
        REQUIRE(wf != argv.end());
        REQUIRE(wf + 1 != argv.end());
        CHECK(*(wf + 1) == (cwd / "wf.yaml").string());
    }
    SUBCASE("a line break in the run folder is refused, naming it; nothing is written or run") {
        const fs::path run = cwd / ("run " + kNewline);
        std::string err;
        const int code = submit({"wf.yaml", "--run-dir", run.string()}, err);
        const fs::path script = run / "pilot" / "pilot-1.sbatch";
        if (fs::exists(script)) run_script(plain, slurp(script), "SLURM_JOB_ID=5 RECORD=/dev/null");
        CHECK(code == 2);
        CHECK_MESSAGE(err.find("run folder") != std::string::npos, err);
        CHECK(!fs::exists(script));
    }
    SUBCASE("a workflow name with a line break (default run folder runs/NAME) is refused") {
        std::ofstream(cwd / "evil.yaml") << "name: \"evil\\ntouch PWNED;#\"\n" << slurp(cwd / "wf.yaml").substr(slurp(cwd / "wf.yaml").find("calculator:"));
        std::string err;
        const int code = submit({"evil.yaml"}, err);
        for (const auto& e : fs::recursive_directory_iterator(cwd))
            if (e.path().filename() == "pilot-1.sbatch") run_script(plain, slurp(e.path()), "SLURM_JOB_ID=5 RECORD=/dev/null");
        CHECK_MESSAGE(code == 2, err);
    }
    CHECK(pwned_under(root).empty());
}

TEST_CASE("shell_word, comment_text, directive values and job names") {
    const auto dir = testing::scratch("inject-words");
    const std::vector<std::string> values{"plain", "", "a b", "'", "\"", "$(touch PWNED)", "`touch PWNED`", "a;b", "#x",
                                          "x\ntouch PWNED;#", "\\", "%j", "-n", "é ü", std::string(5000, 'x')};
    // bash reads each shell_word back as exactly one argument, byte for byte.
    std::string script = "printf '%s\\0'";
    for (const auto& v : values) script += " " + shell_word(v);
    script += " > words.bin\n";
    CHECK(run_script(dir, script, "") == 0);
    CHECK(split_nul(slurp(dir / "words.bin")) == values);
    CHECK(shell_word("plain-1.x/y") == "plain-1.x/y");
    CHECK(shell_word("it's") == "'it'\\''s'");

    // A comment stays one line whatever it quotes.
    CHECK(comment_text("run\nrm -rf ~\r\x1b[31m") == "run\\nrm -rf ~\\r\\x1b[31m");

    // Slurm's tokenizer reads a directive value back intact; control characters are refused.
    for (const auto& v : {"/a b/c", "x#y", "it's", "say \"hi\"", "back\\slash", "%j"})
        CHECK(slurm_words("--output=" + directive_value(DirectiveSyntax::Slurm, v, "p.yaml", "f")) ==
              std::vector<std::string>{std::string("--output=") + v});
    CHECK_THROWS_AS(directive_value(DirectiveSyntax::Slurm, "a\nb", "p.yaml", "f"), InputError);
    CHECK_THROWS_AS(directive_value(DirectiveSyntax::Lsf, "a\"b", "p.yaml", "f"), InputError);
    CHECK(directive_value(DirectiveSyntax::Lsf, "/a b/%J.out", "p.yaml", "f") == "\"/a b/%J.out\"");
    CHECK(directive_value(DirectiveSyntax::Pbs, "short", "p.yaml", "f") == "short");
    try {
        directive_value(DirectiveSyntax::Pbs, std::string("a\0b", 3), "p.yaml", "queue");
        FAIL("a NUL was accepted");
    } catch (const InputError& e) {
        CHECK(e.field() == "queue");
        CHECK(std::string(e.what()).find("\\x00") != std::string::npos);
    }

    // Job names: a safe alphabet, a letter first, bounded; different names stay different.
    const std::regex safe("^[A-Za-z][A-Za-z0-9_.-]*$");
    for (const auto& v : values) {
        const auto n = safe_job_name(v, 64);
        CHECK_MESSAGE(std::regex_match(n, safe), n);
        CHECK(n.size() <= 64);
    }
    CHECK(safe_job_name("ip-run-1f2e3d4c", 64) == "ip-run-1f2e3d4c");  // a safe name is kept as it is
    CHECK(safe_job_name("a b", 64) != safe_job_name("a;b", 64));
    CHECK(safe_job_name(std::string(100, 'a') + "1", 15) != safe_job_name(std::string(100, 'a') + "2", 15));
    CHECK(safe_job_name(std::string(100, 'a'), 15).size() == 15);
}
