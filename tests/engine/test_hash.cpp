// Task identity: SHA-256 of canonical inputs must be stable (across runs and versions: a golden
// value), insensitive to atom order and float noise, and sensitive to every real change.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>

#include "engine/hash.hpp"
#include "structures/prototypes.hpp"
#include "test_paths.hpp"

using namespace interphase;
using namespace interphase::engine;

namespace {
structures::Structure li2s_with_fixed() {
    auto s = structures::build_bulk("Li2S");
    s[0].fixed = true;
    return s;
}
nlohmann::json calc_inputs(const structures::Structure& s, double fmax = 0.05) {
    return {{"kind", "calculation"},
            {"inputs", {{"structure", structures::to_json(s)}}},
            {"protocol", {{"name", "fast"}, {"fmax", fmax}}}};
}
}  // namespace

TEST_CASE("SHA-256 matches the standard test vectors and Python's hashlib") {
    CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const auto dir = testing::scratch("hash");
    const std::string text = canonicalize(calc_inputs(li2s_with_fixed())).dump();
    std::ofstream(dir / "in.txt", std::ios::binary) << text;
    const std::string cmd = "/usr/bin/python3 -c \"import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],'rb').read()).hexdigest())\" " +
                            (dir / "in.txt").string() + " > " + (dir / "out.txt").string();
    REQUIRE(std::system(cmd.c_str()) == 0);
    std::string py;
    std::ifstream(dir / "out.txt") >> py;
    CHECK(py == sha256_hex(text));
}

TEST_CASE("content hash is stable: golden value for a fixed input") {
    // If this changes, every cached result of every user becomes unreachable: change it only
    // together with a documented cache-format bump.
    std::ifstream in(testing::source_dir() / "tests/engine/data/hash_golden.txt");
    std::string golden;
    in >> golden;
    CHECK(content_hash(calc_inputs(li2s_with_fixed())) == golden);
}

TEST_CASE("content hash ignores atom order, wrapping and float noise") {
    auto s = li2s_with_fixed();
    const auto h = content_hash(calc_inputs(s));
    auto reversed = s;
    std::reverse(reversed.atoms().begin(), reversed.atoms().end());
    CHECK(content_hash(calc_inputs(reversed)) == h);
    auto shifted = s;
    for (auto& a : shifted.atoms()) a.frac += Eigen::Vector3d(1.0, -1.0, 2.0);  // same atoms, other images
    CHECK(content_hash(calc_inputs(shifted)) == h);
    auto noisy = s;
    noisy[3].frac[1] += 1e-9;
    CHECK(content_hash(calc_inputs(noisy)) == h);
    auto relabelled = s;
    relabelled[2].label = "something else";
    relabelled.info["note"] = "metadata does not change a calculation";
    CHECK(content_hash(calc_inputs(relabelled)) == h);
}

TEST_CASE("content hash changes with every input that changes the result") {
    auto s = li2s_with_fixed();
    const auto h = content_hash(calc_inputs(s));
    CHECK(content_hash(calc_inputs(s, 0.04)) != h);  // a protocol parameter
    auto moved = s;
    moved[3].frac[1] += 1e-3;
    CHECK(content_hash(calc_inputs(moved)) != h);
    auto unfixed = s;
    unfixed[0].fixed = false;
    CHECK(content_hash(calc_inputs(unfixed)) != h);
    auto swapped = s;
    swapped[0].species = swapped[0].species == "Li" ? "Na" : "Li";
    CHECK(content_hash(calc_inputs(swapped)) != h);
    auto strained = s;
    strained.set_lattice(s.lattice() * 1.01);
    CHECK(content_hash(calc_inputs(strained)) != h);
}
