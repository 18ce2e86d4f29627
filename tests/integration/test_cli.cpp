// The `interphase` command as a user meets it: build commands write files ASE can read, and
// every bad input gives one clear line on stderr naming the file and line or field, a non-zero
// exit, and leaves an existing run folder untouched.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <sys/wait.h>

#include "structures/io.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;
using namespace interphase;

using interphase::testing::CliResult;
using interphase::testing::slurp;

namespace {

// Every file under a folder with its content, to prove a folder was left intact.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
    std::map<std::string, std::string> m;
    for (const auto& e : fs::recursive_directory_iterator(dir))
        if (e.is_regular_file()) m[e.path().string()] = slurp(e.path());
    return m;
}

const char* kWorkflow = R"(name: cli
calculator:
  code: cp2k
hosts:
  - name: Al(111)
    phase: Al
)";
}  // namespace

TEST_CASE("--version and --help on every command") {
    const auto dir = testing::scratch("cli-help");
    auto r = testing::cli_in(dir, {"--version"});
    CHECK(r.exit_code == 0);
    CHECK(r.out.find("interphase 0.") != std::string::npos);
    for (std::vector<std::string> c : std::vector<std::vector<std::string>>{
             {"--help"}, {"run", "--help"}, {"status", "--help"}, {"results", "--help"}, {"build", "bulk", "--help"},
             {"build", "slab", "--help"}, {"resume", "--help"}, {"graph", "--help"}}) {
        r = testing::cli_in(dir, c);
        CHECK_MESSAGE(r.exit_code == 0, c.front());
        CHECK(r.out.find("Usage") != std::string::npos);
    }
}

TEST_CASE("build bulk and build slab write files in the format of the extension") {
    const auto dir = testing::scratch("cli-build");
    auto r = testing::cli_in(dir, {"build", "bulk", "Li2S", "-o", "li2s.cif"});
    REQUIRE(r.exit_code == 0);
    CHECK(structures::read_structure(dir / "li2s.cif").size() == 12);
    r = testing::cli_in(dir, {"build", "slab", "Al", "--miller", "1,1,1", "--layers", "4", "--supercell", "2,2", "--fix-bottom-layers",
                  "2", "-o", "POSCAR"});
    REQUIRE(r.exit_code == 0);
    const auto slab = structures::read_structure(dir / "POSCAR");
    CHECK(slab.size() == 16);
    CHECK(std::count_if(slab.atoms().begin(), slab.atoms().end(), [](const auto& a) { return a.fixed; }) == 8);
    r = testing::cli_in(dir, {"build", "slab", "li2s.cif", "--miller", "111", "--layers", "2", "-o", "slab.xyz"});
    REQUIRE(r.exit_code == 0);
    CHECK(structures::read_structure(dir / "slab.xyz").formula() == "Li4S2");
    if (std::system("/usr/bin/python3 -c 'import ase' 2>/dev/null") == 0) {
        const std::string py = "cd '" + dir.string() +
                               "' && /usr/bin/python3 -c \"import ase.io; a=ase.io.read('slab.xyz'); "
                               "b=ase.io.read('POSCAR'); assert len(a)==6 and len(b)==16, (len(a), len(b))\"";
        CHECK(std::system(py.c_str()) == 0);
    } else {
        MESSAGE("python3-ase missing: ASE read-back skipped");
    }
}

TEST_CASE("bad input: one line, names the file and line or field, non-zero exit, run folder intact") {
    const auto dir = testing::scratch("cli-bad");
    // An existing run folder that must survive every failed command below.
    fs::create_directories(dir / "runs/cli/tasks/x");
    std::ofstream(dir / "runs/cli/state.sqlite") << "precious";
    std::ofstream(dir / "runs/cli/tasks/x/cp2k.out") << "finished work";
    const auto before = snapshot(dir / "runs");

    struct Case {
        std::string name, file, content;
        std::vector<std::string> args;
        std::vector<std::string> expect;
    };
    std::string unknown_phase = kWorkflow;
    unknown_phase.replace(unknown_phase.find("phase: Al"), 9, "phase: Alu");
    std::string missing_exe = kWorkflow;
    missing_exe.replace(missing_exe.find("code: cp2k"), 10, "code: cp2k\n  executable: cp2k-not-here");
    const std::vector<Case> cases{
        {"unknown phase", "wf.yaml", unknown_phase, {"run", "wf.yaml"}, {"wf.yaml:6", "hosts[0].phase", "Alu", "did you mean 'Al'"}},
        {"malformed YAML", "wf.yaml", "name: cli\nhosts: [\n  - {phase: Al\n", {"run", "wf.yaml"}, {"wf.yaml:", "invalid YAML"}},
        {"missing CP2K executable", "wf.yaml", missing_exe, {"run", "wf.yaml"}, {"cp2k-not-here", "calculator.executable"}},
        {"truncated POSCAR", "bad.vasp", "Al\n1.0\n4.05 0 0\n0 4.05 0\n0 0 4.05\nAl\n4\nDirect\n0 0 0\n0 .5 .5\n",
         {"build", "slab", "bad.vasp", "--miller", "1,1,1", "-o", "out.vasp"}, {"bad.vasp:", "line"}},
        {"singular lattice", "flat.vasp", "Al\n1.0\n4.05 0 0\n4.05 0 0\n0 0 4.05\nAl\n1\nDirect\n0 0 0\n",
         {"build", "slab", "flat.vasp", "--miller", "1,1,1", "-o", "out.vasp"}, {"flat.vasp", "singular"}},
        {"unknown bulk phase", "", "", {"build", "bulk", "Li2Sx", "-o", "x.cif"}, {"Li2Sx", "did you mean 'Li2S'"}},
        {"bad Miller index", "", "", {"build", "slab", "Al", "--miller", "1,x,1", "-o", "x.cif"}, {"miller", "1,x,1"}},
        {"unknown output format", "", "", {"build", "bulk", "Al", "-o", "x.docx"}, {"x.docx", ".cif"}},
        {"status of a folder that is no run", "", "", {"status", "nowhere"}, {"nowhere", "not an Interphase run folder"}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        if (!c.file.empty()) std::ofstream(dir / c.file) << c.content;
        const auto r = testing::cli_in(dir, c.args);
        CHECK(r.exit_code != 0);
        CHECK(r.exit_code != 70);  // never an internal error
        CHECK(testing::count_lines(r.err) == 1);
        CHECK(r.err.rfind("interphase: error: ", 0) == 0);
        for (const auto& e : c.expect) {
            const std::string why = "stderr: " + r.err + " lacks " + e;
            CHECK_MESSAGE(r.err.find(e) != std::string::npos, why);
        }
    }
    CHECK(snapshot(dir / "runs") == before);
    CHECK_FALSE(fs::exists(dir / "out.vasp"));
}
