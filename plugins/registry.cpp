// The one place where calculator plugins are registered: one line per plugin.
#include "plugins/builtin/registry.hpp"
#include "plugins/calculator.hpp"
#include "plugins/cp2k/cp2k.hpp"

namespace interphase::plugins {

CalculatorRegistry::CalculatorRegistry() : Registry("calculator") {
    add(cp2k::registration());
    add(builtin::calculator_registration("lj"));
    add(builtin::calculator_registration("morse"));
    add(builtin::calculator_registration("emt"));
}

}  // namespace interphase::plugins
