// A calculation request as the engine builds one, for the calculator plugin tests (unit and
// integration): a structure, a named protocol and the calculation kind.
#pragma once

#include <string>
#include <utility>

#include "plugins/calculator.hpp"

namespace interphase::testing {

inline plugins::CalculationRequest request(structures::Structure s, const std::string& protocol = "fast",
                                           plugins::CalculationKind kind = plugins::CalculationKind::SinglePoint) {
    plugins::CalculationRequest r;
    r.structure = std::move(s);
    r.protocol = plugins::Protocol::from_json(protocol, "test");
    r.kind = kind;
    return r;
}

}  // namespace interphase::testing
