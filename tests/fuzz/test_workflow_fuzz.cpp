// The workflow fuzzer (issue 10): whatever bytes a user puts in a workflow file, the real
// `interphase` binary answers within the CLI contract. Every corpus file and every seeded
// mutation of one goes through `interphase graph FILE` (validation only) and then
// `interphase run FILE --run-dir RUN --quiet --cores 1` (the builtin EMT runs in process), each
// a subprocess in an empty working folder with a time limit and a 2 GiB address-space limit (an
// alias bomb aborts instead of swapping the machine). What it proves, case by case:
//   - no crash or abort (no exit >= 128), no internal error (exit 70), no hang (graph: 20 s;
//     run: 20 s, then SIGTERM must end it with 130 within 10 s);
//   - graph exits 0 or 2; run exits 0, 1, 2 or 3 (exit 4, a storage error, cannot be caused by
//     a workflow in a healthy scratch folder: it is an input check that is missing);
//   - exit 2 is exactly one line on stderr, "interphase: error: ...", naming the input file,
//     with no control characters and valid UTF-8, and nothing on stdout;
//   - bad input is refused before anything runs: exit 2 from run leaves no run folder, and
//     what graph refuses run refuses too; exit 1 means tasks ran (the run folder exists);
//     exit 0 leaves results.h5;
//   - nothing is written outside the run folder (the working folder stays empty, the folder of
//     the workflow holds only what the case put there).
// The corpus (tests/fuzz/corpus/workflow) has stricter expectations by name: valid_* must run
// to exit 0, hostile_* must be refused with exit 2 by both commands, runtime_* must end with
// exit 1. Mutations are deterministic: case N of seed S is always the same input
// (INTERPHASE_FUZZ_SEED, INTERPHASE_FUZZ_CASE replay it); every failing input is written to a
// folder named in the failure message. docs/fuzzing.md says how to run and replay.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "test_paths.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

// ---------------------------------------------------------------------------------------------
// Settings (environment variables; docs/fuzzing.md)

std::optional<std::string> env(const char* name) {
    const char* v = std::getenv(name);
    return v && *v ? std::optional<std::string>(v) : std::nullopt;
}

struct Settings {
    double seconds = 60;                 // mutation budget after the corpus replay
    std::uint64_t seed = 20240610;       // fixed by default: CI repeats the same cases
    std::optional<std::uint64_t> only_case;
    std::optional<fs::path> replay;      // one file instead of the corpus and mutations
    fs::path binary = INTERPHASE_BINARY;
    fs::path failures;                   // where failing inputs are kept
    fs::path work;                       // scratch cases (one at a time, removed after)
    double minimize_seconds = 20;        // per new failure class

    static Settings from_env() {
        Settings s;
        if (auto v = env("INTERPHASE_FUZZ_SECONDS")) s.seconds = std::stod(*v);
        if (auto v = env("INTERPHASE_FUZZ_SEED"))
            s.seed = *v == "random" ? static_cast<std::uint64_t>(Clock::now().time_since_epoch().count())
                                    : std::stoull(*v, nullptr, 0);
        if (auto v = env("INTERPHASE_FUZZ_CASE")) s.only_case = std::stoull(*v);
        if (auto v = env("INTERPHASE_FUZZ_REPLAY")) s.replay = fs::absolute(*v);
        if (auto v = env("INTERPHASE_FUZZ_BINARY")) s.binary = fs::absolute(*v);
        if (auto v = env("INTERPHASE_FUZZ_MINIMIZE_SECONDS")) s.minimize_seconds = std::stod(*v);
        s.failures = env("INTERPHASE_FUZZ_FAILURES") ? fs::absolute(*env("INTERPHASE_FUZZ_FAILURES"))
                                                     : fs::current_path() / "fuzz-failures";
        s.work = fs::current_path() / "scratch" / fmt::format("workflow-fuzz-{}", ::getpid());
        return s;
    }
};

fs::path corpus_dir() { return interphase::testing::source_dir() / "tests/fuzz/corpus/workflow"; }

// Structure files the corpus workflows name (workflow: calculation / neb); copied beside every case.
const std::vector<std::string> kCompanions = {"slab.xyz", "start.xyz", "end.xyz"};

// ---------------------------------------------------------------------------------------------
// Processes

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept {
        if (this != &o) reset(std::exchange(o.fd_, -1));
        return *this;
    }
    UniqueFd(const UniqueFd&) = delete;
    UniqueFd& operator=(const UniqueFd&) = delete;
    ~UniqueFd() { reset(); }
    int get() const { return fd_; }
    void reset(int fd = -1) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = fd;
    }

private:
    int fd_ = -1;
};

std::pair<UniqueFd, UniqueFd> make_pipe() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    return {UniqueFd(fds[0]), UniqueFd(fds[1])};
}

struct Limits {
    std::chrono::milliseconds timeout;
    // After the timeout: SIGTERM and this long to exit (the engine's interrupt path), else SIGKILL.
    std::optional<std::chrono::milliseconds> grace;
    rlim_t address_space = rlim_t{2} << 30;
    rlim_t file_size = rlim_t{512} << 20;  // a run folder of a fuzzed workflow never needs more
};

struct Outcome {
    enum class End { Exited, Signaled, TimedOut };
    End end = End::Exited;
    int code = 0;                    // exit code, or the signal
    bool timed_out = false;          // the time limit passed (End::Exited/Signaled after SIGTERM)
    std::string out, err;
    double seconds = 0;

    bool exited(int c) const { return end == End::Exited && code == c; }
    std::string describe() const {
        switch (end) {
            case End::Exited: return fmt::format("exit {}{}", code, timed_out ? " after SIGTERM at the time limit" : "");
            case End::Signaled:
                return fmt::format("killed by signal {} ({}){}", code, ::strsignal(code), timed_out ? " after SIGTERM at the time limit" : "");
            case End::TimedOut: return "did not end (killed at the time limit)";
        }
        return "?";
    }
};

// A child in its own process group; the group is killed and the child reaped on destruction, so
// a failed assertion never leaves an engine running.
class Child {
public:
    Child(const std::vector<std::string>& argv, const fs::path& cwd, const Limits& limits, int out_fd, int err_fd) {
        // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
        std::vector<std::string> envs;
        for (char** e = environ; *e; ++e) {
            const std::string_view kv(*e);
            if (!kv.starts_with("INTERPHASE_CACHE=")) envs.emplace_back(kv);
        }
        envs.emplace_back("INTERPHASE_CACHE=off");  // a fuzzed run must not touch a user's shared cache
        std::vector<char*> envp, args;
        for (auto& e : envs) envp.push_back(e.data());
        envp.push_back(nullptr);
        std::vector<std::string> argv_copy = argv;
        for (auto& a : argv_copy) args.push_back(a.data());
        args.push_back(nullptr);
        const std::string dir = cwd.string();
        const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);

        pid_ = ::fork();
        REQUIRE(pid_ >= 0);
        if (pid_ == 0) {
            ::setpgid(0, 0);
            ::dup2(null_fd, 0);
            ::dup2(out_fd, 1);
            ::dup2(err_fd, 2);
            const rlimit as{limits.address_space, limits.address_space};
            const rlimit fsize{limits.file_size, limits.file_size};
            const rlimit core{0, 0};  // an abort must not leave a core file (or fill the disk)
            ::setrlimit(RLIMIT_AS, &as);
            ::setrlimit(RLIMIT_FSIZE, &fsize);
            ::setrlimit(RLIMIT_CORE, &core);
            if (::chdir(dir.c_str()) != 0) ::_exit(126);
            ::execve(args[0], args.data(), envp.data());
            ::_exit(127);
        }
        ::setpgid(pid_, pid_);  // also here: no race with the first kill(-pid)
        if (null_fd >= 0) ::close(null_fd);
    }
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;
    ~Child() {
        if (pid_ > 0) {
            ::kill(-pid_, SIGKILL);
            if (!reaped_) ::waitpid(pid_, nullptr, 0);
        }
    }
    pid_t pid() const { return pid_; }
    void signal_group(int sig) const { ::kill(-pid_, sig); }
    // The exit status if the child has ended (reaps it).
    std::optional<int> try_wait() {
        if (reaped_) return status_;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
            reaped_ = true;
            status_ = status;
            return status;
        }
        return std::nullopt;
    }

private:
    pid_t pid_ = -1;
    bool reaped_ = false;
    int status_ = 0;
};

// Runs argv in cwd under the limits, capturing stdout and stderr (each kept up to 1 MiB).
Outcome run_process(const std::vector<std::string>& argv, const fs::path& cwd, const Limits& limits) {
    constexpr std::size_t kKeep = 1u << 20;
    auto [out_r, out_w] = make_pipe();
    auto [err_r, err_w] = make_pipe();
    const auto start = Clock::now();
    Child child(argv, cwd, limits, out_w.get(), err_w.get());
    out_w.reset();
    err_w.reset();

    Outcome o;
    auto deadline = start + limits.timeout;
    bool term_sent = false;
    std::array<pollfd, 2> fds{pollfd{out_r.get(), POLLIN, 0}, pollfd{err_r.get(), POLLIN, 0}};
    std::array<std::string*, 2> sinks{&o.out, &o.err};
    std::optional<int> status;
    for (;;) {
        const bool pipes_open = fds[0].fd >= 0 || fds[1].fd >= 0;
        if (!pipes_open || status) {
            if (!status) status = child.try_wait();
            if (status) break;
        }
        const auto now = Clock::now();
        if (now >= deadline) {
            o.timed_out = true;
            if (limits.grace && !term_sent) {
                child.signal_group(SIGTERM);
                term_sent = true;
                deadline = now + *limits.grace;
                continue;
            }
            o.end = Outcome::End::TimedOut;
            o.seconds = std::chrono::duration<double>(Clock::now() - start).count();
            return o;  // ~Child kills the group
        }
        const int wait_ms = static_cast<int>(std::clamp<long long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count(), 1, 50));
        if (pipes_open) {
            if (::poll(fds.data(), fds.size(), wait_ms) < 0 && errno != EINTR) break;
            for (std::size_t i = 0; i < fds.size(); ++i) {
                if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
                char buf[65536];
                const ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
                if (n > 0) {
                    if (sinks[i]->size() < kKeep) sinks[i]->append(buf, std::min<std::size_t>(n, kKeep - sinks[i]->size()));
                } else if (n == 0 || errno != EINTR) {
                    fds[i].fd = -1;  // EOF; the UniqueFd still closes it
                }
            }
            // A grandchild may hold the pipes open after the child ended: look at the child too.
            if (!status) status = child.try_wait();
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
        }
    }
    // Whatever is still buffered in the pipes.
    for (std::size_t i = 0; i < fds.size(); ++i) {
        if (fds[i].fd < 0) continue;
        ::fcntl(fds[i].fd, F_SETFL, O_NONBLOCK);
        char buf[65536];
        ssize_t n;
        while ((n = ::read(fds[i].fd, buf, sizeof buf)) > 0)
            if (sinks[i]->size() < kKeep) sinks[i]->append(buf, std::min<std::size_t>(n, kKeep - sinks[i]->size()));
    }
    o.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (WIFEXITED(*status)) {
        o.end = Outcome::End::Exited;
        o.code = WEXITSTATUS(*status);
    } else {
        o.end = Outcome::End::Signaled;
        o.code = WTERMSIG(*status);
    }
    return o;
}

// ---------------------------------------------------------------------------------------------
// Deterministic randomness: splitmix64 (the same numbers on every platform and library, which
// std::uniform_int_distribution does not promise), one stream per case.

class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }
    bool chance(unsigned percent) { return below(100) < percent; }
    template <class T>
    const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

private:
    std::uint64_t state_;
};

std::uint64_t case_seed(std::uint64_t seed, std::uint64_t index) {
    Rng r(seed ^ (index * 0xD1B54A32D192ED03ull));
    return r.next();
}

// ---------------------------------------------------------------------------------------------
// Mutations of YAML text

std::vector<std::string> split_lines(const std::string& text) {
    std::vector<std::string> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        const auto nl = text.find('\n', start);
        if (nl == std::string::npos) {
            lines.push_back(text.substr(start));
            break;
        }
        lines.push_back(text.substr(start, nl - start + 1));
        start = nl + 1;
    }
    return lines;
}

std::string join(const std::vector<std::string>& lines) {
    std::string s;
    for (const auto& l : lines) s += l;
    return s;
}

std::string indent_of(const std::string& line) { return line.substr(0, line.find_first_not_of(" \t-")); }

// Values a YAML scalar can be swapped with: other types, edges of numbers, names the engine
// reserves or treats as paths, terminal escapes, invalid or odd Unicode, YAML syntax.
const std::vector<std::string>& value_palette() {
    static const std::vector<std::string> v = {
        "{}", "[]", "{a: 1}", "[1, [2, 3]]", "[[[[[[]]]]]]", "~", "null", "\"\"", "''",
        "0", "-1", "1", "2", "3", "4", "50", "51", "-0.0", "0.5", "1e308", "-1e308", "1e-320", "1e999",
        "99999999999999999999", "2147483648", "4294967297", "9223372036854775808", "-9223372036854775809",
        ".nan", ".NaN", ".inf", "-.inf", "0x1F", "0o17", "1_000", "+.5", "1:20", "true", "false", "no", "yes", "on",
        "\"..\"", "\".\"", "\"/\"", "a/b", "\"a|b\"", "\"a\\\\b\"", "\"*\"", "\"[\"", "\"?\"", "\"a:b\"",
        "host", "binding_energy", "best_site", "reference", "user_tasks", "neb", "delta_e", "provenance", "all",
        "Al", "Cu", "Au", "Li", "Li2S", "Xx", "H", "emt", "lj", "morse", "cp3k", "fast", "standard", "precise",
        "idpp", "linear", "fire", "bfgs", "lbfgs", "expression", "aggregate", "argmin", "isolated_atom", "bulk",
        "calculation", "hollow", "top", "fcc_hollow", "4fold_hollow", "hollow_2", "top_99",
        "\"\\e[2J\\e[31mred\"", "\"\\a\\b\\r\\v\\f\"", "\"\\0\"", "\"a\\0b\"", "\"\\x7f\\x1b\"", "\"\\uFFFE\"",
        "\"\\U0001F600\"", "\"漢字\"", "\"ＡＬ\"", "\"e\\u0301\"", "\"\\u202Eevil\"", "\"\\uD800\"", "\"\\x80\\xff\"",
        std::string("'") + std::string(300, 'x') + "'", std::string(5000, 'y'),
        "&anc1 v", "*anc1", "*undefined", "!!binary aGVsbG8=", "!!int 3", "!!str 5", "!!float x", "!!map {}",
        "!custom x", "!<tag:yaml.org,2002:seq> []", "|\n  block\n", ">-\n  folded\n", "'single''quote'", "@reserved",
        "`backtick`", "%TAG", "? complex", "- item", "-", ":", "\"-rf\"", "\"--help\"", "$HOME", "\"$(touch pwned)\"",
        "\"`touch pwned2`\"", "\"../../x\"", "/dev/zero", "/etc/passwd", "\"1,1,1\"", "\"1,1,-2,0\"", "\"1,x\"",
        "[1, 1, 1]", "[0, 0, 0]", "[1, 0]", "[-1, -1]", "[1e308, 1]", "[.nan, 1, 1]", "[2, 2]", "[50, 50]",
        "[4fold_hollow, 4fold_hollow]", "[A, A]", "[Al(111), Al(111)]", "[Al(111), Cu(100), x]",
        "{name: 5}", "{name: fast, fmax: 0}", "{max_attempts: -1}", "{max_attempts: 1000000000}",
        "{task: x, field: y}", "\"*/binding_energy:binding_energy\"", "\"x:/sites/0/binding_energy\"", "\"a:b:c\"",
        "\"1/0\"", "\"a +\"", "\"sqrt(-1)\"", "\"_pi ^ 1e308\""};
    return v;
}

const std::vector<std::string>& key_palette() {
    static const std::vector<std::string> k = {
        "name", "description", "workflow", "calculator", "protocol", "adsorbate", "reference", "reference_box",
        "hosts", "pairs", "hops", "tasks", "retries", "structure", "relax", "start", "end", "neb", "phase",
        "miller", "layers", "supercell", "vacuum", "fix_bottom_layers", "fix_bottom", "termination", "sites",
        "host", "from", "to", "images", "method", "mic", "climb", "fmax", "optimizer", "spring", "climb_after",
        "max_iterations", "max_step", "fire", "bfgs", "lbfgs", "kind", "expression", "variables", "over", "field",
        "op", "unit", "max_attempts", "on", "code", "cores_per_task", "kpoint_spacing", "smearing", "scf_tolerance",
        "max_scf", "max_relax_steps", "functional", "precision", "? [a]", "? {b: 1}", "<<", "\"\"", "\"\\0\"",
        "\"name\"", "nam", "Name", "\"\\e[31m\"", "1", "~", "null", "[k]", "{k: v}", "&ka name", "*ka"};
    return k;
}

// Whole lines for insertion (indented like a neighbour).
const std::vector<std::string>& line_palette() {
    static const std::vector<std::string> l = {
        "- ", "---", "...", "%YAML 1.2", "? [x]", ": y", "&a", "hosts:", "- {name: Z, phase: Al, layers: 2}",
        "- {name: Al(111), phase: Al}", "pairs: [[Al(111), Cu(100)], [Cu(100), Al(111)]]", "pairs:", "- [A, B]",
        "\t", "\tname: tab", "x: &x [*x]", "<<: *b", "b: &b {phase: Cu}", "name: second", "calculator: {code: emt}",
        "protocol: {name: 5}", "# comment \x1b[2J", "tasks: []", "hops:", "- {host: Al(111), from: top, to: top}",
        "retries: {max_attempts: 3, on: [killed, cosmic_rays]}", "neb: {images: 0}", "'unterminated", "{", "]",
        "key: value: more", "\xef\xbb\xbfname: bom", "\xff\xfe", std::string("nul: a\0b", 8)};
    return l;
}

struct Token {
    std::size_t pos, len;
    bool key;
};

// Plain scalars (and the quoted ones, whole) outside comments, and whether each is a mapping key.
std::vector<Token> scalar_tokens(const std::string& t) {
    std::vector<Token> tokens;
    const std::string_view stop = " \t\r\n,:[]{}#&*!|>'\"%@`";
    std::size_t i = 0;
    while (i < t.size()) {
        const char c = t[i];
        if (c == '#' && (i == 0 || t[i - 1] == ' ' || t[i - 1] == '\n' || t[i - 1] == '\t')) {
            i = t.find('\n', i);
            if (i == std::string::npos) break;
            continue;
        }
        std::size_t end = i;
        if (c == '"' || c == '\'') {
            end = t.find(c, i + 1);
            if (end == std::string::npos || t.find('\n', i) < end) {
                ++i;
                continue;
            }
            ++end;
        } else {
            while (end < t.size() && stop.find(t[end]) == std::string_view::npos) ++end;
            if (end == i) {
                ++i;
                continue;
            }
        }
        std::size_t after = end;
        while (after < t.size() && t[after] == ' ') ++after;
        const bool key = after < t.size() && t[after] == ':' &&
                         (after + 1 == t.size() || t[after + 1] == ' ' || t[after + 1] == '\n');
        tokens.push_back({i, end - i, key});
        i = end;
    }
    return tokens;
}

std::string alias_bomb(Rng& rng, const std::string& indent, const std::string& prefix) {
    const std::size_t depth = 3 + rng.below(10), width = 2 + rng.below(9);
    std::string s;
    for (std::size_t d = 0; d < depth; ++d) {
        std::string items;
        for (std::size_t w = 0; w < width; ++w)
            items += (w ? ", " : "") + (d == 0 ? std::string("lol") : fmt::format("*{}{}", prefix, d - 1));
        s += fmt::format("{}{}{}: &{}{} [{}]\n", indent, prefix, d, prefix, d, items);
    }
    return s;
}

std::string nested(Rng& rng) {
    static const std::vector<std::size_t> depths = {10, 100, 1000, 10000, 100000};
    const std::size_t n = rng.pick(depths);
    if (rng.chance(50)) return std::string(n, '[') + "1" + std::string(n, ']');
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += "{a: ";
    return s + "1" + std::string(n, '}');
}

using Mutator = std::function<std::string(std::string, Rng&, const std::vector<std::string>& seeds)>;

struct NamedMutator {
    const char* name;
    Mutator apply;
};

const std::vector<NamedMutator>& mutators() {
    static const std::vector<NamedMutator> m = {
        {"flip_bit", [](std::string t, Rng& r, auto&) {
             if (!t.empty()) t[r.below(t.size())] ^= static_cast<char>(1u << r.below(8));
             return t;
         }},
        {"set_byte", [](std::string t, Rng& r, auto&) {
             static const std::string bytes{"\xff\x00\t\r:&*[]{}-?|>'\"#!%@`\x1b\x7f\x80\xc3\n ", 31};
             if (!t.empty()) t[r.below(t.size())] = bytes[r.below(bytes.size())];
             return t;
         }},
        {"truncate", [](std::string t, Rng& r, auto&) { return t.substr(0, r.below(t.size() + 1)); }},
        {"delete_line", [](std::string t, Rng& r, auto&) {
             auto lines = split_lines(t);
             if (!lines.empty()) lines.erase(lines.begin() + static_cast<long>(r.below(lines.size())));
             return join(lines);
         }},
        {"duplicate_line", [](std::string t, Rng& r, auto&) {  // block-mapping duplicate keys, list items
             auto lines = split_lines(t);
             if (lines.empty()) return t;
             const auto i = r.below(lines.size());
             lines.insert(lines.begin() + static_cast<long>(i), lines[i]);
             return join(lines);
         }},
        {"insert_line", [](std::string t, Rng& r, auto&) {
             auto lines = split_lines(t);
             const auto i = r.below(lines.size() + 1);
             const std::string indent = i < lines.size() ? indent_of(lines[i]) : "";
             std::string line;
             if (r.chance(50)) line = r.pick(line_palette());
             else line = r.pick(key_palette()) + ": " + r.pick(value_palette());
             lines.insert(lines.begin() + static_cast<long>(i), indent + line + "\n");
             return join(lines);
         }},
        {"swap_value", [](std::string t, Rng& r, auto&) {
             std::vector<Token> values;
             for (const auto& tok : scalar_tokens(t))
                 if (!tok.key) values.push_back(tok);
             if (values.empty()) return t;
             const auto tok = r.pick(values);
             return t.replace(tok.pos, tok.len, r.pick(value_palette()));
         }},
        {"swap_key", [](std::string t, Rng& r, auto&) {
             std::vector<Token> keys;
             for (const auto& tok : scalar_tokens(t))
                 if (tok.key) keys.push_back(tok);
             if (keys.empty()) return t;
             const auto tok = r.pick(keys);
             return t.replace(tok.pos, tok.len, r.pick(key_palette()));
         }},
        {"duplicate_flow_key", [](std::string t, Rng& r, auto&) {  // {a: 1, a: 2}
             std::vector<Token> keys;
             for (const auto& tok : scalar_tokens(t))
                 if (tok.key) keys.push_back(tok);
             if (keys.empty()) return t;
             const auto tok = r.pick(keys);
             const auto end = t.find_first_of(",}\n", tok.pos);
             if (end == std::string::npos || t[end] != ',') return t;
             const std::string pair = t.substr(tok.pos, end - tok.pos + 1) + " ";
             return t.insert(tok.pos, pair);
         }},
        {"anchor_alias", [](std::string t, Rng& r, auto&) {  // a value anchored, another replaced by its alias
             std::vector<Token> values;
             for (const auto& tok : scalar_tokens(t))
                 if (!tok.key) values.push_back(tok);
             if (values.size() < 2) return t;
             auto a = r.pick(values), b = r.pick(values);
             if (a.pos == b.pos) return t;
             if (a.pos > b.pos) std::swap(a, b);  // the anchor must come first (else: undefined alias)
             if (r.chance(20)) std::swap(a, b);   // sometimes not: an alias before its anchor
             std::string out = t;
             // Replace the later span first so the earlier position stays valid.
             if (a.pos < b.pos) {
                 out.replace(b.pos, b.len, "*fz");
                 out.insert(a.pos, "&fz ");
             } else {
                 out.insert(a.pos, "&fz ");
                 out.replace(b.pos, b.len, "*fz");
             }
             return out;
         }},
        {"alias_bomb", [](std::string t, Rng& r, auto&) {
             auto lines = split_lines(t);
             // Into an existing mapping: before a random line whose content is "key: ..."
             std::vector<std::size_t> at;
             for (std::size_t i = 0; i < lines.size(); ++i) {
                 const auto ind = lines[i].find_first_not_of(' ');
                 if (ind != std::string::npos && lines[i].find(": ") != std::string::npos && lines[i][ind] != '-' &&
                     lines[i][ind] != '#')
                     at.push_back(i);
             }
             const auto i = at.empty() ? 0 : r.pick(at);
             const std::string indent = i < lines.size() ? lines[i].substr(0, lines[i].find_first_not_of(' ')) : "";
             lines.insert(lines.begin() + static_cast<long>(i), alias_bomb(r, indent, "z"));
             return join(lines);
         }},
        {"deep_nesting", [](std::string t, Rng& r, auto&) {
             std::vector<Token> values;
             for (const auto& tok : scalar_tokens(t))
                 if (!tok.key) values.push_back(tok);
             if (values.empty()) return t + "x: " + nested(r) + "\n";
             const auto tok = r.pick(values);
             return t.replace(tok.pos, tok.len, nested(r));
         }},
        {"unicode_in_scalar", [](std::string t, Rng& r, auto&) {
             static const std::vector<std::string> bits = {"\xff", "\xc3", "\xe2\x80\xae", "\x1b[31m", "\r", "\x07",
                                                           "\xef\xbf\xbe", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                                                           "\xcc\x81", "\xe2\x80\x8b", "\\", "|", "/", "\x7f"};
             auto tokens = scalar_tokens(t);
             if (tokens.empty()) return t;
             const auto tok = r.pick(tokens);
             return t.insert(tok.pos + r.below(tok.len + 1), r.pick(bits));
         }},
        {"repeat_block", [](std::string t, Rng& r, auto&) {  // many hosts, pairs, tasks
             static const std::vector<std::size_t> times = {2, 10, 100, 1000};
             auto lines = split_lines(t);
             if (lines.empty()) return t;
             const auto i = r.below(lines.size());
             const auto n = std::min<std::size_t>(1 + r.below(4), lines.size() - i);
             const std::vector<std::string> block(lines.begin() + static_cast<long>(i), lines.begin() + static_cast<long>(i + n));
             const auto k = r.pick(times);
             for (std::size_t j = 0; j < k; ++j) lines.insert(lines.begin() + static_cast<long>(i), block.begin(), block.end());
             return join(lines);
         }},
        {"splice", [](std::string t, Rng& r, const std::vector<std::string>& seeds) {
             const auto a = split_lines(t), b = split_lines(r.pick(seeds));
             std::vector<std::string> out(a.begin(), a.begin() + static_cast<long>(r.below(a.size() + 1)));
             out.insert(out.end(), b.begin() + static_cast<long>(r.below(b.size() + 1)), b.end());
             return join(out);
         }},
    };
    return m;
}

struct Mutation {
    std::string text;
    std::string origin;  // "seed_file.yaml + op + op"
    std::string file_name;
};

Mutation mutate(const std::vector<std::pair<std::string, std::string>>& seeds, std::uint64_t seed,
                std::uint64_t index) {
    Rng r(case_seed(seed, index));
    // Mostly valid seeds: a mutation of an input that is refused anyway rarely reaches deeper.
    std::vector<std::size_t> valid;
    for (std::size_t i = 0; i < seeds.size(); ++i)
        if (!seeds[i].first.starts_with("hostile_")) valid.push_back(i);
    const auto& [name, text] = seeds[!valid.empty() && r.chance(80) ? r.pick(valid) : r.below(seeds.size())];
    std::vector<std::string> texts;
    for (const auto& s : seeds) texts.push_back(s.second);
    Mutation m{text, name, name};
    const std::size_t ops = r.chance(60) ? 1 : 2 + r.below(4);
    for (std::size_t i = 0; i < ops; ++i) {
        const auto& mu = r.pick(mutators());
        m.text = mu.apply(std::move(m.text), r, texts);
        m.origin += std::string(" + ") + mu.name;
    }
    return m;
}

// ---------------------------------------------------------------------------------------------
// One case: write it, run graph and run, check the contract

struct Problem {
    std::string cls;     // groups findings: stage and kind, without the case's details
    std::string detail;  // what happened, for the report
};

struct CaseResult {
    Outcome graph, run;
    bool ran = false;  // run is skipped after a graph that crashed or hung
    std::vector<Problem> problems;
};

bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        std::uint32_t cp = n == 1 ? c : c & (0x7F >> n);
        for (std::size_t k = 1; k < n; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc >> 6) != 0x2) return false;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n;
    }
    return true;
}

// A short, printable excerpt of program output for reports.
std::string excerpt(const std::string& s, std::size_t max = 400) {
    std::string out;
    for (const char ch : s.substr(0, max)) {
        const auto c = static_cast<unsigned char>(ch);
        if (c == '\n') out += "\\n";
        else if (c < 0x20 || c == 0x7F) out += fmt::format("\\x{:02x}", c);
        else out += ch;
    }
    return s.size() > max ? out + "..." : out;
}

// The shape of a message without its particulars (numbers, quoted names), to group failures.
std::string message_shape(const std::string& err) {
    auto line = err.substr(0, err.find('\n'));
    for (const char* p : {"interphase: internal error: ", "interphase: error: "})
        if (const auto at = line.find(p); at != std::string::npos) line = line.substr(at + std::strlen(p));
    // Drop the case's path (FILE:LINE: ...): the message is what tells the classes apart.
    if (const auto at = line.find("/case/"); at != std::string::npos)
        if (const auto sp = line.find(' ', at); sp != std::string::npos) line = line.substr(sp + 1);
    std::string out;
    bool in_quote = false;
    for (const char c : line) {
        if (c == '\'') {
            in_quote = !in_quote;
            if (in_quote) out += "'…'";
            continue;
        }
        if (in_quote) continue;
        out += std::isdigit(static_cast<unsigned char>(c)) ? '#' : c;
    }
    if (out.size() > 70) out = out.substr(0, 70);
    return out;
}

// Exit 2: exactly one line on stderr that names a file of the case, printable, valid UTF-8.
void check_input_error(const std::string& stage, const Outcome& o, const fs::path& case_dir, std::vector<Problem>& problems) {
    const auto& e = o.err;
    const auto lines = std::count(e.begin(), e.end(), '\n');
    if (e.empty() || e.back() != '\n' || lines != 1)
        problems.push_back({stage + ": exit 2 but stderr is not exactly one line",
                            fmt::format("{} line(s): {}", lines, excerpt(e))});
    else if (!e.starts_with("interphase: error: "))
        problems.push_back({stage + ": exit 2 without 'interphase: error: '", excerpt(e)});
    if (e.find(case_dir.string()) == std::string::npos)
        problems.push_back({stage + ": exit 2 message names no input file", excerpt(e)});
    if (std::any_of(e.begin(), e.end() - (e.empty() ? 0 : 1),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7F; }))
        problems.push_back({stage + ": exit 2 message holds control characters", excerpt(e)});
    if (!valid_utf8(e)) problems.push_back({stage + ": exit 2 message is not valid UTF-8", excerpt(e)});
    if (!o.out.empty()) problems.push_back({stage + ": exit 2 but something on stdout", excerpt(o.out)});
}

// Crashes, internal errors and hangs, in either command.
bool check_fatal(const std::string& stage, const Outcome& o, std::vector<Problem>& problems) {
    const auto tail = excerpt(o.err.size() > 600 ? o.err.substr(o.err.size() - 600) : o.err, 600);
    if (o.end == Outcome::End::TimedOut) {
        problems.push_back({stage + ": hang (" + o.describe() + ")", tail});
        return true;
    }
    if (o.end == Outcome::End::Signaled) {
        problems.push_back({fmt::format("{}: killed by signal {} ({})", stage, o.code, ::strsignal(o.code)), tail});
        return true;
    }
    if (o.code >= 128 && o.code != 130) {
        problems.push_back({fmt::format("{}: exit {}", stage, o.code), tail});
        return true;
    }
    if (o.code == 70) {
        problems.push_back({stage + ": exit 70 (internal error): " + message_shape(o.err), excerpt(o.err)});
        return true;
    }
    return false;
}

class Fuzzer {
public:
    explicit Fuzzer(Settings s) : s_(std::move(s)) {
        fs::remove_all(s_.work);
        fs::create_directories(s_.work);
    }
    ~Fuzzer() {
        std::error_code ec;
        fs::remove_all(s_.work, ec);
    }
    Fuzzer(const Fuzzer&) = delete;
    Fuzzer& operator=(const Fuzzer&) = delete;

    const Settings& settings() const { return s_; }

    CaseResult run_case(const std::string& file_name, const std::string& text) {
        const fs::path dir = s_.work / "case";
        fs::remove_all(dir);
        fs::create_directories(dir / "cwd");
        { std::ofstream(dir / file_name, std::ios::binary) << text; }
        for (const auto& c : kCompanions) fs::copy_file(corpus_dir() / c, dir / c);
        const fs::path wf = dir / file_name, run_dir = dir / "run";

        CaseResult r;
        auto& p = r.problems;
        r.graph = run_process({s_.binary.string(), "graph", wf.string()}, dir / "cwd", {20s, std::nullopt});
        const bool graph_fatal = check_fatal("graph", r.graph, p);
        if (!graph_fatal) {
            if (r.graph.exited(2)) check_input_error("graph", r.graph, dir, p);
            else if (!r.graph.exited(0)) p.push_back({fmt::format("graph: exit {}", r.graph.code), excerpt(r.graph.err)});
        }
        // A graph that hangs or crashes would do the same in run: no need to wait twice.
        if (!graph_fatal) {
            r.ran = true;
            r.run = run_process({s_.binary.string(), "run", wf.string(), "--run-dir", run_dir.string(), "--quiet", "--cores", "1"},
                                dir / "cwd", {20s, 10s});
            const bool run_fatal = check_fatal("run", r.run, p);
            const bool made_run_dir = fs::exists(run_dir);
            if (!run_fatal) {
                const int c = r.run.code;
                if (r.run.timed_out) {
                    if (c != 130) p.push_back({fmt::format("run: SIGTERM at the time limit gave {} (not 130)", r.run.describe()), excerpt(r.run.err)});
                    else ++slow_runs_;
                } else if (c == 2) {
                    check_input_error("run", r.run, dir, p);
                    if (made_run_dir) p.push_back({"run: exit 2 after the run folder was created", excerpt(r.run.err)});
                } else if (c == 4) {
                    p.push_back({"run: exit 4 (storage error) in a healthy scratch folder: " + message_shape(r.run.err), excerpt(r.run.err)});
                } else if (c == 1) {
                    if (!made_run_dir) p.push_back({"run: exit 1 before anything ran (an untyped error?): " + message_shape(r.run.err), excerpt(r.run.err)});
                } else if (c == 0) {
                    if (!fs::exists(run_dir / "results.h5")) p.push_back({"run: exit 0 without results.h5", excerpt(r.run.err)});
                } else if (c != 3) {
                    p.push_back({fmt::format("run: exit {}", c), excerpt(r.run.err)});
                }
                if (r.graph.exited(2) && !r.run.exited(2))
                    p.push_back({"graph refuses (exit 2) what run accepts", fmt::format("graph: {} / run: {}", excerpt(r.graph.err), r.run.describe())});
            }
        }
        // Nothing outside the run folder: the working folder empty, the workflow's folder as made.
        std::set<std::string> allowed{file_name, "cwd", "run"};
        allowed.insert(kCompanions.begin(), kCompanions.end());
        std::vector<std::string> stray;
        for (const auto& e : fs::directory_iterator(dir))
            if (!allowed.count(e.path().filename().string())) stray.push_back(e.path().filename().string());
        for (const auto& e : fs::directory_iterator(dir / "cwd")) stray.push_back("cwd/" + e.path().filename().string());
        if (!stray.empty()) {
            std::string list;
            for (const auto& x : stray) list += (list.empty() ? "" : ", ") + excerpt(x, 80);
            p.push_back({"wrote outside the run folder", list});
        }
        if (!minimizing_) {
            ++cases_;
            ++graph_exits_[r.graph.describe()];
            ++run_exits_[r.ran ? r.run.describe() : "not run"];
            if (r.graph.exited(2)) ++refusals_[message_shape(r.graph.err)];
        }
        return r;
    }

    // Removes lines, then halves of long lines, while the case keeps failing with `cls`.
    std::string minimize(const std::string& file_name, std::string text, const std::string& cls) {
        const auto until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s_.minimize_seconds));
        auto still_fails = [&](const std::string& t) {
            if (Clock::now() > until) return false;
            const auto r = run_case(file_name, t);
            return std::any_of(r.problems.begin(), r.problems.end(), [&](const Problem& p) { return p.cls == cls; });
        };
        bool progress = true;
        while (progress && Clock::now() < until) {
            progress = false;
            auto lines = split_lines(text);
            for (std::size_t i = lines.size(); i-- > 0 && Clock::now() < until;) {
                auto fewer = lines;
                fewer.erase(fewer.begin() + static_cast<long>(i));
                if (still_fails(join(fewer))) {
                    lines = std::move(fewer);
                    text = join(lines);
                    progress = true;
                }
            }
            for (std::size_t i = 0; i < lines.size() && Clock::now() < until; ++i) {
                if (lines[i].size() < 200) continue;
                auto shorter = lines;
                shorter[i] = lines[i].substr(0, lines[i].size() / 2) + "\n";
                if (still_fails(join(shorter))) {
                    lines = std::move(shorter);
                    text = join(lines);
                    progress = true;
                }
            }
        }
        return text;
    }

    // Records the problems of a case; the first example of a new class is minimized. Returns the
    // folder the input was kept in ("" if it was not kept: enough examples of its class).
    std::string record(const std::string& label, const std::string& replay_hint, const std::string& file_name,
                       const std::string& text, const CaseResult& r) {
        std::string kept;
        for (const auto& p : r.problems) {
            auto& c = classes_[p.cls];
            ++c.count;
            if (c.examples.size() >= 3) continue;
            std::string slug;
            for (const char ch : p.cls) slug += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
            slug = slug.substr(0, 80);
            const fs::path out = s_.failures / slug / fmt::format("{}", c.examples.size() + 1);
            fs::remove_all(out);
            fs::create_directories(out);
            { std::ofstream(out / file_name, std::ios::binary) << text; }
            for (const auto& comp : kCompanions) fs::copy_file(corpus_dir() / comp, out / comp, fs::copy_options::overwrite_existing);
            std::ofstream(out / "report.txt") << fmt::format(
                "class:  {}\ncase:   {}\nreplay: {}\ndetail: {}\ngraph:  {} ({:.2f} s)\n  stderr: {}\nrun:    {} ({:.2f} s)\n  stderr: {}\n",
                p.cls, label, replay_hint, p.detail, r.graph.describe(), r.graph.seconds, excerpt(r.graph.err, 2000),
                r.ran ? r.run.describe() : "not run", r.run.seconds, excerpt(r.run.err, 2000));
            c.examples.push_back(out.string());
            if (c.examples.size() == 1 && s_.minimize_seconds > 0) {
                // The cases of a minimization are not counted in the summary.
                minimizing_ = true;
                const auto small = minimize(file_name, text, p.cls);
                minimizing_ = false;
                std::ofstream(out / ("minimized-" + file_name), std::ios::binary) << small;
            }
            if (kept.empty()) kept = out.string();
            fmt::print("FUZZ FAILURE [{}] {}\n  {}\n  input kept in {}\n  replay: {}\n", p.cls, label, excerpt(p.detail), out.string(), replay_hint);
            std::fflush(stdout);
        }
        return kept;
    }

    struct Class {
        std::size_t count = 0;
        std::vector<std::string> examples;
    };
    const std::map<std::string, Class>& classes() const { return classes_; }
    std::size_t cases() const { return cases_; }

    std::string summary(double seconds) const {
        std::string s = fmt::format("workflow fuzzer: {} cases in {:.0f} s ({:.1f} cases/s), seed {}, binary {}\n", cases_,
                                    seconds, static_cast<double>(cases_) / std::max(seconds, 1e-9), s_.seed, s_.binary.string());
        s += "  graph:";
        for (const auto& [k, n] : graph_exits_) s += fmt::format(" [{}] {}", k, n);
        s += "\n  run:  ";
        for (const auto& [k, n] : run_exits_) s += fmt::format(" [{}] {}", k, n);
        s += fmt::format("\n  runs stopped at the time limit (SIGTERM -> 130): {}\n", slow_runs_);
        // What validation refused most: which parts of the loader the mutations reach.
        std::vector<std::pair<std::size_t, std::string>> top;
        for (const auto& [k, n] : refusals_) top.emplace_back(n, k);
        std::sort(top.rbegin(), top.rend());
        s += fmt::format("  graph refusals: {} distinct messages; most frequent:\n", refusals_.size());
        for (std::size_t i = 0; i < std::min<std::size_t>(top.size(), 12); ++i)
            s += fmt::format("    {:>5} x {}\n", top[i].first, top[i].second);
        s += fmt::format("  failure classes: {}\n", classes_.size());
        for (const auto& [k, c] : classes_)
            s += fmt::format("    {:>5} x {}\n          e.g. {}\n", c.count, k, c.examples.empty() ? "" : c.examples.front());
        return s;
    }

private:
    Settings s_;
    std::size_t cases_ = 0, slow_runs_ = 0;
    std::map<std::string, std::size_t> graph_exits_, run_exits_, refusals_;
    std::map<std::string, Class> classes_;
    bool minimizing_ = false;
};

std::string read_file(const fs::path& p) { return interphase::testing::slurp(p); }

std::vector<std::pair<std::string, std::string>> corpus() {
    std::vector<std::pair<std::string, std::string>> files;
    for (const auto& e : fs::directory_iterator(corpus_dir()))
        if (e.path().extension() == ".yaml") files.emplace_back(e.path().filename().string(), read_file(e.path()));
    std::sort(files.begin(), files.end());
    return files;
}

// Inputs whose size is the point: made here rather than committed.
std::vector<std::pair<std::string, std::string>> generated_cases() {
    const std::string valid = read_file(corpus_dir() / "valid_binding_energy.yaml");
    std::vector<std::pair<std::string, std::string>> g;
    g.emplace_back("hostile_gen_nesting_list_10000.yaml", "name: deep\nx: " + std::string(10000, '[') + std::string(10000, ']') + "\n");
    g.emplace_back("hostile_gen_nesting_unclosed_100000.yaml", "name: deep\ncalculator: " + std::string(100000, '[') + "\n");
    std::string maps = "calculator:\n";
    for (int i = 1; i <= 2000; ++i) maps += std::string(static_cast<std::size_t>(i), ' ') + "a:\n";
    g.emplace_back("hostile_gen_nesting_block_2000.yaml", maps);
    std::string flow;
    for (int i = 0; i < 10000; ++i) flow += "{a: ";
    g.emplace_back("hostile_gen_nesting_map_10000.yaml", "name: deep\nprotocol: " + flow + "1" + std::string(10000, '}') + "\n");
    g.emplace_back("hostile_gen_20MB.yaml", valid + "description: " + std::string(20u << 20, 'x') + "\n");
    std::string comments;
    while (comments.size() < (3u << 20)) comments += "# " + std::string(100, '-') + "\n";
    g.emplace_back("valid_gen_3MB_of_comments.yaml", comments + valid);
    std::string hosts = "name: many\ncalculator: {code: emt}\nadsorbate: Cu\nhosts:\n";
    for (int i = 0; i < 20000; ++i) hosts += fmt::format("  - {{name: h{}, phase: Al}}\n", i);
    // 100,003 in-process tasks: whatever the exit, SIGTERM at the time limit must stop the run with 130.
    g.emplace_back("gen_sigterm_in_process_pass_20000_hosts.yaml", hosts);
    std::string anchors = "name: anchors\n";
    for (int i = 0; i < 100000; ++i) anchors += fmt::format("a{}: &a{} x\n", i, i);
    g.emplace_back("hostile_gen_100000_anchors.yaml", anchors);
    return g;
}

// The exit a corpus file must give, by its name's prefix (none: only the general contract).
std::optional<int> expected_exit(const std::string& name) {
    if (name.starts_with("valid_")) return 0;
    if (name.starts_with("hostile_")) return 2;
    if (name.starts_with("runtime_")) return 1;
    return std::nullopt;
}

void report_classes(const Fuzzer& f) {
    for (const auto& [cls, c] : f.classes())
        FAIL_CHECK(fmt::format("{} case(s) of [{}]; inputs kept in {}", c.count, cls, c.examples.empty() ? "?" : fs::path(c.examples.front()).parent_path().string()));
}

}  // namespace

TEST_CASE("the workflow corpus and the generated giants keep the CLI contract") {
    auto s = Settings::from_env();
    if (s.replay || s.only_case) return;  // a replay runs in the mutation test case only
    REQUIRE(fs::exists(s.binary));
    Fuzzer f(s);
    const auto start = Clock::now();
    auto files = corpus();
    REQUIRE(files.size() >= 20);
    for (auto& g : generated_cases()) files.push_back(std::move(g));
    for (const auto& [name, text] : files) {
        const auto r = f.run_case(name, text);
        f.record(name, fmt::format("INTERPHASE_FUZZ_REPLAY=tests/fuzz/corpus/workflow/{} (or the kept copy)", name), name, text, r);
        if (const auto want = expected_exit(name); want && r.problems.empty()) {
            const bool ok = *want == 2 ? r.graph.exited(2) && r.run.exited(2) : r.run.exited(*want) && r.graph.exited(0);
            CHECK_MESSAGE(ok, fmt::format("{}: expected exit {}, got graph {} / run {}\n  graph: {}\n  run: {}", name, *want,
                                          r.graph.describe(), r.run.describe(), excerpt(r.graph.err), excerpt(r.run.err)));
        }
    }
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    std::cout << f.summary(secs) << std::flush;
    report_classes(f);
}

TEST_CASE("seeded mutations of the workflow corpus keep the CLI contract") {
    auto s = Settings::from_env();
    REQUIRE(fs::exists(s.binary));
    Fuzzer f(s);
    const auto start = Clock::now();
    if (s.replay) {
        const auto r = f.run_case(s.replay->filename().string(), read_file(*s.replay));
        fmt::print("replay {}: graph {} ({:.2f} s), run {} ({:.2f} s)\n  graph stderr: {}\n  run stderr: {}\n", s.replay->string(),
                   r.graph.describe(), r.graph.seconds, r.run.describe(), r.run.seconds, excerpt(r.graph.err, 2000), excerpt(r.run.err, 2000));
        for (const auto& p : r.problems) FAIL_CHECK(fmt::format("[{}] {}", p.cls, p.detail));
        return;
    }
    const auto seeds = corpus();
    REQUIRE(!seeds.empty());
    fmt::print("workflow fuzzer: seed {} (replay a case: INTERPHASE_FUZZ_SEED={} INTERPHASE_FUZZ_CASE=N), {} s of mutations, failures kept in {}\n",
               s.seed, s.seed, s.only_case ? 0.0 : s.seconds, s.failures.string());
    std::fflush(stdout);
    const auto until = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s.seconds));
    for (std::uint64_t i = s.only_case.value_or(0); s.only_case ? i == *s.only_case : Clock::now() < until; ++i) {
        const auto m = mutate(seeds, s.seed, i);
        const auto r = f.run_case(m.file_name, m.text);
        const auto hint = fmt::format("INTERPHASE_FUZZ_SEED={} INTERPHASE_FUZZ_CASE={} {}", s.seed, i, "fuzz_test_workflow_fuzz -tc='seeded*'");
        f.record(fmt::format("case {} ({})", i, m.origin), hint, m.file_name, m.text, r);
        if (s.only_case)
            fmt::print("case {} ({}): graph {}, run {}\n  graph stderr: {}\n  run stderr: {}\n", i, m.origin, r.graph.describe(),
                       r.run.describe(), excerpt(r.graph.err, 2000), excerpt(r.run.err, 2000));
    }
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    std::cout << f.summary(secs) << std::flush;
    CHECK(f.cases() > 0);
    report_classes(f);
}
