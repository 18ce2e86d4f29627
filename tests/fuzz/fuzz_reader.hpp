// The contract every structure reader is fuzzed against (tests/fuzz/fuzz_<format>.cpp): any
// input either reads into a finite, sane Structure that the same format writes and reads back,
// or throws one of Interphase's typed errors. Anything else — a crash, a sanitizer report, an
// untyped exception (which escapes and terminates), a non-finite number in a parsed structure,
// a written file that does not read back — is a bug libFuzzer reports. See docs/fuzzing.md.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/errors.hpp"
#include "structures/io.hpp"

namespace interphase::fuzz {

inline void check_sane(const structures::Structure& s, const char* what) {
    bool ok = s.lattice().allFinite() && s.lattice().cwiseAbs().maxCoeff() <= 1e6;
    for (const auto& a : s.atoms()) ok = ok && a.frac.allFinite() && a.frac.cwiseAbs().maxCoeff() <= 1e6;
    if (!ok) {
        std::fprintf(stderr, "%s: parsed structure with non-finite or absurd numbers\n", what);
        std::abort();
    }
}

inline int read_one(const char* format, const std::uint8_t* data, std::size_t size) {
    // Longer inputs only slow the search down; the readers stream line by line anyway.
    if (size > (1u << 16)) return 0;
    const std::string text(reinterpret_cast<const char*>(data), size);
    structures::Structure s;
    try {
        s = structures::read_structure_string(text, format, "fuzz");
    } catch (const Error&) {
        return 0;  // a typed error with a message: the expected outcome for most inputs
    }
    check_sane(s, "read");
    // What we read, we must be able to write and read back.
    const std::string again = structures::write_structure_string(s, format);
    try {
        check_sane(structures::read_structure_string(again, format, "fuzz-roundtrip"), "round trip");
    } catch (const Error& e) {
        std::fprintf(stderr, "round trip failed: %s\n--- written ---\n%s\n", e.what(), again.c_str());
        std::abort();
    }
    return 0;
}

}  // namespace interphase::fuzz
