// libFuzzer target for the cif reader: see fuzz_reader.hpp for the contract, docs/fuzzing.md to run it.
#include "fuzz_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    return interphase::fuzz::read_one("cif", data, size);
}
