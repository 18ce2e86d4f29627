// Slab models chosen by physical size: `area_per_adsorbate:` picks the in-plane supercell so that
// hosts are compared at equal, low coverage, `thickness:` the number of layers; the table shows
// each host's area per adsorbate and warns when a pair compares unequal coverages.
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>

#include "common/errors.hpp"
#include "engine/runner.hpp"
#include "engine/store.hpp"
#include "structures/prototypes.hpp"
#include "structures/slab.hpp"
#include "workflows/binding_energy/tasks.hpp"
#include "workflows/results.hpp"
#include "workflows/run.hpp"
#include "workflows/workflow_file.hpp"
#include "test_paths.hpp"

using namespace interphase;
using namespace interphase::workflows;
namespace st = interphase::structures;

namespace {

Eigen::Matrix3d surface_cell(const std::string& phase, std::array<int, 3> miller) {
    st::SlabSpec spec;
    spec.miller = miller;
    spec.layers = 3;
    spec.vacuum = 10;
    return st::SlabGenerator(st::build_bulk(phase), spec).slab(spec).lattice();
}

double area_of(const Eigen::Matrix3d& L) { return Eigen::Vector3d(L.row(0)).cross(Eigen::Vector3d(L.row(1))).norm(); }

}  // namespace

TEST_CASE("area_per_adsorbate: enough area, images as far apart as that area allows") {
    // Al(111) 1x1: a/sqrt(2) = 2.86 Å edges at 60°, 7.10 Å². 50 Å² needs 8 cells at least; of the
    // supercells with 8..12 cells, 3x3 keeps the images 3 edges (8.6 Å) apart, 2x4 only 2.
    const auto al = surface_cell("Al", {1, 1, 1});
    CHECK(area_of(al) == doctest::Approx(4.05 * 4.05 / 2 * std::sqrt(3.0) / 2).epsilon(0.02));
    const auto n = binding_energy::supercell_for_area(al, 50, "t");
    CHECK(n == std::array<int, 2>{3, 3});
    // Whatever the cell: never less than asked, never more than 1.5x the smallest possible.
    for (const auto& [phase, miller] : std::vector<std::pair<std::string, std::array<int, 3>>>{
             {"Al", {1, 0, 0}}, {"Al", {1, 1, 0}}, {"Li2S", {1, 1, 1}}, {"Li2S", {1, 1, 0}}, {"LiCl", {1, 0, 0}}}) {
        CAPTURE(phase);
        const auto L = surface_cell(phase, miller);
        for (double want : {20.0, 50.0, 80.0}) {
            CAPTURE(want);
            const auto s = binding_energy::supercell_for_area(L, want, "t");
            const double got = area_of(L) * s[0] * s[1];
            CHECK(got >= want - 1e-9);
            CHECK(got <= 1.5 * std::ceil(want / area_of(L) - 1e-9) * area_of(L) + 1e-9);
        }
    }
    CHECK_THROWS_AS(binding_energy::supercell_for_area(al, 5000, "t"), InputError);
}

TEST_CASE("two hosts at equal coverage by area; the table says when a pair is not") {
    const auto dir = testing::scratch("coverage");
    const std::string head = "name: coverage\ncalculator: {code: emt}\nprotocol: {name: fast, fmax: 0.1}\nadsorbate: Au\nhosts:\n";
    const std::string equal =
        head + "  - {name: Al(111), phase: Al, miller: [1, 1, 1], thickness: 6, area_per_adsorbate: 40, vacuum: 8, sites: [fcc_hollow]}\n"
               "  - {name: Cu(100), phase: Cu, miller: [1, 0, 0], layers: 3, area_per_adsorbate: 40, vacuum: 8, sites: [hollow]}\n"
               "pairs:\n  - [Al(111), Cu(100)]\n";
    std::ostringstream log;
    engine::RunOptions opt{dir / "equal", 2, true, std::nullopt};
    REQUIRE(run_workflow(parse_workflow(equal, dir / "equal.yaml"), opt, log).ok());
    engine::RunStore store(dir / "equal", engine::RunStore::Access::ReadOnly);
    const auto r = collect_results(store);
    REQUIRE(r.hosts.size() == 2);
    double areas[2];
    for (int i = 0; i < 2; ++i) {
        const auto& info = r.hosts[i].slab_info;
        CAPTURE(r.hosts[i].host);
        areas[i] = info.at("area").get<double>();
        CHECK(areas[i] >= 40);
    }
    CHECK(std::max(areas[0], areas[1]) <= 1.5 * std::min(areas[0], areas[1]));
    // thickness: 6 Å of crystal periods of Al(111) as the slab generator makes them from the same number.
    {
        st::SlabSpec spec;
        spec.miller = {1, 1, 1};
        spec.thickness = 6;
        spec.vacuum = 8;
        const auto direct = st::SlabGenerator(st::build_bulk("Al"), spec).slab(spec);
        CHECK(r.hosts[0].slab_info.at("atomic_layers") == direct.info.at("atomic_layers"));
        CHECK(direct.info.at("thickness").get<double>() + direct.info.at("d_hkl").get<double>() >= 6);
    }
    const std::string table = format_table(r);
    CHECK(table.find("area/ads") != std::string::npos);
    CHECK(table.find("unequal coverages") == std::string::npos);

    // The same pair with Al(111) 1x1 (7.1 Å² per Au) against Cu(100) at 40 Å²: said beside ΔE.
    const std::string unequal =
        head + "  - {name: Al(111), phase: Al, miller: [1, 1, 1], layers: 3, vacuum: 8, sites: [fcc_hollow]}\n"
               "  - {name: Cu(100), phase: Cu, miller: [1, 0, 0], layers: 3, area_per_adsorbate: 40, vacuum: 8, sites: [hollow]}\n"
               "pairs:\n  - [Al(111), Cu(100)]\n";
    engine::RunOptions opt2{dir / "unequal", 2, true, std::nullopt};
    REQUIRE(run_workflow(parse_workflow(unequal, dir / "unequal.yaml"), opt2, log).ok());
    engine::RunStore store2(dir / "unequal", engine::RunStore::Access::ReadOnly);
    const std::string table2 = format_table(collect_results(store2));
    CHECK(table2.find("warning: Al(111) | Cu(100) compares unequal coverages") != std::string::npos);
}

TEST_CASE("layers and thickness, supercell and area_per_adsorbate exclude each other") {
    const std::string head = "name: x\ncalculator: {code: emt}\nadsorbate: Au\nhosts:\n";
    const auto error_of = [&head](const std::string& host) {
        try {
            parse_workflow(head + host, "x.yaml");
        } catch (const InputError& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    CHECK(error_of("  - {name: A, phase: Al, layers: 3, thickness: 8}\n").find("not both") != std::string::npos);
    CHECK(error_of("  - {name: A, phase: Al, supercell: [2, 2], area_per_adsorbate: 50}\n").find("not both") != std::string::npos);
    CHECK(error_of("  - {name: A, phase: Al, area_per_adsorbate: 0}\n").find("area_per_adsorbate") != std::string::npos);
    CHECK(error_of("  - {name: A, phase: Al, thickness: -2}\n").find("thickness") != std::string::npos);
}
