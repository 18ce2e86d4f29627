// User tasks (`tasks:` in a workflow): expressions and aggregates over other tasks' results.
// Bad ones are rejected before anything runs with the file, line and field; a real run with the
// builtin EMT calculator evaluates them from the stored outputs, and results.h5 / JSON carry them.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "common/errors.hpp"
#include "workflows/results.hpp"
#include "engine/runner.hpp"
#include "engine/store.hpp"
#include "workflows/run.hpp"
#include "workflows/workflow_file.hpp"
#include "test_paths.hpp"

using namespace interphase;
using namespace interphase::engine;
using namespace interphase::workflows;

namespace {

const std::string kHosts = R"(name: user-tasks
calculator: {code: emt}
protocol: {name: fast, fmax: 0.05, max_relax_steps: 300}
adsorbate: Au
hosts:
  - {name: Al(100), phase: Al, miller: [1, 0, 0], layers: 3, supercell: [2, 2], fix_bottom_layers: 1, sites: [hollow, top]}
  - {name: Cu(100), phase: Cu, miller: [1, 0, 0], layers: 3, supercell: [2, 2], fix_bottom_layers: 1, sites: [hollow]}
pairs:
  - [Al(100), Cu(100)]
)";

// Expands kHosts + `tasks`; the file name is "wf.yaml", `tasks:` is line 10.
TaskGraph expand(const std::string& tasks) {
    return expand_workflow(parse_workflow(kHosts + tasks, "wf.yaml"));
}

std::string error_of(const std::string& tasks) {
    try {
        expand(tasks);
    } catch (const Error& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("user tasks: expressions and aggregates join the graph with their inputs") {
    const auto g = expand(R"(tasks:
  - name: dE_meV
    kind: expression
    expression: 1000 * (a - b)
    unit: meV
    variables: {a: "Al(100)/binding_energy:binding_energy", b: "Cu(100)/binding_energy:binding_energy"}
  - name: mean_Eb
    kind: aggregate
    over: "*/binding_energy"
    field: binding_energy
    op: mean
    unit: eV
  - name: spread
    kind: expression
    expression: abs(dE) / 1000 - m * 0
    variables: {dE: "dE_meV:value", m: "mean_Eb:value"}
)");
    const auto& de = g.at("dE_meV");
    CHECK(de.kind == "expression");
    CHECK(de.inputs.at("var:a") == "Al(100)/binding_energy");
    CHECK(de.inputs.at("var:b") == "Cu(100)/binding_energy");
    const auto& mean = g.at("mean_Eb");
    CHECK(mean.params.at("members").size() == 2);
    CHECK(mean.inputs.count("member:Al(100)/binding_energy") == 1);
    CHECK(g.at("spread").inputs.at("var:dE") == "dE_meV");
    CHECK_NOTHROW(g.validate());
}

TEST_CASE("bad user tasks are rejected before anything runs, naming file:line and the field") {
    struct Case {
        const char* what;
        std::string tasks;
        std::vector<std::string> expected;
    };
    const std::vector<Case> cases{
        {"unknown task kind", "tasks:\n  - {name: x, kind: expresion, expression: 1}\n",
         {"wf.yaml:11", "tasks[0].kind", "unknown task kind 'expresion'", "did you mean 'expression'"}},
        {"missing reference", "tasks:\n  - name: x\n    kind: expression\n    expression: a\n    variables: {a: \"Al(100)/binding_enrgy:binding_energy\"}\n",
         {"wf.yaml:14", "tasks[0].variables.a", "unknown task 'Al(100)/binding_enrgy'", "did you mean 'Al(100)/binding_energy'"}},
        {"type error: a string field", "tasks:\n  - name: x\n    kind: expression\n    expression: a\n    variables: {a: \"Al(100)/binding_energy:best_site\"}\n",
         {"wf.yaml:14", "tasks[0].variables.a", "no numeric output 'best_site'", "binding_energy, mu, host_energy"}},
        {"type error: a build task", "tasks:\n  - name: x\n    kind: aggregate\n    over: \"*/slab\"\n    field: energy_eV\n",
         {"wf.yaml:14", "tasks[0].field", "produces no numbers"}},
        {"formula does not parse", "tasks:\n  - name: x\n    kind: expression\n    expression: (a - \n    variables: {a: \"Al(100)/binding_energy:binding_energy\"}\n",
         {"wf.yaml:13", "tasks[0].expression", "cannot evaluate"}},
        {"undeclared variable", "tasks:\n  - name: x\n    kind: expression\n    expression: a - c\n    variables: {a: \"Al(100)/binding_energy:binding_energy\"}\n",
         {"wf.yaml:13", "tasks[0].expression", "'c' is not a declared variable"}},
        {"declared but unused", "tasks:\n  - name: x\n    kind: expression\n    expression: 2 * a\n    variables: {a: \"Al(100)/binding_energy:binding_energy\", b: \"Cu(100)/binding_energy:binding_energy\"}\n",
         {"wf.yaml:14", "tasks[0].variables.b", "not used"}},
        {"not TASK:FIELD", "tasks:\n  - name: x\n    kind: expression\n    expression: a\n    variables: {a: \"Al(100)/binding_energy\"}\n",
         {"wf.yaml:14", "tasks[0].variables.a", "is not TASK:FIELD"}},
        {"pattern matches nothing", "tasks:\n  - name: x\n    kind: aggregate\n    over: \"*/barrier\"\n    field: value\n",
         {"wf.yaml:13", "tasks[0].over", "matches no task"}},
        {"unknown op", "tasks:\n  - name: x\n    kind: aggregate\n    over: \"*/binding_energy\"\n    field: binding_energy\n    op: median\n",
         {"wf.yaml:15", "tasks[0].op", "unknown op 'median'"}},
        {"name clash with a generated task", "tasks:\n  - {name: Al(100)/slab, kind: expression, expression: 1}\n",
         {"wf.yaml:11", "tasks[0].name", "already the name of a task"}},
        {"cycle", "tasks:\n  - {name: p, kind: expression, expression: q1, variables: {q1: \"q:value\"}}\n"
                  "  - {name: q, kind: expression, expression: p1, variables: {p1: \"p:value\"}}\n",
         {"wf.yaml:1", "cycle", "p -> q -> p"}},
        {"unknown key", "tasks:\n  - {name: x, kind: aggregate, over: \"*/binding_energy\", feild: binding_energy}\n",
         {"wf.yaml:11", "tasks[0].feild", "did you mean 'field'"}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.what);
        const auto msg = error_of(c.tasks);
        CAPTURE(msg);
        for (const auto& e : c.expected) CHECK(msg.find(e) != std::string::npos);
    }
}

TEST_CASE("a run evaluates user tasks from the stored results; results.h5 and JSON carry them") {
    const auto dir = testing::scratch("user-tasks");
    const auto spec = parse_workflow(kHosts + R"(tasks:
  - name: dE_meV
    kind: expression
    expression: 1000 * (a - b)
    unit: meV
    variables: {a: "Al(100)/binding_energy:binding_energy", b: "Cu(100)/binding_energy:binding_energy"}
  - name: strongest
    kind: aggregate
    over: ["Al(100)/binding_energy", "Cu(100)/binding_energy"]
    field: binding_energy
    op: argmin
    unit: eV
  - name: check
    kind: expression
    expression: dE - 1000 * d
    variables: {dE: "dE_meV:value", d: "pairs/Al(100)|Cu(100)/delta_e:delta_e"}
)",
                                     dir / "wf.yaml");
    RunOptions options;
    options.run_dir = dir / "run";
    options.quiet = true;
    std::ostringstream log;
    const auto summary = run_workflow(spec, options, log);
    INFO(log.str());
    REQUIRE(summary.ok());

    RunStore store(options.run_dir);
    const auto al = store.output_of("Al(100)/binding_energy").value().at("binding_energy").get<double>();
    const auto cu = store.output_of("Cu(100)/binding_energy").value().at("binding_energy").get<double>();
    const auto de = store.output_of("dE_meV").value();
    CHECK(de.at("value").get<double>() == doctest::Approx(1000 * (al - cu)).epsilon(1e-12));
    CHECK(de.at("variables").at("a").at("value").get<double>() == al);
    const auto strongest = store.output_of("strongest").value();
    CHECK(strongest.at("value").get<double>() == std::min(al, cu));
    CHECK(strongest.at("task") == (al < cu ? "Al(100)/binding_energy" : "Cu(100)/binding_energy"));
    CHECK(std::abs(store.output_of("check").value().at("value").get<double>()) < 1e-9);

    const auto results = collect_results(store);
    REQUIRE(results.user_values.size() == 3);
    const auto json = results_json(results);
    CHECK(json.at("user_tasks").size() == 3);
    CHECK(format_table(results).find("dE_meV") != std::string::npos);
    CHECK(format_csv(results).find("user_task,\"dE_meV\"") != std::string::npos);

    // results.h5 read back with h5py (Debian's python3-h5py), independently of our HDF5 code.
    const auto script = dir / "read.py";
    {
        std::ofstream py(script);
        py << "import h5py, sys\n"
              "f = h5py.File(sys.argv[1], 'r')\n"
              "g = f['user_tasks']\n"
              "names = [x.decode() if isinstance(x, bytes) else x for x in g['task'][()]]\n"
              "print(names.index('dE_meV'), repr(float(g['value'][names.index('dE_meV')])))\n";
    }
    const auto [status, out] =
        testing::run_command("/usr/bin/python3 '" + script.string() + "' '" + (options.run_dir / "results.h5").string() + "'");
    REQUIRE(status == 0);
    std::istringstream in(out);
    int index = -1;
    double value = 0;
    in >> index >> value;
    REQUIRE(index >= 0);
    CHECK(value == doctest::Approx(1000 * (al - cu)).epsilon(1e-12));
}
