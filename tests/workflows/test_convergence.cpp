// Convergence studies (`interphase converge`): the setting lands where the workflow file keeps
// it; a real study with the builtin EMT calculator gives, for each value, exactly what a plain
// run of the hand-edited workflow gives; what the setting does not touch comes from the shared
// cache; the converged-from value is where the numbers stay within the tolerance of the
// reference; bad settings and values are refused with one line before anything runs.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <yaml-cpp/yaml.h>

#include "common/errors.hpp"
#include "engine/runner.hpp"
#include "engine/store.hpp"
#include "workflows/convergence/convergence.hpp"
#include "workflows/results.hpp"
#include "workflows/run.hpp"
#include "workflows/workflow_file.hpp"
#include "test_paths.hpp"

using namespace interphase;
using namespace interphase::workflows;
namespace cv = interphase::workflows::convergence;
namespace fs = std::filesystem;

namespace {

// Two surfaces and a pair, small enough for seconds with EMT; `layers` is what the study varies.
std::string workflow_text(const std::string& layers_al, const std::string& layers_cu) {
    return "name: conv-emt\n"
           "calculator: {code: emt}\n"
           "protocol: fast\n"
           "adsorbate: Au\n"
           "hosts:\n"
           "  - {name: Al(111), phase: Al, miller: [1, 1, 1], layers: " + layers_al +
           ", supercell: [2, 2], vacuum: 8, fix_bottom_layers: 1, sites: [fcc_hollow]}\n"
           "  - {name: Cu(111), phase: Cu, miller: [1, 1, 1], layers: " + layers_cu +
           ", supercell: [2, 2], vacuum: 8, fix_bottom_layers: 1, sites: [fcc_hollow]}\n"
           "pairs:\n"
           "  - [Al(111), Cu(111)]\n";
}

void write(const fs::path& file, const std::string& text) {
    std::ofstream out(file);
    out << text;
}

}  // namespace

TEST_CASE("a varied setting is written where the workflow file keeps it") {
    const std::string base = "name: w\ncalculator: {code: cp2k}\nprotocol: standard\nadsorbate: Li\nhosts:\n"
                             "  - {name: S, phase: Al, miller: [1, 1, 1]}\n"
                             "  - {name: B, kind: bulk, phase: Al, supercell: [2, 2, 2]}\n";
    SUBCASE("protocol: a named protocol becomes a mapping that keeps its name") {
        const auto y = YAML::Load(cv::workflow_with(base, "w.yaml", cv::setting("kpoint_spacing"), "0.15"));
        CHECK(y["protocol"]["name"].as<std::string>() == "standard");
        CHECK(y["protocol"]["kpoint_spacing"].as<double>() == 0.15);
    }
    SUBCASE("calculator: the code's own settings") {
        const auto y = YAML::Load(cv::workflow_with(base, "w.yaml", cv::setting("cutoff"), "800"));
        CHECK(y["calculator"]["code"].as<std::string>() == "cp2k");
        CHECK(y["calculator"]["cutoff"].as<int>() == 800);
    }
    SUBCASE("surface hosts only: a bulk host has no slab") {
        const auto y = YAML::Load(cv::workflow_with(base, "w.yaml", cv::setting("supercell"), "3x4"));
        CHECK(y["hosts"][0]["supercell"][0].as<int>() == 3);
        CHECK(y["hosts"][0]["supercell"][1].as<int>() == 4);
        const auto z = YAML::Load(cv::workflow_with(base, "w.yaml", cv::setting("supercell"), "[3, 3]"));
        CHECK(z["hosts"][0]["supercell"][1].as<int>() == 3);
        CHECK(y["hosts"][1]["supercell"].size() == 3);  // the bulk host's own, untouched
        CHECK(y["hosts"][1]["supercell"][0].as<int>() == 2);
    }
    SUBCASE("a slab setting replaces the host's other way of saying it") {
        const auto y = YAML::Load(cv::workflow_with(base, "w.yaml", cv::setting("area_per_adsorbate"), "50"));
        CHECK(y["hosts"][0]["area_per_adsorbate"].as<double>() == 50);
        CHECK(!y["hosts"][0]["supercell"]);
        const auto t = YAML::Load(cv::workflow_with(
            "name: w\ncalculator: {code: emt}\nadsorbate: Au\nhosts:\n  - {name: S, phase: Al, layers: 3}\n", "w.yaml",
            cv::setting("thickness"), "8"));
        CHECK(t["hosts"][0]["thickness"].as<double>() == 8);
        CHECK(!t["hosts"][0]["layers"]);
        CHECK_NOTHROW(parse_workflow(cv::workflow_with(base, "w.yaml", cv::setting("area_per_adsorbate"), "50"), "w.yaml"));
    }
    SUBCASE("workflow-level settings") {
        const auto y = YAML::Load(cv::workflow_with(base, "w.yaml", cv::setting("reference_box"), "20"));
        CHECK(y["reference_box"].as<double>() == 20);
    }
    SUBCASE("an unknown setting names the option and the nearest known name") {
        try {
            cv::setting("kpoint_spacin");
            FAIL("no error");
        } catch (const InputError& e) {
            CHECK(e.field() == "--setting");
            CHECK(std::string(e.what()).find("did you mean 'kpoint_spacing'") != std::string::npos);
        }
    }
    SUBCASE("a value that is not YAML, or a workflow without the place for the setting") {
        CHECK_THROWS_AS(cv::workflow_with(base, "w.yaml", cv::setting("cutoff"), "[1, 2"), InputError);
        const std::string no_surface = "name: w\ncalculator: {code: emt}\nadsorbate: Au\nhosts:\n"
                                       "  - {name: B, kind: bulk, phase: Al, supercell: [2, 2, 2]}\n";
        try {
            cv::workflow_with(no_surface, "w.yaml", cv::setting("vacuum"), "12");
            FAIL("no error");
        } catch (const InputError& e) {
            CHECK(e.source() == "w.yaml");
            CHECK(std::string(e.what()).find("no surface host") != std::string::npos);
        }
    }
}

TEST_CASE("a layers study with EMT: each value equals a plain run, the cache serves what does not change") {
    const auto dir = testing::scratch("converge-emt");
    write(dir / "wf.yaml", workflow_text("3", "3"));
    cv::StudyOptions o;
    o.workflow = dir / "wf.yaml";
    o.setting = "layers";
    o.values = {"2", "3", "4", "6"};
    o.tolerance = 0.02;
    o.out_dir = dir / "study";
    o.cores = 2;
    o.quiet = true;
    std::ostringstream log;
    const auto study = cv::run_study(o, log);
    INFO(log.str());
    REQUIRE(study.all_ok());
    REQUIRE(study.points.size() == 4);

    // Independent of the study machinery: the hand-written workflow at 4 layers, run plainly.
    write(dir / "four.yaml", workflow_text("4", "4"));
    engine::RunOptions plain{dir / "plain-4", 2, true, std::nullopt};
    REQUIRE(run_workflow(load_workflow(dir / "four.yaml"), plain, log).ok());
    engine::RunStore store(dir / "plain-4", engine::RunStore::Access::ReadOnly);
    const auto r = collect_results(store);
    REQUIRE(r.hosts.size() == 2);
    REQUIRE(r.pairs.size() == 1);
    const auto& four = study.points[2];
    CHECK(four.value == "4");
    for (const auto& h : r.hosts) {
        const auto it = std::find_if(four.binding_energies.begin(), four.binding_energies.end(),
                                     [&h](const auto& e) { return e.first == h.host; });
        REQUIRE(it != four.binding_energies.end());
        CHECK(it->second == doctest::Approx(h.binding_energy).epsilon(1e-10));
    }
    REQUIRE(four.delta_e.size() == 1);
    CHECK(four.delta_e[0].second == doctest::Approx(r.pairs[0].delta_e).epsilon(1e-10));
    // The slabs differ with the layer count, so E_b does: a study that varied nothing would not.
    CHECK(std::abs(study.points[0].binding_energies[0].second - study.points[3].binding_energies[0].second) > 1e-4);

    // The isolated Au atom does not depend on the slab: after the first value it comes from the cache.
    for (std::size_t i = 1; i < study.points.size(); ++i) {
        engine::RunStore s(study.points[i].run_dir, engine::RunStore::Access::ReadOnly);
        bool atom_from_cache = false;
        for (const auto& t : s.tasks())
            if (t.name.find("reference/") == 0 && t.kind == "calculation")
                atom_from_cache = t.reused && t.reused_from.find("cache.sqlite") != std::string::npos;
        CHECK_MESSAGE(atom_from_cache, study.points[i].run_dir.string());
    }

    // Deviations and the converged-from value, recomputed from the numbers themselves.
    const auto& ref = study.points.back();
    std::vector<double> dev;
    for (const auto& p : study.points) {
        double worst = std::abs(p.delta_e[0].second - ref.delta_e[0].second);
        for (std::size_t h = 0; h < p.binding_energies.size(); ++h)
            worst = std::max(worst, std::abs(p.binding_energies[h].second - ref.binding_energies[h].second));
        dev.push_back(worst);
        CHECK(p.max_deviation == doctest::Approx(worst).epsilon(1e-12));
    }
    CHECK(dev.back() == 0.0);
    std::optional<std::string> expected;
    for (std::size_t i = dev.size(); i-- > 0;) {
        if (dev[i] > o.tolerance) break;
        expected = study.points[i].value;
    }
    CHECK(study.converged_from == expected);

    // The files a user plots from.
    const auto j = nlohmann::json::parse(testing::slurp(o.out_dir / "convergence.json"));
    CHECK(j["setting"] == "layers");
    CHECK(j["reference"] == "6");
    CHECK(j["points"].size() == 4);
    CHECK(j["points"][1]["protocol"]["name"] == "fast");
    CHECK(j["points"][2]["binding_energy_eV"]["Cu(111)"].get<double>() == doctest::Approx(four.binding_energies[1].second));
    const std::string csv = testing::slurp(o.out_dir / "convergence.csv");
    CHECK(testing::count_lines(csv) == 1 + 4 * 3);
    const std::string table = cv::format_study(study);
    CHECK(table.find("E_b Al(111)") != std::string::npos);
    CHECK(table.find("ΔE Al(111) − Cu(111)") != std::string::npos);

    // The same study again: every task of every value is reused, the numbers are the same.
    std::ostringstream log2;
    const auto again = cv::run_study(o, log2);
    REQUIRE(again.all_ok());
    for (std::size_t i = 0; i < again.points.size(); ++i)
        CHECK(again.points[i].binding_energies == study.points[i].binding_energies);
    CHECK(log2.str().find("0 reused") == std::string::npos);
}

TEST_CASE("interphase converge refuses bad settings and values in one line, before anything runs") {
    const auto dir = testing::scratch("converge-cli");
    write(dir / "wf.yaml", workflow_text("3", "3"));
    const auto one_line = [&dir](const std::string& args, const std::string& expect) {
        CAPTURE(args);
        const int code = testing::run_cli(dir, args, "err.txt");
        CHECK(code == 2);
        const std::string err = testing::slurp(dir / "err.txt");
        CHECK(err.find(expect) != std::string::npos);
        CHECK(testing::count_lines(err) == 1);
        CHECK(!fs::exists(dir / "study"));
    };
    one_line("converge wf.yaml --setting kspacing --values 0.3 0.2 --out study", "--setting");
    one_line("converge wf.yaml --setting layers --values 3 abc --out study", "layers=abc");
    one_line("converge wf.yaml --setting layers --values 3 3 --out study", "given twice");
    one_line("converge wf.yaml --setting vacuum --values 10 2 --out study", "vacuum=2");
}

TEST_CASE("a study stopped before its reference says so and compares nothing") {
    cv::Study st;
    st.workflow_name = "w";
    st.setting = "kpoint_spacing_metal";
    st.unit = "Å⁻¹";
    st.reference = "0.15";
    st.tolerance = 0.01;
    st.interrupted = true;
    cv::Point a;
    a.value = "0.40";
    a.ok = true;
    a.state = "done";
    a.binding_energies = {{"Al(111)", -1.4966}};
    cv::Point b;
    b.value = "0.25";
    b.state = "interrupted";
    st.points = {a, b};
    const std::string table = cv::format_study(st);
    CHECK(table.find("reference = the last value (0.15)") != std::string::npos);
    CHECK(table.find("interrupted: run the same command again") != std::string::npos);
    CHECK(table.find("0.0000") == std::string::npos);  // no deviation from a reference that does not exist
    const auto j = cv::study_json(st);
    CHECK(j["reference"] == "0.15");
    CHECK(j["points"][0]["max_deviation_eV"].is_null());
    CHECK(j["points"][1]["state"] == "interrupted");
    CHECK(j["converged_from"].is_null());
}
