// Paths the tests need: the source tree, the shared fixtures, the built CLI, scratch folders.
#pragma once
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace interphase::testing {
inline std::filesystem::path source_dir() { return INTERPHASE_SOURCE_DIR; }
inline std::filesystem::path fixtures_dir() { return INTERPHASE_FIXTURES_DIR; }
inline std::filesystem::path cli() { return INTERPHASE_BINARY; }
/// A fresh scratch folder under the test's working directory, removed first if it exists.
inline std::filesystem::path scratch(const std::string& name) {
    auto p = std::filesystem::current_path() / "scratch" / (name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(p);
    std::filesystem::create_directories(p);
    return p;
}

/// Whether the reference implementations / external codes are installed (tests skip without).
inline bool have_python_module(const std::string& module) {
    return std::system(("/usr/bin/python3 -c 'import " + module + "' >/dev/null 2>&1").c_str()) == 0;
}
inline bool have_ase() { return have_python_module("ase.calculators.emt"); }
inline bool have_h5py() { return have_python_module("h5py"); }
inline bool have_cp2k() { return std::system("command -v cp2k.psmp > /dev/null 2>&1") == 0; }

/// Number of lines of a text.
inline std::size_t count_lines(const std::string& s) { return static_cast<std::size_t>(std::count(s.begin(), s.end(), '\n')); }

/// The whole file as a string ("" if it cannot be read).
inline std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// Runs a shell command (fixed test text), returning its exit status and standard output.
inline std::pair<int, std::string> run_command(const std::string& command) {
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (!pipe) return {-1, out};
    char buffer[4096];
    std::size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.append(buffer, n);
    const int status = ::pclose(pipe);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

/// Runs the built CLI in `dir` with `args`, stdout and stderr into `dir/log`; returns the exit code.
inline int run_cli(const std::filesystem::path& dir, const std::string& args, const std::string& log) {
    const std::string cmd = "cd '" + dir.string() + "' && '" + cli().string() + "' " + args + " > '" + log + "' 2>&1";
    const int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/// Every number dataset of a results.h5 outside /provenance, dumped as sorted JSON by h5py (the
/// user's reader, Debian's python3-h5py): equal strings = equal science. "<unreadable>" on failure.
inline std::string h5_numbers(const std::filesystem::path& file) {
    const std::filesystem::path out = file.parent_path() / "h5dump.json";
    const std::string py = "/usr/bin/python3 -c \"import h5py, json, sys\n"
                           "out = {}\n"
                           "def visit(name, obj):\n"
                           "    if isinstance(obj, h5py.Dataset) and not name.startswith('provenance') and obj.dtype.kind in 'fi':\n"
                           "        out[name] = obj[()].tolist()\n"
                           "with h5py.File(sys.argv[1], 'r') as f:\n"
                           "    f.visititems(visit)\n"
                           "json.dump(out, open(sys.argv[2], 'w'), sort_keys=True)\" '" +
                           file.string() + "' '" + out.string() + "'";
    if (std::system(py.c_str()) != 0) return "<unreadable>";
    return slurp(out);
}

struct CliResult {
    int exit_code;
    std::string out, err;
};

/// Runs the built CLI in `dir` with arguments (test-controlled strings, single-quoted for the
/// shell); stdout and stderr are kept in dir/out.txt and dir/err.txt and returned.
inline CliResult cli_in(const std::filesystem::path& dir, const std::vector<std::string>& args) {
    std::string cmd = "cd '" + dir.string() + "' && '" + cli().string() + "'";
    for (const auto& a : args) cmd += " '" + a + "'";
    cmd += " > out.txt 2> err.txt";
    const int status = std::system(cmd.c_str());
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(dir / "out.txt"), slurp(dir / "err.txt")};
}
/// Another process (the sqlite3 program) holding the write lock of the cache `file` until
/// release() or destruction, as a second engine writing a shared cache would. With
/// `exclusive_mode` (locking_mode=EXCLUSIVE, no shared WAL index) readers are kept out too.
/// Throws if the lock is not held within 10 s.
class CacheWriteLock {
public:
    explicit CacheWriteLock(const std::filesystem::path& file, bool exclusive_mode = false) {
        const std::string quoted = "'" + file.string() + "'";
        pipe_ = ::popen(("sqlite3 " + quoted + " > /dev/null 2>&1").c_str(), "w");
        if (pipe_ == nullptr) throw std::runtime_error("cannot start sqlite3");
        if (exclusive_mode) std::fputs("PRAGMA locking_mode=EXCLUSIVE;\n", pipe_);
        // The program waits for our probes too (it has no busy timeout by default).
        std::fputs(".timeout 10000\nBEGIN EXCLUSIVE;\nINSERT INTO results(hash, kind, output, run_dir, task, created) "
                   "VALUES('held', 'x', '{}', 'elsewhere', 't', 0);\n",
                   pipe_);
        std::fflush(pipe_);
        // Held once a writer of our own cannot start (a probe without a busy timeout).
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (run_command("sqlite3 " + quoted + " 'BEGIN IMMEDIATE; ROLLBACK;' > /dev/null 2>&1").first == 0) {
            if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("sqlite3 did not take the lock of " + quoted);
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    void release() {
        if (pipe_ == nullptr) return;
        std::fputs("COMMIT;\n.quit\n", pipe_);
        ::pclose(pipe_);
        pipe_ = nullptr;
    }
    ~CacheWriteLock() { release(); }
    CacheWriteLock(const CacheWriteLock&) = delete;
    CacheWriteLock& operator=(const CacheWriteLock&) = delete;

private:
    FILE* pipe_ = nullptr;
};
}  // namespace interphase::testing
