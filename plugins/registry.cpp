// The one place where calculator plugins are registered: one line per plugin.
#include "plugins/calculator.hpp"
#include "plugins/cp2k/cp2k.hpp"

namespace interphase::plugins {

CalculatorRegistry::CalculatorRegistry() {
    add(cp2k::registration());
}

}  // namespace interphase::plugins
