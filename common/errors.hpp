// Typed exceptions shared by every part of Interphase.
//
// Each error carries the context a user needs to fix the cause: a ParseError names the file
// and line, an InputError the file and field. The CLI maps each type to a one-line message and
// an exit code (see apps/main.cpp); library code never prints or exits.
#pragma once

#include <stdexcept>
#include <string>

namespace interphase {

/// Base of every Interphase error.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// A file could not be parsed. what() reads "FILE:LINE: message" (line omitted when 0).
class ParseError : public Error {
public:
    ParseError(std::string file, std::size_t line, const std::string& message);
    const std::string& file() const noexcept { return file_; }
    std::size_t line() const noexcept { return line_; }
private:
    std::string file_;
    std::size_t line_;
};

/// A value given by the user is invalid. what() reads "SOURCE: field 'F': message".
class InputError : public Error {
public:
    InputError(std::string source, std::string field, const std::string& message);
    const std::string& source() const noexcept { return source_; }
    const std::string& field() const noexcept { return field_; }
private:
    std::string source_;
    std::string field_;
};

/// A physically or geometrically invalid structure (singular lattice, overlapping atoms...).
class StructureError : public Error {
public:
    using Error::Error;
};

/// An external program or a system call failed (missing executable, fork failure...).
class ExecutionError : public Error {
public:
    using Error::Error;
};

/// A calculation ran but its result cannot be trusted (SCF not converged, crash, truncated output).
class CalculationError : public Error {
public:
    enum class Reason { ScfNotConverged, GeometryNotConverged, Crashed, Truncated, Missing };
    CalculationError(Reason reason, const std::string& message) : Error(message), reason_(reason) {}
    Reason reason() const noexcept { return reason_; }
    static const char* reason_name(Reason r) noexcept;
private:
    Reason reason_;
};

/// A storage layer (SQLite, HDF5, file system) failed.
class StorageError : public Error {
public:
    using Error::Error;
};

}  // namespace interphase
