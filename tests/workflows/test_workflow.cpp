// Workflow loading: valid files expand to the documented task graph; every kind of bad input
// is rejected before anything runs, with the file, line and field in one message.
#include <doctest/doctest.h>

#include <fstream>

#include "common/errors.hpp"
#include "workflows/run.hpp"
#include "engine/store.hpp"
#include <sstream>
#include "workflows/workflow_file.hpp"
#include "workflows/structure_tasks.hpp"
#include "workflows/binding_energy/names.hpp"
#include "workflows/binding_energy/binding_energy.hpp"
#include "test_paths.hpp"

using namespace interphase;
using namespace interphase::engine;
using namespace interphase::workflows;

namespace {
const char* kValid = R"(name: demo
calculator:
  code: cp2k
protocol: fast
hosts:
  - name: Al(111)
    phase: Al
    miller: [1, 1, 1]
    supercell: [2, 2]
    sites: [fcc_hollow, hcp_hollow]
  - phase: Li2S
    miller: "1,1,1"
pairs:
  - [Al(111), Li2S(111)]
)";

std::string error_of(const std::string& yaml) {
    try {
        parse_workflow(yaml, "wf.yaml");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
    const auto pos = s.find(from);
    REQUIRE(pos != std::string::npos);
    return s.replace(pos, from.size(), to);
}
}  // namespace

TEST_CASE("a valid workflow expands to the documented tasks") {
    const auto spec = parse_workflow(kValid, "wf.yaml");
    CHECK(spec.name == "demo");
    REQUIRE(spec.as<binding_energy::Spec>().hosts.size() == 2);
    CHECK(spec.as<binding_energy::Spec>().hosts[1].name == "Li2S(111)");
    CHECK(spec.as<binding_energy::Spec>().hosts[0].supercell == std::array<int, 2>{2, 2});
    const auto g = expand_workflow(spec);
    for (const char* name : {"reference/Li-atom", "reference/Li-atom/energy", "bulk/Al", "Al(111)/slab", "Al(111)/slab/relax",
                             "Al(111)/fcc_hollow+Li/relax", "Al(111)/hcp_hollow+Li/relax", "Al(111)/binding_energy",
                             "Li2S(111)/hollow+Li/relax", "pairs/Al(111)|Li2S(111)/delta_e"})
        CHECK_MESSAGE(g.contains(name), name);
    CHECK(g.size() == 17);  // 2 reference + Al 8 (2 sites) + Li2S 6 + 1 pair
    CHECK(g.at("Al(111)/binding_energy").inputs.size() == 4);  // host, reference, 2 sites
    const auto order = g.topological_order();
    auto pos = [&](const std::string& n) { return std::find(order.begin(), order.end(), n) - order.begin(); };
    CHECK(pos("Al(111)/slab/relax") < pos("Al(111)/fcc_hollow+Li"));
    CHECK(pos("Al(111)/binding_energy") < pos("pairs/Al(111)|Li2S(111)/delta_e"));
}

TEST_CASE("electronic-structure calculations are told the host's character, slab and spin; EMT ones are not") {
    const auto spec = parse_workflow(kValid, "wf.yaml");
    const auto g = expand_workflow(spec);
    // Al is a metal, Li2S an insulator (prototypes); surfaces are slabs; the free atom an insulator.
    CHECK(g.at("Al(111)/slab/relax").params.at("electronic") == "metal");
    CHECK(g.at("Al(111)/fcc_hollow+Li/relax").params.at("electronic") == "metal");
    // No dipole correction unless the host asks for it (CP2K 2023.1 aborts with it on metal slabs).
    CHECK_FALSE(g.at("Al(111)/fcc_hollow+Li/relax").params.contains("slab"));
    CHECK(g.at("Li2S(111)/hollow+Li/relax").params.at("electronic") == "insulator");
    CHECK(g.at("reference/Li-atom/energy").params.at("electronic") == "insulator");
    CHECK_FALSE(g.at("reference/Li-atom/energy").params.contains("slab"));
    // DFT defaults: 15 Å of vacuum and a 15 Å box.
    CHECK(spec.as<binding_energy::Spec>().hosts[0].vacuum == 15.0);
    CHECK(spec.as<binding_energy::Spec>().reference_box == 15.0);

    // A host says otherwise; a wrong value names the field.
    const auto own = parse_workflow(replace(kValid, "    sites: [fcc_hollow, hcp_hollow]\n",
                                            "    sites: [fcc_hollow, hcp_hollow]\n    electronic: insulator\n    spin: unrestricted\n"
                                            "    dipole_correction: true\n"),
                                    "wf.yaml");
    const auto g2 = expand_workflow(own);
    CHECK(g2.at("Al(111)/fcc_hollow+Li/relax").params.at("electronic") == "insulator");
    CHECK(g2.at("Al(111)/fcc_hollow+Li/relax").params.at("spin") == "unrestricted");
    CHECK(g2.at("Al(111)/fcc_hollow+Li/relax").params.at("slab") == true);
    CHECK(error_of(replace(kValid, "    sites: [fcc_hollow, hcp_hollow]\n", "    sites: [fcc_hollow]\n    electronic: metalic\n"))
              .find("hosts[0].electronic") != std::string::npos);

    // EMT: nothing of this enters the task parameters (their hashes stay as they were), and
    // slabs keep 10 Å of vacuum.
    const auto emt = parse_workflow(replace(kValid, "  code: cp2k", "  code: emt"), "wf.yaml");
    const auto g3 = expand_workflow(emt);
    CHECK_FALSE(g3.at("Al(111)/fcc_hollow+Li/relax").params.contains("electronic"));
    CHECK_FALSE(g3.at("Al(111)/fcc_hollow+Li/relax").params.contains("slab"));
    CHECK(emt.as<binding_energy::Spec>().hosts[0].vacuum == 10.0);
}

TEST_CASE("the shipped quickstart workflow is valid") {
    const auto spec = load_workflow(testing::source_dir() / "workflows/quickstart.yaml");
    CHECK(expand_workflow(spec).size() == 15);
}

TEST_CASE("bad workflows: one clear error naming file, line and field") {
    SUBCASE("unknown phase, with a suggestion") {
        const auto e = error_of(replace(kValid, "phase: Al\n", "phase: Alx\n"));
        CHECK(e.find("wf.yaml:7") != std::string::npos);
        CHECK(e.find("hosts[0].phase") != std::string::npos);
        CHECK(e.find("did you mean 'Al'") != std::string::npos);
    }
    SUBCASE("malformed YAML") {
        const auto e = error_of(replace(kValid, "  code: cp2k", "  code: [cp2k"));
        CHECK(e.find("wf.yaml:") != std::string::npos);
        CHECK(e.find("invalid YAML") != std::string::npos);
    }
    SUBCASE("unknown key") {
        const auto e = error_of(replace(kValid, "    miller: [1, 1, 1]", "    miler: [1, 1, 1]"));
        CHECK(e.find("wf.yaml:8") != std::string::npos);
        CHECK(e.find("hosts[0].miler") != std::string::npos);
        CHECK(e.find("did you mean 'miller'") != std::string::npos);
    }
    SUBCASE("wrong type") {
        const auto e = error_of(replace(kValid, "supercell: [2, 2]", "supercell: [2, two]"));
        CHECK(e.find("wf.yaml:9") != std::string::npos);
        CHECK(e.find("hosts[0].supercell") != std::string::npos);
    }
    SUBCASE("unknown calculator") {
        const auto e = error_of(replace(kValid, "code: cp2k", "code: cp2kk"));
        CHECK(e.find("wf.yaml:3") != std::string::npos);
        CHECK(e.find("did you mean 'cp2k'") != std::string::npos);
    }
    SUBCASE("unknown calculator setting is caught by the plugin before the run") {
        const auto e = error_of(replace(kValid, "code: cp2k", "code: cp2k\n  basis: X"));
        CHECK(e.find("wf.yaml") != std::string::npos);
        CHECK(e.find("basis") != std::string::npos);
    }
    SUBCASE("pair naming an unknown host") {
        const auto e = error_of(replace(kValid, "[Al(111), Li2S(111)]", "[Al(111), Li2S(110)]"));
        CHECK(e.find("pairs[0]") != std::string::npos);
        CHECK(e.find("Li2S(110)") != std::string::npos);
    }
    SUBCASE("unknown site and unknown protocol") {
        const auto e = error_of(replace(kValid, "hcp_hollow]", "hpc_hollow]"));
        CHECK_MESSAGE(e.find("did you mean 'hcp_hollow'") != std::string::npos, e);
        CHECK(error_of(replace(kValid, "protocol: fast", "protocol: fastest")).find("protocol") != std::string::npos);
    }
    SUBCASE("Miller (0,0,0) and negative layers") {
        CHECK(error_of(replace(kValid, "miller: [1, 1, 1]", "miller: [0, 0, 0]")).find("hosts[0].miller") != std::string::npos);
        CHECK(error_of(replace(kValid, "supercell: [2, 2]", "layers: -1")).find("hosts[0].layers") != std::string::npos);
    }
    SUBCASE("empty file and missing file") {
        CHECK(error_of("").find("empty") != std::string::npos);
        CHECK_THROWS_AS(load_workflow("/nonexistent/wf.yaml"), InputError);
    }
}

TEST_CASE("a host from a structure file, relative to the workflow file") {
    const auto dir = testing::scratch("wf-structure");
    std::ofstream(dir / "Al.vasp") << "Al fcc\n1.0\n4.05 0 0\n0 4.05 0\n0 0 4.05\nAl\n4\nDirect\n0 0 0\n0 .5 .5\n.5 0 .5\n.5 .5 0\n";
    std::ofstream(dir / "wf.yaml") << "calculator: {code: cp2k}\nhosts:\n  - structure: Al.vasp\n    miller: [1,0,0]\n";
    const auto spec = load_workflow(dir / "wf.yaml");
    CHECK(spec.as<binding_energy::Spec>().hosts[0].name == "Al(100)");
    CHECK(spec.as<binding_energy::Spec>().hosts[0].bulk_source == (dir / "Al.vasp").string());
    CHECK(spec.as<binding_energy::Spec>().hosts[0].bulk_structure["atoms"].size() == 4);
    std::ofstream(dir / "bad.yaml") << "calculator: {code: cp2k}\nhosts:\n  - structure: missing.vasp\n";
    try {
        load_workflow(dir / "bad.yaml");
        FAIL("expected an error");
    } catch (const InputError& e) {
        CHECK(std::string(e.what()).find("bad.yaml:3") != std::string::npos);
        CHECK(std::string(e.what()).find("hosts[0].structure") != std::string::npos);
    }
}

TEST_CASE("a cycle or a dangling input is rejected before anything runs") {
    TaskGraph g;
    g.add({"a", workflows::kBuildBulk, {}, {{"x", "c"}}});
    g.add({"b", workflows::binding_energy::kinds::kBuildSlab, {}, {{"bulk", "a"}}});
    g.add({"c", workflows::binding_energy::kinds::kBuildSlab, {}, {{"bulk", "b"}}});
    try {
        g.validate();
        FAIL("expected a cycle error");
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find("cycle") != std::string::npos);
    }
    TaskGraph h;
    h.add({"a", workflows::binding_energy::kinds::kBuildSlab, {}, {{"bulk", "nowhere"}}});
    CHECK_THROWS_WITH_AS(h.validate(), doctest::Contains("unknown task 'nowhere'"), Error);
    CHECK_THROWS_AS(h.add({"a", workflows::kBuildBulk, {}, {}}), Error);
    CHECK(h.to_dot().find("digraph") != std::string::npos);
}

TEST_CASE("resume says so when the protocol the run started with no longer loads") {
    const auto dir = interphase::testing::scratch("resume-protocol");
    const std::string wf = "name: rp\ncalculator: {code: emt}\nprotocol: fast\nadsorbate: Au\nhosts:\n"
                           "  - {name: Al(111), phase: Al, miller: [1, 1, 1], layers: 2, supercell: [2, 2], sites: [fcc_hollow]}\n";
    std::ostringstream log;
    engine::RunOptions opt{dir / "run", 1, true, std::nullopt};
    REQUIRE(run_workflow(parse_workflow(wf, dir / "wf.yaml"), opt, log).ok());
    {
        engine::RunStore store(dir / "run");
        store.set_meta("protocol", R"({"name": "superfast"})");  // a protocol this version does not know
    }
    std::ostringstream resumed;
    REQUIRE(resume_run(dir / "run", opt, resumed).ok());
    CHECK(resumed.str().find("warning: the protocol this run started with does not load") != std::string::npos);
    CHECK(resumed.str().find("superfast") != std::string::npos);
    {
        engine::RunStore store(dir / "run");
        store.set_meta("protocol", "not json");
    }
    std::ostringstream again;
    REQUIRE(resume_run(dir / "run", opt, again).ok());
    CHECK(again.str().find("is not a JSON object") != std::string::npos);
}
