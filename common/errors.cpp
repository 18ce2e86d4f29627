#include "common/errors.hpp"

#include <fmt/format.h>

namespace interphase {

ParseError::ParseError(std::string file, std::size_t line, const std::string& message)
    : Error(line > 0 ? fmt::format("{}:{}: {}", file, line, message) : fmt::format("{}: {}", file, message)),
      file_(std::move(file)),
      line_(line) {}

InputError::InputError(std::string source, std::string field, const std::string& message)
    : Error(field.empty() ? fmt::format("{}: {}", source, message)
                          : fmt::format("{}: field '{}': {}", source, field, message)),
      source_(std::move(source)),
      field_(std::move(field)) {}

const char* CalculationError::reason_name(Reason r) noexcept {
    switch (r) {
        case Reason::ScfNotConverged: return "scf_not_converged";
        case Reason::GeometryNotConverged: return "geometry_not_converged";
        case Reason::Crashed: return "crashed";
        case Reason::Truncated: return "truncated_output";
        case Reason::Missing: return "missing_output";
    }
    return "unknown";
}

}  // namespace interphase
