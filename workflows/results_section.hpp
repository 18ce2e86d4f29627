// ResultSection: how one workflow kind's science enters what a run reports — the records it reads
// from the store, its groups in results.h5, its part of the table, its CSV rows and its JSON
// keys. Each kind's folder owns its section (workflows/binding_energy/results.cpp,
// workflows/neb/results.cpp) and registers it with one line in workflows/registry.cpp; the
// shared frame (file attributes, user tasks, provenance) is in workflows/results.cpp.
#pragma once

#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <vector>

#include "common/registry.hpp"
#include "engine/hdf5.hpp"
#include "engine/store.hpp"

namespace interphase::workflows {

struct RunResults;

struct ResultSection {
    std::string name;
    std::string description;
    /// Reads one finished task into `results` when it is one of the section's task kinds.
    std::function<void(const engine::TaskRecord&, const engine::RunStore&, RunResults&)> collect;
    /// After every section has read every task: what this section takes from the others
    /// (the ΔE rows take the barriers of the bands). Optional.
    std::function<void(RunResults&)> link;
    /// Its groups in results.h5 (docs/results-hdf5.md); `check()` between large items lets an
    /// interrupted run stop the writer (it throws engine::Interrupted).
    std::function<void(engine::h5::File&, const RunResults&, const std::function<void()>& check)> write_h5;
    /// Its part of the printed table ("" when it has nothing).
    std::function<std::string(const RunResults&)> table;
    /// Its CSV rows in the shared columns of csv_header().
    std::function<std::string(const RunResults&)> csv;
    /// Its keys of `interphase results --json`.
    std::function<void(const RunResults&, nlohmann::json&)> json;
};

class ResultSectionRegistry : public Registry<ResultSection> {
public:
    /// The sections in the order their tables are printed.
    static ResultSectionRegistry& instance();

private:
    ResultSectionRegistry();
};

// ---- helpers shared by the sections ----

/// One column of a table of rows: `project(row)` for every row (a member pointer or a lambda).
template <class Rows, class Project>
auto column(const Rows& rows, Project project) {
    using T = std::decay_t<std::invoke_result_t<Project, const typename Rows::value_type&>>;
    std::vector<T> out;
    out.reserve(rows.size());
    for (const auto& row : rows) out.push_back(std::invoke(project, row));
    return out;
}

/// A flag column as HDF5 integers (0/1).
template <class Rows, class Row>
std::vector<std::int64_t> flag_column(const Rows& rows, bool Row::*flag) {
    return column(rows, [flag](const Row& row) { return std::int64_t{row.*flag ? 1 : 0}; });
}

/// A structure (its JSON form) as a group: lattice, positions, species, fixed, layer, side tags.
void write_structure_group(engine::h5::Group& parent, const std::string& name, const nlohmann::json& structure);

/// The CSV columns every section writes into.
inline constexpr const char* kCsvHeader = "record,phase,site,binding_energy_eV,reference,pair_b,delta_e_eV,value,unit\n";
/// A CSV text field: quoted, control bytes escaped, and a leading apostrophe when a spreadsheet
/// would run it as a formula (=, +, -, @, tab, CR first; OWASP's CSV-injection advice).
std::string csv_quote(const std::string& s);

/// JSON null for NaN ("no such barrier"), else the number.
inline nlohmann::json number_or_null(double x) { return x != x ? nlohmann::json() : nlohmann::json(x); }

inline constexpr double kNone = std::numeric_limits<double>::quiet_NaN();

}  // namespace interphase::workflows
