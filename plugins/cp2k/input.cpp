// CP2K input generation: configuration, protocol → keyword mapping and the cp2k.inp writer.
// Everything here is deterministic and independent of the machine, except that the valence
// of each element is read from the configured basis-set file (with a built-in fallback).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <fmt/format.h>
#include <fstream>
#include <mutex>
#include <regex>
#include <set>
#include <sstream>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "common/units.hpp"
#include "plugins/cp2k/cp2k.hpp"
#include "structures/elements.hpp"

namespace interphase::plugins::cp2k {

namespace {

constexpr double kBoltzmannEVPerK = 8.617333262e-5;  // CODATA 2018
constexpr double kPi = 3.14159265358979323846;

const std::vector<std::string> kConfigKeys{"executable", "launcher", "data_dir",   "basis_file",
                                           "potential_file", "basis_set", "cutoff", "rel_cutoff"};
const std::vector<std::string> kLaunchers{"none", "mpirun"};

std::string field(const std::string& key) { return "calculator." + key; }

std::string get_string(const nlohmann::json& j, const std::string& key, const std::string& source) {
    const auto& v = j.at(key);
    if (!v.is_string()) throw InputError(source, field(key), "must be a string, got " + v.dump());
    auto s = v.get<std::string>();
    if (text::trim(s).empty()) throw InputError(source, field(key), "must not be empty");
    return s;
}

double get_positive(const nlohmann::json& j, const std::string& key, const std::string& source) {
    const auto& v = j.at(key);
    if (!v.is_number()) throw InputError(source, field(key), "must be a number (Ry), got " + v.dump());
    const double x = v.get<double>();
    if (!(x > 0) || !std::isfinite(x)) throw InputError(source, field(key), "must be > 0 (Ry)");
    return x;
}

// Basis names go verbatim into the input: refuse anything that could break its syntax.
void check_token(const std::string& value, const std::string& source, const std::string& f) {
    for (char c : value)
        if (std::isspace(static_cast<unsigned char>(c)) || c == '&' || c == '!' || c == '#' || c == '"')
            throw InputError(source, f, fmt::format("'{}' is not a valid CP2K name (no spaces, &, !, #)", value));
}

/// Functional name in the protocol → (CP2K XC_FUNCTIONAL, GTH potential family).
struct Functional {
    const char* xc;
    const char* potential;
};
Functional functional_for(const std::string& name) {
    const std::string upper = [&] {
        std::string u = name;
        for (auto& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        return u;
    }();
    if (upper == "PBE") return {"PBE", "GTH-PBE"};
    if (upper == "LDA" || upper == "PADE") return {"PADE", "GTH-PADE"};
    if (upper == "BLYP") return {"BLYP", "GTH-BLYP"};
    throw InputError("protocol", "protocol.functional",
                     text::unknown_name_message("functional for CP2K", name, {"PBE", "LDA", "BLYP"}));
}

/// GTH-PBE valence charges (Goedecker-Teter-Hutter defaults used by the MOLOPT-SR basis sets).
int builtin_valence(const std::string& element) {
    static const std::map<std::string, int> table{
        {"H", 1},  {"He", 2}, {"Li", 3}, {"Be", 4}, {"B", 3},  {"C", 4},  {"N", 5},  {"O", 6},
        {"F", 7},  {"Ne", 8}, {"Na", 9}, {"Mg", 10}, {"Al", 3}, {"Si", 4}, {"P", 5},  {"S", 6},
        {"Cl", 7}, {"Ar", 8}, {"K", 9},  {"Ca", 10}};
    auto it = table.find(element);
    return it == table.end() ? 0 : it->second;
}

/// Header lines of a CP2K basis or potential file: element followed by names/aliases.
/// Cached per path: the files are large and every write_input needs them.
class DataFileIndex {
public:
    /// nullptr when the file cannot be read.
    static const std::vector<std::vector<std::string>>* headers(const std::filesystem::path& path) {
        static std::mutex mutex;
        static std::map<std::string, std::optional<std::vector<std::vector<std::string>>>> cache;
        std::lock_guard lock(mutex);
        auto [it, inserted] = cache.try_emplace(path.string());
        if (inserted) {
            std::ifstream in(path);
            if (in) {
                std::vector<std::vector<std::string>> rows;
                std::string line;
                while (std::getline(in, line)) {
                    // Headers ("Li SZV-MOLOPT-SR-GTH SZV-MOLOPT-SR-GTH-q3", sometimes indented)
                    // start with a letter; exponents, counts and comments do not.
                    auto tokens = text::split_ws(line);
                    if (tokens.size() >= 2 && std::isalpha(static_cast<unsigned char>(tokens[0][0])))
                        rows.push_back(std::move(tokens));
                }
                it->second = std::move(rows);
            }
        }
        return it->second ? &*it->second : nullptr;
    }
};

bool has_entry(const std::vector<std::vector<std::string>>& rows, const std::string& element, const std::string& name,
               std::optional<int>* q = nullptr) {
    static const std::regex q_suffix(R"(-q(\d+)$)");
    for (const auto& row : rows) {
        if (row[0] != element) continue;
        if (std::find(row.begin() + 1, row.end(), name) == row.end()) continue;
        if (q) {
            for (auto t = row.begin() + 1; t != row.end(); ++t) {
                std::smatch m;
                if (std::regex_search(*t, m, q_suffix)) { *q = std::stoi(m[1].str()); break; }
            }
        }
        return true;
    }
    return false;
}

/// Number of contracted spherical functions of a basis set, read from its entry in the basis
/// file ("nset", then per set "n lmin lmax nexp nshell(lmin)...nshell(lmax)" and nexp rows).
/// nullopt when the file or the entry cannot be read.
std::optional<int> basis_function_count(const std::string& element, const std::string& basis,
                                        const std::filesystem::path& path) {
    static std::mutex mutex;
    static std::map<std::string, std::optional<int>> cache;
    const std::string key = path.string() + "\n" + element + "\n" + basis;
    std::lock_guard lock(mutex);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
    std::optional<int> result;
    std::ifstream in(path);
    std::string line;
    auto next_tokens = [&]() -> std::vector<std::string> {
        while (std::getline(in, line)) {
            auto t = text::split_ws(line);
            if (!t.empty() && t[0][0] != '#') return t;
        }
        return {};
    };
    while (in && std::getline(in, line)) {
        const auto t = text::split_ws(line);
        if (t.size() < 2 || t[0] != element || std::find(t.begin() + 1, t.end(), basis) == t.end()) continue;
        const auto nset_tokens = next_tokens();
        const auto nset = nset_tokens.empty() ? std::nullopt : text::parse_int(nset_tokens[0]);
        if (!nset) break;
        int count = 0;
        bool ok = true;
        for (long long set = 0; set < *nset && ok; ++set) {
            const auto h = next_tokens();
            if (h.size() < 5) { ok = false; break; }
            const auto lmin = text::parse_int(h[1]), lmax = text::parse_int(h[2]), nexp = text::parse_int(h[3]);
            if (!lmin || !lmax || !nexp || *lmax < *lmin || h.size() < static_cast<std::size_t>(4 + *lmax - *lmin + 1)) {
                ok = false;
                break;
            }
            for (long long l = *lmin; l <= *lmax; ++l) {
                const auto nshell = text::parse_int(h[static_cast<std::size_t>(4 + l - *lmin)]);
                if (!nshell) { ok = false; break; }
                count += static_cast<int>(*nshell * (2 * l + 1));
            }
            for (long long e = 0; e < *nexp && ok; ++e) ok = !next_tokens().empty();
        }
        if (ok) result = count;
        break;
    }
    cache[key] = result;
    return result;
}

std::string fmt_real(double v, int digits = 10) {
    if (std::abs(v) < 0.5 * std::pow(10.0, -digits)) v = 0.0;  // no "-0.000..." in golden files
    return fmt::format("{:.{}f}", v, digits);
}

std::string single_line(std::string s) {
    for (auto& c : s)
        if (c == '\n' || c == '\r') c = ' ';
    return s;
}

}  // namespace

std::filesystem::path Settings::resolve(const std::string& file) const {
    std::filesystem::path p(file);
    return p.is_absolute() ? p : data_dir / p;
}

Settings Settings::from_json(const nlohmann::json& config, const std::string& source) {
    Settings s;
    if (config.is_null()) return s;
    if (!config.is_object()) throw InputError(source, "calculator", "must be a mapping of CP2K settings");
    for (const auto& [key, value] : config.items())
        if (std::find(kConfigKeys.begin(), kConfigKeys.end(), key) == kConfigKeys.end())
            throw InputError(source, field(key), text::unknown_name_message("cp2k setting", key, kConfigKeys));

    if (config.contains("executable")) s.executable = get_string(config, "executable", source);
    if (config.contains("launcher")) {
        s.launcher = get_string(config, "launcher", source);
        if (std::find(kLaunchers.begin(), kLaunchers.end(), s.launcher) == kLaunchers.end())
            throw InputError(source, field("launcher"), text::unknown_name_message("launcher", s.launcher, kLaunchers));
    }
    if (config.contains("data_dir")) {
        s.data_dir = get_string(config, "data_dir", source);
        if (!s.data_dir.is_absolute())
            throw InputError(source, field("data_dir"), "must be an absolute path (CP2K runs in the task folder)");
    }
    if (config.contains("basis_file")) s.basis_file = get_string(config, "basis_file", source);
    if (config.contains("potential_file")) s.potential_file = get_string(config, "potential_file", source);
    if (config.contains("basis_set")) {
        const auto& b = config.at("basis_set");
        if (b.is_string()) {
            s.basis_set = get_string(config, "basis_set", source);
            check_token(s.basis_set, source, field("basis_set"));
        } else if (b.is_object()) {
            for (const auto& [el, name] : b.items()) {
                const std::string f = field("basis_set." + el);
                if (!structures::is_element(el)) throw InputError(source, f, "is not a chemical element symbol");
                if (!name.is_string() || text::trim(name.get<std::string>()).empty())
                    throw InputError(source, f, "must be a basis-set name");
                s.element_basis_sets[el] = name.get<std::string>();
                check_token(s.element_basis_sets[el], source, f);
            }
        } else {
            throw InputError(source, field("basis_set"),
                             "must be a basis-set name or a mapping element → name, got " + b.dump());
        }
    }
    if (config.contains("cutoff")) s.cutoff = get_positive(config, "cutoff", source);
    if (config.contains("rel_cutoff")) s.rel_cutoff = get_positive(config, "rel_cutoff", source);
    return s;
}

nlohmann::json Settings::to_json() const {
    nlohmann::json j{{"executable", executable}, {"launcher", launcher}, {"data_dir", data_dir.string()}};
    if (!basis_file.empty()) j["basis_file"] = basis_file;
    if (!potential_file.empty()) j["potential_file"] = potential_file;
    if (!element_basis_sets.empty()) {
        nlohmann::json b = element_basis_sets;
        if (!basis_set.empty()) b["*"] = basis_set;
        j["basis_set"] = b;
    } else if (!basis_set.empty()) {
        j["basis_set"] = basis_set;
    }
    if (cutoff) j["cutoff"] = *cutoff;
    if (rel_cutoff) j["rel_cutoff"] = *rel_cutoff;
    return j;
}

Numerics numerics(const Protocol& protocol, const Settings& settings) {
    Numerics n;
    // Basis, pseudopotential family, cutoffs (Ry) of the finest multigrid level and of the
    // Gaussian-to-grid mapping, grid count, EPS_DEFAULT. Measured distances from convergence
    // are in docs/protocols.md. No XC_SMOOTH_RHO/XC_DERIV smoothing in any protocol: it biases
    // the free Li atom by 1.0-1.6 eV (issue 12), so energies would not be comparable.
    const std::string& precision = protocol.precision;
    if (precision == "plumbing") {
        // SZV has no p functions for Li: for tests of the machinery only.
        n = {"SZV-MOLOPT-SR-GTH", false, "BASIS_MOLOPT", "GTH_POTENTIALS", 250, 40, 4, 1e-10, {}, {}};
    } else if (precision == "fast") {
        n = {"DZVP-MOLOPT-SR-GTH", false, "BASIS_MOLOPT", "GTH_POTENTIALS", 400, 50, 4, 1e-12, {}, {}};
    } else if (precision == "standard") {
        n = {"DZVP-MOLOPT-SR-GTH", false, "BASIS_MOLOPT", "GTH_POTENTIALS", 600, 60, 5, 1e-12, {}, {}};
    } else if (precision == "precise") {
        // The UZH triple-zeta sets exist per valence ("-q3" for Li...): the name gets the
        // valence of the element's default GTH potential appended.
        n = {"TZV2P-MOLOPT-PBE-GTH", true, "BASIS_MOLOPT_UZH", "POTENTIAL_UZH", 800, 80, 5, 1e-12, {}, {}};
    } else {
        throw InputError("protocol", "protocol.precision",
                         text::unknown_name_message("precision", precision, {"plumbing", "fast", "standard", "precise"}));
    }
    if (!settings.basis_set.empty()) {
        n.basis_set = settings.basis_set;
        n.basis_valence_suffix = false;
    }
    if (!settings.basis_file.empty()) n.basis_file = settings.basis_file;
    if (!settings.potential_file.empty()) n.potential_file = settings.potential_file;
    if (settings.cutoff) n.cutoff = *settings.cutoff;
    if (settings.rel_cutoff) n.rel_cutoff = *settings.rel_cutoff;
    n.basis_path = settings.resolve(n.basis_file);
    n.potential_path = settings.resolve(n.potential_file);
    return n;
}

std::array<int, 3> kpoint_mesh(const structures::Structure& s, double spacing) {
    if (!(spacing > 0)) throw InputError("protocol", "protocol.kpoint_spacing", "must be > 0 (Å^-1)");
    // Rows of L are a_i; rows of B = 2π L^-T are b_i, so that a_i · b_j = 2π δ_ij.
    const Eigen::Matrix3d reciprocal = 2.0 * kPi * s.lattice().inverse().transpose();
    std::array<int, 3> n{1, 1, 1};
    for (int i = 0; i < 3; ++i) {
        if (!s.pbc()[static_cast<std::size_t>(i)]) continue;
        // The small tolerance keeps an exact multiple (|b| = 3 × spacing) from becoming 4.
        const double ratio = reciprocal.row(i).norm() / spacing;
        n[static_cast<std::size_t>(i)] = std::max(1, static_cast<int>(std::ceil(ratio - 1e-9)));
    }
    return n;
}

int valence_electrons(const std::string& element, const std::string& basis_set,
                      const std::filesystem::path& basis_file) {
    if (const auto* rows = DataFileIndex::headers(basis_file)) {
        std::optional<int> q;
        if (!has_entry(*rows, element, basis_set, &q))
            throw InputError(basis_file.string(), "calculator.basis_set",
                             fmt::format("no basis set '{}' for element {} in this file", basis_set, element));
        if (q) return *q;
    }
    static const std::regex q_in_name(R"(-q(\d+)$)");
    std::smatch m;
    if (std::regex_search(basis_set, m, q_in_name)) return std::stoi(m[1].str());
    if (int q = builtin_valence(element); q > 0) return q;
    throw InputError(basis_file.string(), "calculator.basis_set",
                     fmt::format("cannot tell the valence of {} for basis set '{}' (basis file unreadable)", element,
                                 basis_set));
}

std::string write_input(const CalculationRequest& request, const Settings& settings,
                        const std::string& wavefunction_restart) {
    return plan_input(request, settings, wavefunction_restart).text;
}

InputPlan plan_input(const CalculationRequest& request, const Settings& settings, const std::string& wavefunction_restart) {
    const auto& s = request.structure;
    const auto& p = request.protocol;
    if (s.size() == 0) throw InputError("request", "structure", "has no atoms");
    const Numerics num = numerics(p, settings);
    const Functional xc = functional_for(p.functional);
    const auto& basis_path = num.basis_path;
    const auto& potential_path = num.potential_path;
    for (const auto* file : {&basis_path, &potential_path})
        if (std::error_code ec; !std::filesystem::is_regular_file(*file, ec))
            throw InputError(file->string(), "calculator.data_dir",
                             fmt::format("not found: precision '{}' needs it (cp2k-data ships it in /usr/share/cp2k)",
                                         p.precision));
    if (num.basis_valence_suffix && xc.xc != std::string("PBE"))
        throw InputError("protocol", "protocol.functional",
                         fmt::format("precision '{}' uses the PBE-optimised TZV2P-MOLOPT-PBE-GTH basis sets; use PBE "
                                     "or name a basis set (calculator.basis_set)",
                                     p.precision));

    // Kinds: one per species, sorted, with the basis and the matching GTH-<xc>-qN potential.
    struct Kind {
        std::string basis;
        std::string potential;
        int valence;
        std::optional<int> functions;
    };
    std::map<std::string, Kind> kinds;
    for (const auto& atom : s.atoms()) {
        if (kinds.count(atom.species)) continue;
        if (!structures::is_element(atom.species))
            throw InputError("request", "structure", fmt::format("unknown element '{}'", atom.species));
        auto it = settings.element_basis_sets.find(atom.species);
        std::string basis = num.basis_set;
        if (it != settings.element_basis_sets.end()) {
            basis = it->second;
        } else if (num.basis_valence_suffix) {
            // The valence of the element's default GTH potential (the one DZVP-MOLOPT-SR uses).
            basis += fmt::format("-q{}", valence_electrons(atom.species, "DZVP-MOLOPT-SR-GTH", settings.resolve("BASIS_MOLOPT")));
        }
        const int q = valence_electrons(atom.species, basis, basis_path);
        const std::string potential = fmt::format("{}-q{}", xc.potential, q);
        if (const auto* rows = DataFileIndex::headers(potential_path); rows && !has_entry(*rows, atom.species, potential))
            throw InputError(potential_path.string(), "calculator.potential_file",
                             fmt::format("no pseudopotential '{}' for element {} in this file", potential, atom.species));
        kinds[atom.species] = {basis, potential, q, basis_function_count(atom.species, basis, basis_path)};
    }

    int electrons = -request.charge;
    for (const auto& atom : s.atoms()) electrons += kinds.at(atom.species).valence;
    if (electrons <= 0)
        throw InputError("request", "charge", fmt::format("leaves {} valence electrons", electrons));

    // Orbitals available per spin: smearing needs some above the occupied ones. A minimal
    // basis can have none (SZV Li has 1s and 2s only: a Li atom fills both alpha orbitals), and
    // CP2K then aborts; such a system gets integer occupations instead.
    std::optional<int> orbitals = 0;
    for (const auto& atom : s.atoms()) {
        const auto& f = kinds.at(atom.species).functions;
        orbitals = (orbitals && f) ? std::optional<int>(*orbitals + *f) : std::nullopt;
    }

    // k-points by electronic character: an unknown character counts as a metal (the denser mesh).
    const bool metallic = request.electronic != Electronic::Insulator;
    const double spacing = p.kpoint_spacing_for(metallic);
    const auto mesh = kpoint_mesh(s, spacing);
    const bool gamma_only = mesh == std::array<int, 3>{1, 1, 1};

    // Spin (docs/plugins/cp2k.md, "Spin"). An explicit multiplicity always means UKS. In the
    // automatic treatment an odd electron count is a doublet for an insulator, a molecule or an
    // atom at Γ (a Li adatom in an insulating supercell, the free Li atom), and closed shell
    // with smearing for a metal, where the unpaired electron is delocalised (measured: the same
    // energy to 1e-11 Ha at half the cost, 14 instead of 49 SCF steps, for Li on Al(111) 2x2),
    // and for any cell sampled with k-points, where the adsorbate's electron forms a band over
    // its periodic images (a UKS Li/Li2S(111) 1x1 cell with 3x3x1 k needed 66 SCF steps for its
    // first geometry); `spin: unrestricted` asks for the polarised solution.
    const int requested = request.spin_multiplicity;
    if (requested < 0) throw InputError("request", "spin_multiplicity", "must be >= 0 (0 = automatic)");
    if (requested > 0) {
        const int unpaired = requested - 1;
        if (unpaired > electrons || (electrons - unpaired) % 2 != 0)
            throw InputError("request", "spin_multiplicity",
                             fmt::format("multiplicity {} is impossible with {} electrons", requested, electrons));
    }
    const bool odd = electrons % 2 != 0;
    // An insulator, a molecule or an atom at Γ has integer occupations (orbital transformation):
    // smearing there only slows the SCF (diagonalisation and mixing instead of OT).
    const bool wants_smearing = p.smearing > 0 && (metallic || !gamma_only);
    const bool can_smear = wants_smearing && (!orbitals || *orbitals - (electrons + 1) / 2 > 0);
    bool uks = false;
    int multiplicity = 1;
    switch (request.spin) {
        case SpinTreatment::Restricted:
            if (requested > 1)
                throw InputError("request", "spin", fmt::format("restricted (closed shell) contradicts multiplicity {}", requested));
            if (odd && !can_smear)
                throw InputError("request", "spin",
                                 fmt::format("restricted: {} electrons (odd) need smearing or an unrestricted calculation",
                                             electrons));
            break;
        case SpinTreatment::Unrestricted:
            uks = true;
            multiplicity = requested > 0 ? requested : (odd ? 2 : 1);
            break;
        case SpinTreatment::Auto:
            if (requested > 0) {
                uks = true;
                multiplicity = requested;
            } else if (odd && ((!metallic && gamma_only) || !can_smear)) {
                uks = true;
                multiplicity = 2;
            }
            break;
    }
    const int occupied = uks ? (electrons + multiplicity - 1) / 2 : (electrons + 1) / 2;
    const int spare = orbitals ? *orbitals - occupied : 1 << 20;
    const bool smearing = wants_smearing && spare > 0;
    // CP2K cannot fix the moment with k-points (it aborts): there the multiplicity only starts
    // the SCF and the moment relaxes with the Fermi level shared by both spins.
    const bool fixed_moment = uks && smearing && gamma_only;
    const bool relax = request.kind == CalculationKind::Relaxation;
    if (p.scf_tolerance <= 0) throw InputError("protocol", "protocol.scf_tolerance", "must be > 0");

    // The dipole correction along z. CP2K places the dipole layer itself, at the plane of
    // lowest planar-averaged density (the middle of the vacuum): an explicit SURF_DIP_POS at the
    // cell boundary (where a centred slab's vacuum middle falls) made CP2K 2023.1 abort with
    // "Dipole correction needs more vacuum space" (measured on Al(111) with 10 Å of vacuum).
    const bool dipole = request.slab;
    if (dipole) {
        const auto& L = s.lattice();
        if (std::abs(L(0, 2)) > 1e-6 || std::abs(L(1, 2)) > 1e-6 || std::abs(L(2, 0)) > 1e-6 || std::abs(L(2, 1)) > 1e-6)
            throw InputError("request", "slab",
                             "the dipole correction needs a and b in the xy plane and c along z (the slab normal)");
    }

    std::ostringstream o;
    o << "! CP2K input written by Interphase (" << kPluginVersion << "); edits are overwritten.\n";
    if (!request.label.empty()) o << "! " << single_line(request.label) << "\n";
    o << "! protocol " << single_line(p.name) << ": " << p.functional << ", precision " << p.precision
      << ", k-spacing " << fmt::format("{:g}", spacing) << " 1/A (" << to_string(request.electronic) << "), smearing "
      << fmt::format("{:g}", p.smearing) << " eV, dispersion " << p.dispersion << (request.slab ? ", slab" : "") << "\n";
    o << "&GLOBAL\n"
      << "  PROJECT cp2k\n"
      << "  RUN_TYPE " << (relax ? "GEO_OPT" : "ENERGY_FORCE") << "\n"
      << "  PRINT_LEVEL LOW\n"
      << "&END GLOBAL\n";

    o << "&FORCE_EVAL\n"
      << "  METHOD QUICKSTEP\n"
      << "  &DFT\n"
      << "    BASIS_SET_FILE_NAME " << basis_path.string() << "\n"
      << "    POTENTIAL_FILE_NAME " << potential_path.string() << "\n"
      << "    CHARGE " << request.charge << "\n";
    if (uks) o << "    UKS .TRUE.\n    MULTIPLICITY " << multiplicity << "\n";
    if (dipole)
        o << "    SURFACE_DIPOLE_CORRECTION .TRUE.\n"
          << "    SURF_DIP_DIR Z\n";
    o << "    &MGRID\n"
      << "      NGRIDS " << num.ngrids << "\n"
      << "      CUTOFF " << fmt::format("{:g}", num.cutoff) << "\n"
      << "      REL_CUTOFF " << fmt::format("{:g}", num.rel_cutoff) << "\n"
      << "    &END MGRID\n"
      << "    &QS\n"
      << "      METHOD GPW\n"
      << "      EPS_DEFAULT " << fmt::format("{:.1E}", num.eps_default) << "\n"
      << "    &END QS\n";
    if (!gamma_only) {
        o << "    &KPOINTS\n"
          << "      SCHEME MONKHORST-PACK " << mesh[0] << " " << mesh[1] << " " << mesh[2] << "\n"
          << "    &END KPOINTS\n";
    }
    if (!wavefunction_restart.empty()) o << "    WFN_RESTART_FILE_NAME " << wavefunction_restart << "\n";
    // Orbital transformation for integer occupations at Γ; diagonalisation otherwise (below).
    const bool orbital_transformation = !(smearing || !gamma_only);
    // OT's DIIS can stall far from the minimum; an outer loop restarts it (new preconditioner,
    // fresh DIIS history): the protocol's max_scf is split into inner cycles of at most 30.
    const int inner_scf = orbital_transformation ? std::min(p.max_scf, 30) : p.max_scf;
    const int outer_scf = orbital_transformation ? (p.max_scf + inner_scf - 1) / inner_scf : 0;
    o << "    &SCF\n"
      << "      SCF_GUESS " << (wavefunction_restart.empty() ? "ATOMIC" : "RESTART") << "\n"
      << "      EPS_SCF " << fmt::format("{:.1E}", p.scf_tolerance) << "\n"
      << "      MAX_SCF " << inner_scf << "\n";
    if (wants_smearing && !smearing)
        o << "      ! no smearing: the basis has no orbital above the " << occupied << " occupied per spin\n";
    else if (p.smearing > 0 && !smearing)
        o << "      ! no smearing: an insulator at the Gamma point has integer occupations\n";
    if (!orbital_transformation) {
        // Diagonalisation with Broyden density mixing: needed for k-points and for fractional
        // occupations, and far more robust than OT for metals and small-gap systems.
        const int added = std::min(spare, std::max(8, static_cast<int>(std::ceil(0.2 * occupied))));
        if (smearing) o << "      ADDED_MOS " << added << "\n";
        o << "      &DIAGONALIZATION\n"
          << "        ALGORITHM STANDARD\n"
          << "      &END DIAGONALIZATION\n"
          << "      &MIXING\n"
          << "        METHOD BROYDEN_MIXING\n"
          // α 0.4 for metals too: on Al(111) 2x2 (DZVP, 400 Ry, 2x2x1 k) it converges in 15
          // SCF steps where α 0.2 with Kerker damping (β 1.5) needs 26, to the same energy (2e-6 Ha).
          << "        ALPHA 0.4\n"
          << "        NBROYDEN 8\n"
          << "      &END MIXING\n";
        if (smearing) {
            o << "      &SMEAR ON\n"
              << "        METHOD FERMI_DIRAC\n"
              << "        ELECTRONIC_TEMPERATURE [K] " << fmt::format("{:.2f}", p.smearing / kBoltzmannEVPerK) << "\n";
            // At Γ the multiplicity is kept (integer moment, one Fermi level per spin); with
            // k-points CP2K cannot fix it and the moment relaxes (see above).
            if (fixed_moment) o << "        FIXED_MAGNETIC_MOMENT " << (multiplicity - 1) << "\n";
            else if (uks) o << "        ! moment free: CP2K cannot fix it with k-points\n";
            o << "      &END SMEAR\n";
        }
    } else {
        // Integer occupations at Γ (no smearing asked, or none possible): orbital
        // transformation, which converges a Li atom in 5 steps where Broyden needs ~20.
        o << "      &OT\n"
          << "        MINIMIZER DIIS\n"
          << "        PRECONDITIONER FULL_SINGLE_INVERSE\n"
          << "      &END OT\n"
          << "      &OUTER_SCF\n"
          << "        MAX_SCF " << outer_scf << "\n"
          << "        EPS_SCF " << fmt::format("{:.1E}", p.scf_tolerance) << "\n"
          << "      &END OUTER_SCF\n";
    }
    o << "    &END SCF\n"
      << "    &XC\n"
      << "      &XC_FUNCTIONAL " << xc.xc << "\n"
      << "      &END XC_FUNCTIONAL\n";
    if (p.dispersion == "d3bj") {
        o << "      &VDW_POTENTIAL\n"
          << "        POTENTIAL_TYPE PAIR_POTENTIAL\n"
          << "        &PAIR_POTENTIAL\n"
          << "          TYPE DFTD3(BJ)\n"
          << "          PARAMETER_FILE_NAME " << settings.resolve("dftd3.dat").string() << "\n"
          << "          REFERENCE_FUNCTIONAL " << xc.xc << "\n"
          << "        &END PAIR_POTENTIAL\n"
          << "      &END VDW_POTENTIAL\n";
    } else if (p.dispersion != "none") {
        throw InputError("protocol", "protocol.dispersion",
                         text::unknown_name_message("dispersion", p.dispersion, {"none", "d3bj"}));
    }
    o << "    &END XC\n"
      << "  &END DFT\n";

    o << "  &SUBSYS\n"
      << "    &CELL\n";
    const char* names[3] = {"A", "B", "C"};
    for (int i = 0; i < 3; ++i) {
        const auto v = s.lattice().row(i);
        o << "      " << names[i] << " " << fmt_real(v[0]) << " " << fmt_real(v[1]) << " " << fmt_real(v[2]) << "\n";
    }
    o << "      PERIODIC XYZ\n"
      << "    &END CELL\n"
      << "    &COORD\n";
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto r = s.cartesian(i);
        o << "      " << s[i].species << " " << fmt_real(r[0]) << " " << fmt_real(r[1]) << " " << fmt_real(r[2]) << "\n";
    }
    o << "    &END COORD\n";
    for (const auto& [species, kind] : kinds) {
        o << "    &KIND " << species << "\n"
          << "      BASIS_SET " << kind.basis << "\n"
          << "      POTENTIAL " << kind.potential << "\n"
          << "    &END KIND\n";
    }
    o << "  &END SUBSYS\n"
      << "  &PRINT\n"
      << "    &FORCES ON\n"
      << "    &END FORCES\n"
      << "  &END PRINT\n"
      << "&END FORCE_EVAL\n";

    if (relax) {
        // CP2K converges when all four criteria hold. Its MAX_FORCE bounds each Cartesian
        // component, Interphase's fmax the norm per atom: MAX_FORCE = fmax/√3 guarantees
        // |F_i| ≤ fmax. RMS_FORCE = MAX_FORCE never binds (rms ≤ max), and the step criteria
        // MAX_DR/RMS_DR are set out of reach, so the force criterion alone governs.
        const double max_force = p.fmax / std::sqrt(3.0) / units::kHartreePerBohrToEVPerAngstrom;
        std::vector<std::size_t> fixed;
        for (std::size_t i = 0; i < s.size(); ++i)
            if (s[i].fixed) fixed.push_back(i + 1);
        if (fixed.size() == s.size())
            throw InputError("request", "structure", "every atom is fixed: nothing to relax");
        o << "&MOTION\n"
          << "  &GEO_OPT\n"
          << "    TYPE MINIMIZATION\n"
          << "    OPTIMIZER " << (s.size() > 100 ? "LBFGS" : "BFGS") << "\n"
          << "    MAX_ITER " << p.max_relax_steps << "\n"
          << "    MAX_FORCE " << fmt::format("{:.6E}", max_force) << "\n"
          << "    RMS_FORCE " << fmt::format("{:.6E}", max_force) << "\n"
          << "    MAX_DR 1.0E+03\n"
          << "    RMS_DR 1.0E+03\n"
          << "  &END GEO_OPT\n";
        if (!fixed.empty()) {
            o << "  &CONSTRAINT\n"
              << "    &FIXED_ATOMS\n"
              << "      COMPONENTS_TO_FIX XYZ\n";
            for (std::size_t k = 0; k < fixed.size(); k += 20) {
                o << "      LIST";
                for (std::size_t m = k; m < std::min(fixed.size(), k + 20); ++m) o << " " << fixed[m];
                o << "\n";
            }
            o << "    &END FIXED_ATOMS\n"
              << "  &END CONSTRAINT\n";
        }
        o << "  &PRINT\n"
          << "    &TRAJECTORY ON\n"
          << "      FORMAT XYZ\n"
          << "    &END TRAJECTORY\n"
          << "  &END PRINT\n"
          << "&END MOTION\n";
    }
    InputPlan plan;
    plan.text = o.str();
    // What was computed, for the reader of a number (docs/protocols.md, "Provenance").
    nlohmann::json kind_json = nlohmann::json::object();
    for (const auto& [species, kind] : kinds)
        kind_json[species] = {{"basis_set", kind.basis}, {"potential", kind.potential}, {"valence", kind.valence}};
    std::size_t n_fixed = 0;
    for (std::size_t i = 0; i < s.size(); ++i) n_fixed += s[i].fixed ? 1 : 0;
    plan.physics = {{"code", "cp2k"},
                    {"plugin_version", kPluginVersion},
                    {"protocol", p.name},
                    {"precision", p.precision},
                    {"functional", xc.xc},
                    {"kinds", kind_json},
                    {"basis_file", basis_path.filename().string()},
                    {"potential_file", potential_path.filename().string()},
                    {"cutoff_Ry", num.cutoff},
                    {"rel_cutoff_Ry", num.rel_cutoff},
                    {"ngrids", num.ngrids},
                    {"eps_default", num.eps_default},
                    {"eps_scf", p.scf_tolerance},
                    {"electronic", to_string(request.electronic)},
                    {"kpoint_spacing_per_A", spacing},
                    {"kpoint_mesh", {mesh[0], mesh[1], mesh[2]}},
                    {"smearing", smearing ? "fermi_dirac" : "none"},
                    {"smearing_eV", smearing ? p.smearing : 0.0},
                    {"spin", uks ? "unrestricted" : "restricted"},
                    {"multiplicity", multiplicity},
                    {"moment", uks ? (fixed_moment ? "fixed" : (smearing ? "free" : "integer")) : "none"},
                    {"electrons", electrons},
                    {"charge", request.charge},
                    {"dipole_correction", dipole ? nlohmann::json{{"direction", "z"}, {"position", "lowest-density plane"}}
                                                 : nlohmann::json(nullptr)},
                    {"dispersion", p.dispersion},
                    {"fixed_atoms", n_fixed},
                    {"fmax_eV_per_A", relax ? nlohmann::json(p.fmax) : nlohmann::json(nullptr)}};
    return plan;
}

}  // namespace interphase::plugins::cp2k
