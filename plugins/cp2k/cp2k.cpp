// The CP2K Calculator: files in the task folder, the command line, availability checks and
// the registry entry. Input text and output parsing live in input.cpp and parser.cpp.
#include <cstdlib>
#include <fmt/format.h>
#include <fstream>
#include <sstream>
#include <system_error>
#include <unistd.h>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "common/units.hpp"
#include "plugins/cp2k/cp2k.hpp"

namespace interphase::plugins::cp2k {

namespace {

std::optional<std::filesystem::path> find_executable(const std::string& name) {
    auto executable = [](const std::filesystem::path& p) {
        std::error_code ec;
        return std::filesystem::is_regular_file(p, ec) && ::access(p.c_str(), X_OK) == 0;
    };
    if (name.find('/') != std::string::npos) {
        if (executable(name)) return std::filesystem::path(name);
        return std::nullopt;
    }
    const char* path = std::getenv("PATH");
    std::string_view rest = path ? path : "/usr/local/bin:/usr/bin:/bin";
    while (true) {
        const auto colon = rest.find(':');
        std::string dir(rest.substr(0, colon));
        if (dir.empty()) dir = ".";
        const auto candidate = std::filesystem::path(dir) / name;
        if (executable(candidate)) return candidate;
        if (colon == std::string_view::npos) break;
        rest.remove_prefix(colon + 1);
    }
    return std::nullopt;
}

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

/// Writes `text` to `path` through a temporary file and a rename: never a half-written input.
void write_atomically(const std::filesystem::path& path, const std::string& text) {
    const auto tmp = std::filesystem::path(path.string() + ".tmp");
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        out << text;
        out.flush();
        if (!out) throw ExecutionError(fmt::format("cannot write {}", tmp.string()));
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) throw ExecutionError(fmt::format("cannot write {}: {}", path.string(), ec.message()));
}

/// The last non-empty line of a (small) stderr file, for messages about runs that died early.
std::string stderr_hint(const std::filesystem::path& p) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(p, ec)) return {};
    const std::string text = read_file(p);
    std::string last;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        if (!text::trim(line).empty()) last = text::trim(line);
    if (last.size() > 200) last = last.substr(0, 200) + "...";
    return last.empty() ? std::string() : fmt::format(" [{}: {}]", p.filename().string(), last);
}

constexpr const char* kStdout = "cp2k.stdout";
constexpr const char* kStderr = "cp2k.stderr";

}  // namespace

nlohmann::json Cp2kCalculator::hashed_settings() const {
    // Only what changes the numbers: overrides and data file names. The data directory, the
    // executable and the launcher are left out so that a cluster with another install path
    // reuses results computed here.
    // An empty file name is the protocol's choice (part of the protocol, hashed with it).
    nlohmann::json j{{"basis_file", std::filesystem::path(settings_.basis_file).filename().string()},
                     {"potential_file", std::filesystem::path(settings_.potential_file).filename().string()},
                     {"basis_set", settings_.basis_set.empty() ? nlohmann::json() : nlohmann::json(settings_.basis_set)},
                     {"cutoff", settings_.cutoff ? nlohmann::json(*settings_.cutoff) : nlohmann::json()},
                     {"rel_cutoff", settings_.rel_cutoff ? nlohmann::json(*settings_.rel_cutoff) : nlohmann::json()}};
    if (!settings_.element_basis_sets.empty()) j["element_basis_sets"] = settings_.element_basis_sets;
    return j;
}

void Cp2kCalculator::check_available() const {
    if (!find_executable(settings_.executable))
        throw ExecutionError(fmt::format("CP2K executable '{}' not found on PATH (calculator.executable)",
                                         settings_.executable));
    if (settings_.launcher == "mpirun" && !find_executable("mpirun"))
        throw ExecutionError("'mpirun' not found on PATH (calculator.launcher: mpirun; use 'none' to run CP2K directly)");
    // The files named in the workflow, else those of every protocol but `precise` (whose UZH
    // files write_inputs checks): a missing one is reported before the first task.
    std::error_code ec;
    const std::vector<std::string> basis_files{settings_.basis_file.empty() ? "BASIS_MOLOPT" : settings_.basis_file};
    const std::vector<std::string> potential_files{settings_.potential_file.empty() ? "GTH_POTENTIALS"
                                                                                    : settings_.potential_file};
    for (const auto& f : basis_files)
        if (!std::filesystem::is_regular_file(settings_.resolve(f), ec))
            throw ExecutionError(fmt::format("CP2K basis-set file '{}' not found (calculator.data_dir, calculator.basis_file)",
                                             settings_.resolve(f).string()));
    for (const auto& f : potential_files)
        if (!std::filesystem::is_regular_file(settings_.resolve(f), ec))
            throw ExecutionError(fmt::format(
                "CP2K pseudopotential file '{}' not found (calculator.data_dir, calculator.potential_file)",
                settings_.resolve(f).string()));
}

namespace {

/// Removes what a run leaves in `dir` besides cp2k.out (its stdout/stderr and every cp2k-*
/// file: trajectory, restart files, wavefunctions), which the next run would read or append to.
void remove_run_files(const std::filesystem::path& dir) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        const auto name = entry.path().filename().string();
        if (name == kStdout || name == kStderr || name.rfind("cp2k-", 0) == 0) std::filesystem::remove(entry.path(), ec);
    }
}

}  // namespace

void Cp2kCalculator::write_inputs(const CalculationRequest& request, const std::filesystem::path& dir) const {
    const std::string input = write_input(request, settings_);
    // A rerun in the same folder must not read the previous attempt: cp2k -o appends to an
    // existing output and CP2K picks up old restart/trajectory files.
    std::error_code ec;
    std::filesystem::remove(dir / kOutputFile, ec);
    remove_run_files(dir);
    write_atomically(dir / kInputFile, input);
}

LaunchSpec Cp2kCalculator::launch(const std::filesystem::path& dir, int cores) const {
    LaunchSpec spec;
    spec.workdir = dir;
    spec.cores = std::max(1, cores);
    spec.stdout_file = kStdout;
    spec.stderr_file = kStderr;
    const std::vector<std::string> cp2k_args{settings_.executable, "-i", kInputFile, "-o", kOutputFile};
    if (settings_.launcher == "mpirun" && spec.cores > 1) {
        // One MPI rank per core, one thread per rank; --bind-to none leaves placement to the
        // kernel, which matters when several tasks share a node.
        spec.argv = {"mpirun", "-np", std::to_string(spec.cores), "--bind-to", "none"};
        spec.argv.insert(spec.argv.end(), cp2k_args.begin(), cp2k_args.end());
        spec.environment["OMP_NUM_THREADS"] = "1";
        if (::geteuid() == 0) {
            spec.environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
            spec.environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        }
    } else {
        // One process, OpenMP threads on every core (also mpirun with one core: no MPI start-up).
        spec.argv = cp2k_args;
        spec.environment["OMP_NUM_THREADS"] = std::to_string(spec.cores);
    }
    return spec;
}

CalculationResult Cp2kCalculator::parse(const CalculationRequest& request, const std::filesystem::path& dir) const {
    using Reason = CalculationError::Reason;
    const auto out_path = dir / kOutputFile;
    std::error_code ec;
    if (!std::filesystem::is_regular_file(out_path, ec))
        throw CalculationError(Reason::Missing, fmt::format("{}: no CP2K output (did the run start?){}",
                                                            out_path.string(), stderr_hint(dir / kStderr)));
    const std::string file = out_path.string();
    const Cp2kOutput out = parse_output(read_file(out_path), file);
    try {
        check_output(request, out, file);
    } catch (const CalculationError& e) {
        if (e.reason() == Reason::Truncated) {
            const auto hint = stderr_hint(dir / kStderr);
            if (!hint.empty()) throw CalculationError(e.reason(), e.what() + hint);
        }
        throw;
    }
    // The physics record: what the input asked for (recomputed: a pure function of the request
    // and the settings) and what the output says about the result.
    auto with_physics = [&](CalculationResult r) {
        r.physics = plan_input(request, settings_).physics;
        if (out.absolute_spin_density) r.physics["absolute_spin_density"] = *out.absolute_spin_density;
        if (!out.entropic_energies.empty())
            r.physics["entropy_term_eV"] = out.entropic_energies.back() * units::kHartreeToEV;  // −TS
        r.physics["energy"] = r.free_energy ? "sigma->0 (E0 = F + TS/2)" : "total";
        return r;
    };
    if (request.kind != CalculationKind::Relaxation) return with_physics(make_result(request, out, file));

    const auto xyz_path = dir / kTrajectoryFile;
    if (!std::filesystem::is_regular_file(xyz_path, ec))
        throw ParseError(xyz_path.string(), 0, "missing: the relaxation wrote no trajectory");
    const auto frame = parse_last_xyz_frame(read_file(xyz_path), xyz_path.string());
    const auto& atoms = request.structure.atoms();
    if (frame.species.size() != atoms.size())
        throw ParseError(xyz_path.string(), 0,
                         fmt::format("last frame has {} atoms, the request {}", frame.species.size(), atoms.size()));
    for (std::size_t i = 0; i < atoms.size(); ++i)
        if (frame.species[i] != atoms[i].species)
            throw ParseError(xyz_path.string(), 0,
                             fmt::format("atom {} is {} in the trajectory but {} in the request", i + 1,
                                         frame.species[i], atoms[i].species));
    return with_physics(make_result(request, out, file, &frame.positions));
}

bool Cp2kCalculator::prepare_restart(const CalculationRequest& request, const std::filesystem::path& dir) const {
    namespace fs = std::filesystem;
    std::error_code ec;
    CalculationRequest next = request;
    bool continued = false;
    // The last complete frame of the stopped relaxation is the new start; a trajectory cut in
    // the middle of a frame still gives its last complete one.
    const auto xyz = dir / kTrajectoryFile;
    if (request.kind == CalculationKind::Relaxation && fs::is_regular_file(xyz, ec)) {
        try {
            const auto frame = parse_last_xyz_frame(read_file(xyz), xyz.string());
            bool same = frame.species.size() == next.structure.size();
            for (std::size_t i = 0; same && i < frame.species.size(); ++i) same = frame.species[i] == next.structure[i].species;
            if (same) {
                for (std::size_t i = 0; i < frame.positions.size(); ++i)
                    next.structure[i].frac = next.structure.to_fractional(frame.positions[i]);
                continued = true;
            }
        } catch (const ParseError&) {
            // no complete frame yet: the relaxation starts from the request's geometry
        }
    }
    // The stopped run's files are kept, numbered; CP2K must not append to them.
    int part = 1;
    while (fs::exists(dir / fmt::format("{}.part-{}", kOutputFile, part), ec)) ++part;
    if (fs::exists(dir / kOutputFile, ec)) fs::rename(dir / kOutputFile, dir / fmt::format("{}.part-{}", kOutputFile, part), ec);
    if (fs::exists(xyz, ec)) fs::rename(xyz, dir / fmt::format("trajectory.part-{}.xyz", part), ec);
    // The last complete wavefunction (Γ: .wfn, k-points: .kp; a backup when the stop cut the
    // newest one) under a name the next run does not overwrite while reading it.
    std::string wavefunction;
    if (const auto file = last_complete_wavefunction(dir)) {
        const std::string ext = file->filename().string().find(".kp") != std::string::npos ? "kp" : "wfn";
        wavefunction = fmt::format("restart-part-{}.{}", part, ext);
        fs::rename(*file, dir / wavefunction, ec);
        if (ec) throw ExecutionError(fmt::format("cannot keep {}: {}", file->string(), ec.message()));
        continued = true;
    }
    remove_run_files(dir);
    write_atomically(dir / kInputFile, write_input(next, settings_, wavefunction));
    return continued;
}

CalculatorInfo registration() {
    CalculatorInfo info;
    info.name = "cp2k";
    info.description = "CP2K Quickstep (GPW): PBE, GTH pseudopotentials, MOLOPT basis sets";
    info.capabilities = {"single_point", "relaxation", "kpoints", "smearing", "spin_polarized", "fixed_atoms", "mpi",
                         "openmp"};
    info.create = [](const nlohmann::json& config, const std::string& source) -> std::unique_ptr<Calculator> {
        return std::make_unique<Cp2kCalculator>(Settings::from_json(config, source));
    };
    return info;
}

}  // namespace interphase::plugins::cp2k
