// `interphase build slab` end to end: the built CLI (or the binary named by $INTERPHASE_CLI) on
// the shipped phases — folder output with summary.json, single files with the old options,
// 4-index Miller input, and bad input that must name the option and exit with code 2.
#include <doctest/doctest.h>

#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "structures/io.hpp"
#include "structures/slab.hpp"
#include "test_paths.hpp"

using namespace interphase;
using namespace interphase::structures;
namespace fs = std::filesystem;

namespace {

struct Run {
    int code;
    std::string out, err;
};

Run run(const fs::path& dir, const std::string& args) {
    const char* env = std::getenv("INTERPHASE_CLI");
    const std::string exe = env ? env : testing::cli().string();
    const auto out = dir / "stdout.txt", err = dir / "stderr.txt";
    const std::string cmd = fmt::format("cd '{}' && '{}' {} > '{}' 2> '{}'", dir.string(), exe, args, out.string(), err.string());
    const int status = std::system(cmd.c_str());
    auto slurp = [](const fs::path& p) {
        std::ifstream in(p);
        std::stringstream ss;
        ss << in.rdbuf();
        return ss.str();
    };
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

}  // namespace

TEST_CASE("build slab --all-terminations writes one file per slab and summary.json") {
    const auto dir = testing::scratch("slab-cli-all");
    const auto r = run(dir, "build slab Li2S --miller 1,1,1 --thickness 10 --vacuum 10 --all-terminations "
                            "--fix-bottom 2 --format cif -o slabs/");
    INFO(r.out, r.err);
    REQUIRE(r.code == 0);
    nlohmann::json summary;
    std::ifstream(dir / "slabs" / "summary.json") >> summary;
    REQUIRE(summary["slabs"].size() == 2);
    CHECK(summary["terminations"].size() == 2);
    CHECK(summary["parameters"]["thickness"] == 10.0);
    for (const auto& e : summary["slabs"]) {
        const auto file = dir / "slabs" / e["file"].get<std::string>();
        REQUIRE(fs::exists(file));
        const auto s = read_structure(file);
        CHECK(s.size() == 12);  // pymatgen's 4 oriented cells of 3 atoms
        CHECK(e["atoms"] == 12);
        int fixed = 0;
        for (const auto& a : s.atoms()) fixed += a.fixed;
        CHECK(fixed == e["fixed_atoms"].get<int>());
        CHECK(fixed > 0);
        CHECK(r.out.find(e["file"].get<std::string>()) != std::string::npos);
    }
    CHECK(summary["slabs"][0]["label"] == "Li|Li");
    CHECK(summary["slabs"][1]["label"] == "S|Li");
    CHECK(summary["slabs"][1]["polar"] == true);
}

TEST_CASE("build slab keeps --layers, --termination, --supercell, --fix-bottom-layers, --list-terminations") {
    const auto dir = testing::scratch("slab-cli-old");
    auto r = run(dir, "build slab Al --miller 1,1,1 --layers 3 --supercell 2,2 --fix-bottom-layers 1 -o al.vasp");
    INFO(r.out, r.err);
    REQUIRE(r.code == 0);
    const auto al = read_structure(dir / "al.vasp");
    CHECK(al.size() == 12);
    int fixed = 0;
    for (const auto& a : al.atoms()) fixed += a.fixed;
    CHECK(fixed == 4);

    r = run(dir, "build slab Li2S --miller 111 --termination S -o s.extxyz");
    REQUIRE(r.code == 0);
    CHECK(read_structure(dir / "s.extxyz").info["termination_label"] == "S|Li");
    r = run(dir, "build slab Li2S --miller 111 --termination 'S|Li' --symmetric -o ss.cif");
    REQUIRE(r.code == 0);
    const auto ss = read_structure(dir / "ss.cif");
    CHECK(ss.formula() == "Li6S4");

    // Hexagonal 4-index input for Li3P (P6_3/mmc): (10-10) = (100), two unique terminations.
    r = run(dir, "build slab Li3P --miller 1,0,-1,0 --list-terminations");
    REQUIRE(r.code == 0);
    CHECK(r.out.find("2 unique terminations") != std::string::npos);
    r = run(dir, "build slab Li3P --miller 0,0,0,1 --all-terminations -o li3p");
    REQUIRE(r.code == 0);
    CHECK(r.out.find("wrote 2 slabs") != std::string::npos);
}

TEST_CASE("build slab: bad input exits 2 and names the option") {
    const auto dir = testing::scratch("slab-cli-bad");
    struct Bad { const char* args; const char* option; };
    const Bad cases[] = {
        {"build slab Li2S --miller 0,0,0 -o x.cif", "--miller"},
        {"build slab Li2S --miller 1,1,1,0 -o x.cif", "--miller"},
        {"build slab Li2S --miller 1,1,1 --thickness=-1 -o x.cif", "--thickness"},
        {"build slab Li2S --miller 1,1,1 --thickness 0 -o x.cif", "--thickness"},
        {"build slab Li2S --miller 1,1,1 --fix-bottom=-1 -o x.cif", "--fix-bottom"},
        {"build slab Li2S --miller 1,1,1 --all-terminations -o x.cif", "--output"},
        {"build slab Li2S --miller 1,1,1 --all-terminations --format pdb -o d/", "--format"},
        {"build slab Li2S --miller 1,1,1 --charges Li -o x.cif", "--charges"},
        {"build slab Li2S --miller 1,1,1 --supercell 0,1 -o x.cif", "--supercell"},
        {"build slab Li2S --miller 1,1,1 --termination Cl -o x.cif", "termination"},
        {"build slab Li2S --miller 1,1,1 --vacuum=-3 -o x.cif", "--vacuum"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.args);
        const auto r = run(dir, c.args);
        CHECK(r.code == 2);
        CHECK(r.err.find(c.option) != std::string::npos);
        CHECK(!fs::exists(dir / "x.cif"));
    }
    // A polar plane without any operation that turns it over has no symmetric slab.
    Structure zb(Eigen::Matrix3d::Identity() * 5.4);
    for (const auto& f : {Eigen::Vector3d(0, 0, 0), Eigen::Vector3d(0, 0.5, 0.5), Eigen::Vector3d(0.5, 0, 0.5),
                          Eigen::Vector3d(0.5, 0.5, 0)}) {
        zb.add_atom("Li", f);
        zb.add_atom("Cl", f + Eigen::Vector3d(0.25, 0.25, 0.25));
    }
    write_structure(dir / "zb.cif", zb);
    const auto r = run(dir, "build slab zb.cif --miller 1,1,1 --symmetric -o x.cif");
    CHECK(r.code == 2);
    CHECK(r.err.find("symmetric") != std::string::npos);
}
