// Registry<Info> (common/registry.hpp): unique, non-empty names, names() in registration order,
// at() of an unknown name is an InputError with "did you mean"; and the four registries built
// on it (calculators, builtin potentials, executors, structure formats) list their entries and
// keep their own source/field in errors. Links interphase::cluster too (tests/CMakeLists.txt).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cluster/registry.hpp"
#include "common/errors.hpp"
#include "common/registry.hpp"
#include "plugins/builtin/registry.hpp"
#include "plugins/calculator.hpp"
#include "structures/io.hpp"

using namespace interphase;

namespace {

struct Widget {
    std::string name;
    int size = 0;
};

/// The InputError thrown by f, or a failed check.
template <class F>
InputError input_error(F&& f) {
    try {
        f();
    } catch (const InputError& e) {
        return e;
    }
    FAIL("no InputError");
    return InputError("", "", "");
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("Registry: unique non-empty names in registration order, did-you-mean for near misses") {
    Registry<Widget> reg("widget");
    CHECK(reg.what() == "widget");
    reg.add({"sprocket", 1});
    reg.add({"gear", 2});
    reg.add({"axle", 3});
    CHECK(reg.names() == std::vector<std::string>{"sprocket", "gear", "axle"});
    REQUIRE(reg.entries().size() == 3);
    CHECK(reg.entries()[1].size == 2);

    CHECK_THROWS_AS(reg.add({"gear", 9}), Error);
    CHECK_THROWS_AS(reg.add({"", 9}), Error);
    CHECK(reg.names().size() == 3);  // neither was added
    CHECK(reg.at("gear", "wf.yaml", "widget.kind").size == 2);

    CHECK(reg.contains("axle"));
    CHECK_FALSE(reg.contains("axel"));
    CHECK(reg.find("axel") == nullptr);
    REQUIRE(reg.find("axle") != nullptr);
    CHECK(reg.find("axle")->size == 3);

    const auto e = input_error([&] { reg.at("axel", "wf.yaml:4", "widget.kind"); });
    CHECK(e.source() == "wf.yaml:4");
    CHECK(e.field() == "widget.kind");
    CHECK(contains(e.what(), "unknown widget 'axel'"));
    CHECK(contains(e.what(), "did you mean 'axle'"));
    CHECK(contains(e.what(), "sprocket, gear, axle"));
}

TEST_CASE("calculators and potentials: known entries, field calculator.code") {
    auto& calcs = plugins::CalculatorRegistry::instance();
    CHECK(calcs.names() == std::vector<std::string>{"cp2k", "lj", "morse", "emt"});
    CHECK_THROWS_AS(calcs.add({"emt", "again", {}, {}}), Error);
    const auto e = input_error([&] { calcs.create("cp2kk", nlohmann::json::object(), "wf.yaml:3"); });
    CHECK(e.source() == "wf.yaml:3");
    CHECK(e.field() == "calculator.code");
    CHECK(contains(e.what(), "unknown calculator 'cp2kk'; did you mean 'cp2k'"));

    auto& potentials = plugins::builtin::PotentialRegistry::instance();
    CHECK(potentials.names() == std::vector<std::string>{"lj", "morse", "emt"});
    const auto p = input_error([&] { potentials.info("mors", "wf.yaml"); });
    CHECK(p.field() == "calculator.code");
    CHECK(contains(p.what(), "unknown potential 'mors'; did you mean 'morse'"));
}

TEST_CASE("executors: known entries, source --executor and field executor") {
    auto& executors = cluster::ExecutorRegistry::instance();
    CHECK(executors.names() == std::vector<std::string>{"local", "slurm", "pbs", "lsf", "mpi"});
    CHECK(executors.info("slurm").needs_profile);
    CHECK_FALSE(executors.info("local").needs_profile);
    const auto e = input_error([&] { executors.info("slrum"); });
    CHECK(e.source() == "--executor");
    CHECK(e.field() == "executor");
    CHECK(contains(e.what(), "unknown executor 'slrum'; did you mean 'slurm'"));
    const auto p = input_error([&] { executors.create("pbs", {}); });
    CHECK(contains(p.what(), "needs a cluster profile"));
}

TEST_CASE("structure formats: known entries, names case-insensitive, source --format") {
    auto& formats = structures::FormatRegistry::instance();
    CHECK(formats.names() == std::vector<std::string>{"poscar", "cif", "extxyz"});
    CHECK(formats.by_name("CIF").name == "cif");
    const auto e = input_error([&] { formats.by_name("poscr"); });
    CHECK(e.source() == "--format");
    CHECK(contains(e.what(), "unknown structure format 'poscr'; did you mean 'poscar'"));
    CHECK(contains(input_error([&] { formats.by_name("XSF"); }).what(), "unknown structure format 'XSF'"));
    const auto p = input_error([&] { formats.for_path("notes.txt"); });
    CHECK(contains(p.what(), "cannot tell the structure format from the file name"));
}
