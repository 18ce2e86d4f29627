// The graph grows at run time: `sites: all` puts a find_sites task after the relaxed slab; when
// it finishes, one build + relaxation per symmetry-unique site is added and wired into the
// binding-energy task. Checked here on real slabs built by the in-process task kinds.
#include <doctest/doctest.h>

#include <set>

#include "common/errors.hpp"
#include "engine/task_kind.hpp"
#include "workflows/binding_energy/names.hpp"
#include "workflows/binding_energy/tasks.hpp"
#include "workflows/structure_tasks.hpp"
#include "workflows/run.hpp"
#include "workflows/workflow_file.hpp"

using namespace interphase;
using namespace interphase::engine;
using namespace interphase::workflows;

namespace {
const char* kAllSites = R"(name: grow
calculator: {code: cp2k}
hosts:
  - name: Al(111)
    phase: Al
    miller: [1, 1, 1]
    layers: 3
    supercell: [2, 2]
    sites: all
  - name: Al(100)
    phase: Al
    miller: [1, 0, 0]
    layers: 2
    sites: [hollow]
)";

// The slab a find_sites task would see: the in-process build tasks, no relaxation.
nlohmann::json slab_output(const TaskGraph& g, const std::string& host) {
    const auto bulk = run_in_process(g.at("bulk/Al"), {});
    return run_in_process(g.at(host + "/slab"), {{"bulk", bulk}});
}
}  // namespace

TEST_CASE("sites: all puts a find_sites task between the relaxed slab and the binding energy") {
    const auto g = expand_workflow(parse_workflow(kAllSites, "wf.yaml"));
    REQUIRE(g.contains("Al(111)/sites"));
    const auto& finder = g.at("Al(111)/sites");
    CHECK(finder.kind == workflows::binding_energy::kinds::kFindSites);
    CHECK(finder.inputs.at("slab") == "Al(111)/slab/relax");
    CHECK(g.at("Al(111)/binding_energy").inputs.at("sites") == "Al(111)/sites");
    // No site task exists before the run; the explicit host is unchanged.
    for (const auto& t : g.tasks()) CHECK(t.name.find("Al(111)/top") == std::string::npos);
    CHECK(g.contains("Al(100)/hollow+Li/relax"));
    CHECK_FALSE(g.contains("Al(100)/sites"));
}

TEST_CASE("a finished find_sites task adds one build and one relaxation per symmetry-unique site") {
    auto g = expand_workflow(parse_workflow(kAllSites, "wf.yaml"));
    const std::size_t before = g.size();
    const auto slab = slab_output(g, "Al(111)");
    const auto found = run_in_process(g.at("Al(111)/sites"), {{"slab", slab}});
    // fcc(111): fcc hollow, hcp hollow, bridge, top — the four textbook sites.
    std::set<std::string> names;
    for (const auto& s : found.at("sites")) names.insert(s.at("name").get<std::string>());
    CHECK(names == std::set<std::string>{"fcc_hollow", "hcp_hollow", "bridge", "top"});

    const auto added = grow(g, g.at("Al(111)/sites"), found);
    CHECK(added.size() == 8);
    CHECK(g.size() == before + 8);
    for (const auto& n : names) {
        const std::string relax = "Al(111)/" + n + "+Li/relax";
        REQUIRE(g.contains(relax));
        CHECK(g.at(relax).kind == kinds::kCalculation);
        CHECK(g.at(relax).inputs.at("structure") == "Al(111)/" + n + "+Li");
        CHECK(g.at("Al(111)/" + n + "+Li").inputs.at("slab") == "Al(111)/slab/relax");
        CHECK(g.at("Al(111)/binding_energy").inputs.at("site:" + n) == relax);
    }
    g.validate();
    // Every new task comes after its inputs and before the binding energy.
    const auto order = g.topological_order();
    auto pos = [&](const std::string& n) { return std::find(order.begin(), order.end(), n) - order.begin(); };
    CHECK(pos("Al(111)/top+Li/relax") < pos("Al(111)/binding_energy"));
    CHECK(pos("Al(111)/slab/relax") < pos("Al(111)/top+Li"));

    SUBCASE("regrowing (a resumed run) adds nothing and keeps the graph valid") {
        CHECK(grow(g, g.at("Al(111)/sites"), found).empty());
        CHECK(g.size() == before + 8);
        g.validate();
    }
    SUBCASE("the new build task places Li on the site it is named after") {
        const auto built = run_in_process(g.at("Al(111)/top+Li"), {{"slab", slab}});
        CHECK(built.at("site").at("name") == "top");
        CHECK(built.at("structure").at("atoms").size() == slab.at("structure").at("atoms").size() + 1);
    }
}

TEST_CASE("a slab without sites is an error, not an empty binding energy") {
    auto g = expand_workflow(parse_workflow(kAllSites, "wf.yaml"));
    CHECK_THROWS_AS(grow(g, g.at("Al(111)/sites"), nlohmann::json{{"sites", nlohmann::json::array()}}), StructureError);
}

TEST_CASE("add_input refuses unknown tasks and duplicate roles") {
    TaskGraph g;
    g.add({"a", workflows::kBuildBulk, {{"phase", "Al"}}, {}});
    g.add({"b", workflows::binding_energy::kinds::kDeltaE, {}, {{"x", "a"}}});
    CHECK_THROWS_AS(g.add_input("b", "x", "a"), Error);
    CHECK_THROWS_AS(g.add_input("b", "y", "nope"), Error);
    CHECK_THROWS_AS(g.add_input("nope", "y", "a"), Error);
    g.add_input("b", "y", "a");
    CHECK(g.at("b").inputs.size() == 2);
}
