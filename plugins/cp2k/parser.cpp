// CP2K output parsing and error classification. The parser reads stable text markers that
// CP2K has printed since version 7 (checked on 7.1, 9.1, 2023.1 and 2024.3 outputs) and the
// 2025+ forms of the energy and force lines; it is a pure function on text.
#include <algorithm>
#include <fmt/format.h>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "common/units.hpp"
#include "plugins/cp2k/cp2k.hpp"

namespace interphase::plugins::cp2k {

namespace {

std::vector<std::string_view> split_lines(const std::string& text) {
    std::vector<std::string_view> lines;
    std::size_t start = 0;
    while (start < text.size()) {
        std::size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        std::string_view line(text.data() + start, end - start);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        lines.push_back(line);
        start = end + 1;
    }
    return lines;
}

bool contains(std::string_view line, std::string_view what) { return line.find(what) != std::string_view::npos; }

double number(const std::string& token, const std::string& source, std::size_t line_no, const char* what) {
    if (auto v = text::parse_double(token)) return *v;
    throw ParseError(source, line_no, fmt::format("cannot read {} from '{}'", what, token));
}

/// The message inside an [ABORT] box. CP2K draws a small figure in the first ten columns of
/// each box line, centres the message right of it, and puts "file.F:line" on the last line.
std::string abort_message(const std::vector<std::string_view>& lines, std::size_t abort_line, std::size_t* last) {
    std::vector<std::string> pieces;
    std::size_t i = abort_line;
    for (; i < lines.size(); ++i) {
        const std::string_view raw = lines[i];
        const std::string trimmed = text::trim(raw);
        if (i > abort_line && trimmed.rfind("****", 0) == 0) break;  // closing border
        std::string_view body = raw;
        if (auto a = body.find("[ABORT]"); a != std::string_view::npos) {
            body = body.substr(a + 7);
        } else {
            body = body.size() > 10 ? body.substr(10) : std::string_view{};
        }
        if (auto star = body.rfind('*'); star != std::string_view::npos) body = body.substr(0, star);
        auto piece = text::trim(body);
        if (!piece.empty()) pieces.push_back(std::move(piece));
    }
    if (last) *last = i;
    if (pieces.empty()) return "(no message)";
    // The last piece is the source location when it looks like "name.F:123".
    std::string location;
    if (pieces.size() > 1) {
        const auto& tail = pieces.back();
        const auto colon = tail.rfind(':');
        if (tail.find(' ') == std::string::npos && colon != std::string::npos && tail.find(".F") != std::string::npos) {
            location = tail;
            pieces.pop_back();
        }
    }
    std::string msg = fmt::format("{}", fmt::join(pieces, " "));
    if (!location.empty()) msg += " (" + location + ")";
    return msg;
}

}  // namespace

Cp2kOutput parse_output(const std::string& text, const std::string& source) {
    Cp2kOutput out;
    const auto lines = split_lines(text);

    // cp2k -o appends: only the last run counts. Outputs cut before the banner are read whole.
    std::size_t first = 0;
    for (std::size_t i = lines.size(); i-- > 0;)
        if (contains(lines[i], "PROGRAM STARTED AT")) { first = i; break; }

    for (std::size_t i = first; i < lines.size(); ++i) {
        const std::string_view line = lines[i];
        const std::size_t line_no = i + 1;
        if (contains(line, "CP2K| version string:")) {
            out.version = text::trim(line.substr(line.find(':') + 1));
        } else if (contains(line, "GLOBAL| Run type")) {
            const auto t = text::split_ws(line);
            if (!t.empty()) out.run_type = t.back();
        } else if (contains(line, "ENERGY| Total FORCE_EVAL")) {
            // "(a.u.):" up to 7.1, "[a.u.]:" up to 2024, "[hartree]" from 2025: the value is last.
            const auto t = text::split_ws(line);
            out.energies.push_back(number(t.back(), source, line_no, "the total energy"));
        } else if (contains(line, "Electronic entropic energy:")) {
            const auto t = text::split_ws(line);
            out.entropic_energies.push_back(number(t.back(), source, line_no, "the entropic energy"));
        } else if (contains(line, "Integrated absolute spin density")) {
            const auto t = text::split_ws(line);
            out.absolute_spin_density = number(t.back(), source, line_no, "the absolute spin density");
        } else if (contains(line, "ATOMIC FORCES in [a.u.]")) {
            std::vector<Eigen::Vector3d> forces;
            std::size_t j = i + 1;
            for (; j < lines.size(); ++j) {
                const auto t = text::split_ws(lines[j]);
                if (t.empty() || t[0] == "#") continue;
                if (t[0] == "SUM") break;
                if (t.size() < 6 || !text::parse_int(t[0])) break;
                forces.emplace_back(number(t[3], source, j + 1, "a force"), number(t[4], source, j + 1, "a force"),
                                    number(t[5], source, j + 1, "a force"));
            }
            out.forces = std::move(forces);
            i = j;
        } else if (contains(line, "FORCES| Atomic forces")) {
            // CP2K 2025+: "FORCES|  <n>  x  y  z  |f|" rows, then "FORCES| Sum ...".
            std::vector<Eigen::Vector3d> forces;
            std::size_t j = i + 1;
            for (; j < lines.size() && contains(lines[j], "FORCES|"); ++j) {
                auto t = text::split_ws(lines[j].substr(lines[j].find("FORCES|") + 7));
                if (t.size() < 4 || !text::parse_int(t[0])) {
                    if (!t.empty() && t[0] == "Sum") break;
                    continue;
                }
                forces.emplace_back(number(t[1], source, j + 1, "a force"), number(t[2], source, j + 1, "a force"),
                                    number(t[3], source, j + 1, "a force"));
            }
            out.forces = std::move(forces);
            i = j;
        } else if (contains(line, "SCF run converged in")) {
            const auto t = text::split_ws(line);
            int steps = 0;
            for (std::size_t k = 0; k + 1 < t.size(); ++k)
                if (t[k] == "in")
                    if (auto v = text::parse_int(t[k + 1])) steps = static_cast<int>(*v);
            out.scf_converged.push_back(true);
            out.scf_steps.push_back(steps);
        } else if (contains(line, "SCF run NOT converged")) {
            out.scf_converged.push_back(false);
            out.scf_steps.push_back(0);
        } else if (contains(line, "OPTIMIZATION STEP:")) {
            if (auto v = text::parse_int(text::trim(line.substr(line.find(':') + 1))))
                out.optimization_steps = std::max(out.optimization_steps, static_cast<int>(*v));
        } else if (contains(line, "GEOMETRY OPTIMIZATION COMPLETED")) {
            out.geometry_completed = true;
        } else if (contains(line, "MAXIMUM NUMBER OF OPTIMIZATION STEPS REACHED")) {
            out.max_steps_reached = true;
        } else if (contains(line, "[ABORT]")) {
            std::size_t last = i;
            out.aborts.push_back(abort_message(lines, i, &last));
            i = last;
        } else if (contains(line, "PROGRAM ENDED AT")) {
            out.program_ended = true;
        }
    }
    return out;
}

XyzFrame parse_last_xyz_frame(const std::string& text, const std::string& source) {
    const auto lines = split_lines(text);
    XyzFrame last;
    bool any = false;
    std::size_t i = 0;
    while (i < lines.size()) {
        if (text::trim(lines[i]).empty()) { ++i; continue; }
        const auto count = text::parse_int(text::trim(lines[i]));
        if (!count || *count <= 0) throw ParseError(source, i + 1, "expected the atom count of an XYZ frame");
        const auto n = static_cast<std::size_t>(*count);
        if (i + 2 + n > lines.size())
            throw ParseError(source, i + 1, fmt::format("incomplete XYZ frame: {} atoms announced", n));
        XyzFrame frame;
        for (std::size_t k = 0; k < n; ++k) {
            const std::size_t j = i + 2 + k;
            const auto t = text::split_ws(lines[j]);
            if (t.size() < 4) throw ParseError(source, j + 1, "expected 'symbol x y z'");
            frame.species.push_back(t[0]);
            frame.positions.emplace_back(number(t[1], source, j + 1, "a coordinate"),
                                         number(t[2], source, j + 1, "a coordinate"),
                                         number(t[3], source, j + 1, "a coordinate"));
        }
        last = std::move(frame);
        any = true;
        i += 2 + n;
    }
    if (!any) throw ParseError(source, 0, "no XYZ frame");
    return last;
}

void check_output(const CalculationRequest& request, const Cp2kOutput& out, const std::string& file) {
    using Reason = CalculationError::Reason;
    for (const auto& a : out.aborts)
        if (contains(a, "SCF run NOT converged"))
            throw CalculationError(Reason::ScfNotConverged, fmt::format("{}: CP2K stopped: {}", file, a));
    if (!out.aborts.empty()) {
        std::vector<std::string> unique;
        for (const auto& a : out.aborts)
            if (std::find(unique.begin(), unique.end(), a) == unique.end()) unique.push_back(a);
        throw CalculationError(Reason::Crashed, fmt::format("{}: CP2K aborted: {}", file, fmt::join(unique, "; ")));
    }
    if (!out.program_ended)
        throw CalculationError(
            Reason::Truncated,
            fmt::format("{}: output ends before 'PROGRAM ENDED AT' (run killed or out of time?) after {} SCF run(s){}",
                        file, out.scf_converged.size(),
                        out.optimization_steps > 0 ? fmt::format(" and {} optimisation step(s)", out.optimization_steps)
                                                   : std::string()));
    if (out.energies.empty())
        throw CalculationError(Reason::Crashed, fmt::format("{}: CP2K ended without printing a total energy", file));
    if (!out.final_scf_converged())
        throw CalculationError(Reason::ScfNotConverged,
                               fmt::format("{}: SCF run NOT converged within MAX_SCF = {} steps{}", file,
                                           request.protocol.max_scf,
                                           out.optimization_steps > 0
                                               ? fmt::format(" (optimisation step {})", out.optimization_steps)
                                               : std::string()));
    if (request.kind == CalculationKind::Relaxation && !out.geometry_completed)
        throw CalculationError(Reason::GeometryNotConverged,
                               fmt::format("{}: geometry optimisation not converged after {} step(s) "
                                           "(MAX_ITER = {}, fmax = {} eV/Å)",
                                           file, out.optimization_steps, request.protocol.max_relax_steps,
                                           request.protocol.fmax));
}

CalculationResult make_result(const CalculationRequest& request, const Cp2kOutput& out, const std::string& file,
                              const std::vector<Eigen::Vector3d>* final_positions) {
    check_output(request, out, file);
    const std::size_t n = request.structure.size();
    if (out.forces.size() != n)
        throw ParseError(file, 0,
                         fmt::format("expected forces on {} atoms, found {} (FORCE_EVAL/PRINT/FORCES missing?)", n,
                                     out.forces.size()));
    CalculationResult r;
    r.code = "cp2k";
    r.code_version = out.version;
    // With smearing CP2K's total energy is the Mermin free energy F = E − TS: the energy that
    // binding energies and barriers compare is the σ→0 estimate E0 = F − ½(−TS) (exact to
    // second order in σ; VASP's "energy(sigma->0)"). F stays beside it: the forces belong to it.
    const double free_energy = out.energies.back() * units::kHartreeToEV;
    r.energy = free_energy;
    if (!out.entropic_energies.empty()) {
        r.free_energy = free_energy;
        r.energy = free_energy - 0.5 * out.entropic_energies.back() * units::kHartreeToEV;
    }
    r.forces.reserve(n);
    for (const auto& f : out.forces) r.forces.push_back(f * units::kHartreePerBohrToEVPerAngstrom);
    r.structure = request.structure;
    if (final_positions) {
        if (final_positions->size() != n)
            throw ParseError(file, 0, fmt::format("final geometry has {} atoms, the request {}", final_positions->size(), n));
        for (std::size_t i = 0; i < n; ++i)
            r.structure[i].frac = r.structure.to_fractional((*final_positions)[i]);
    }
    r.scf_converged = true;
    r.geometry_converged = true;
    r.ionic_steps = request.kind == CalculationKind::Relaxation ? out.optimization_steps : 0;
    return r;
}

}  // namespace interphase::plugins::cp2k

namespace interphase::plugins::cp2k {
double Cp2kOutput::final_energy_ev() const {
    return energies.empty() ? 0.0 : energies.back() * units::kHartreeToEV;
}
}  // namespace interphase::plugins::cp2k
