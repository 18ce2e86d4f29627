#include "engine/workflow.hpp"

#include <fmt/format.h>
#include <fstream>
#include <set>
#include <sstream>
#include <yaml-cpp/yaml.h>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "common/yaml_reader.hpp"
#include "engine/drivers/neb.hpp"
#include "engine/hash.hpp"
#include "structures/io.hpp"
#include "structures/elements.hpp"
#include "structures/prototypes.hpp"
#include "structures/slab.hpp"

namespace interphase::engine {

const char* to_string(Reference r) { return r == Reference::BulkMetal ? "bulk" : "isolated_atom"; }

namespace {

// Reads workflow YAML nodes with the file and line in every error message.
class Reader : public yaml::Reader {
public:
    using yaml::Reader::Reader;
    template <class T>
    T get(const YAML::Node& n, const std::string& field, const char* type_name) const {
        try {
            return n.as<T>();
        } catch (const YAML::Exception&) {
            fail(n, field, fmt::format("expected {}, got '{}'", type_name, YAML::Dump(n)));
        }
    }
    std::string str(const YAML::Node& n, const std::string& f) const {
        auto s = get<std::string>(n, f, "a string");
        if (!text::is_valid_utf8(s)) fail(n, f, fmt::format("'{}' is not valid UTF-8", text::printable(s)));
        return s;
    }
    int integer(const YAML::Node& n, const std::string& f) const { return get<int>(n, f, "an integer"); }
    double number(const YAML::Node& n, const std::string& f) const {
        const double v = get<double>(n, f, "a number");
        if (!std::isfinite(v)) fail(n, f, "must be a finite number");
        return v;
    }
};

// Plugin settings and driver options as JSON. Strings must be UTF-8 (JSON's own rule): checked
// here, where the line is known, rather than when the settings are hashed mid-run.
nlohmann::json to_json(const YAML::Node& n, const Reader& r, const std::string& field) {
    if (n.IsScalar() && !text::is_valid_utf8(n.Scalar()))
        r.fail(n, field, fmt::format("'{}' is not valid UTF-8", text::printable(n.Scalar())));
    if (n.IsMap()) {
        nlohmann::json j = nlohmann::json::object();
        for (const auto& kv : n) {
            const auto key = kv.first.as<std::string>();
            if (!text::is_valid_utf8(key)) r.fail(kv.first, field, fmt::format("key '{}' is not valid UTF-8", text::printable(key)));
            j[key] = to_json(kv.second, r, field + "." + key);
        }
        return j;
    }
    if (n.IsSequence()) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& v : n) j.push_back(to_json(v, r, field));
        return j;
    }
    if (n.IsNull()) return nullptr;
    const std::string s = n.Scalar();
    if (n.Tag() == "!") return s;  // quoted scalar stays a string
    if (s == "true" || s == "True") return true;
    if (s == "false" || s == "False") return false;
    if (auto i = text::parse_int(s)) return *i;
    if (auto d = text::parse_double(s)) return *d;
    return s;
}

std::array<int, 3> read_miller(const Reader& r, const YAML::Node& n, const std::string& field) {
    std::string text;
    if (n.IsSequence()) {
        for (const auto& v : n) text += (text.empty() ? "" : ",") + std::to_string(r.integer(v, field));
    } else {
        text = r.str(n, field);
    }
    try {
        return structures::parse_miller(text, r.where(n));
    } catch (const InputError& e) {
        r.fail(n, field, e.what());
    }
}

// Where the structure files a workflow names are read from: beside the workflow file, or, on a
// resume, the run folder's own copies (so an edit of the original after the run started cannot
// silently change what the run computes).
struct InputFiles {
    std::filesystem::path base;                 ///< relative paths are relative to the workflow file
    std::filesystem::path copies;               ///< RUN_DIR/inputs, or empty
    std::vector<std::filesystem::path>* read;   ///< every file named, as resolved
};

nlohmann::json read_structure_file(const Reader& r, const YAML::Node& n, const std::string& field,
                                   const InputFiles& files, std::string& source) {
    auto file = std::filesystem::path(r.str(n, field));
    if (file.is_relative()) file = files.base / file;
    // Absolute: the same file is the same source (and the same build-task hash) whether the
    // workflow was named relative to the current folder (run) or from its recorded path (resume).
    file = std::filesystem::absolute(file).lexically_normal();
    source = file.string();
    files.read->push_back(file);
    std::filesystem::path from = file;
    if (!files.copies.empty())
        if (const auto copy = input_copy_path(files.copies, file); std::filesystem::exists(copy)) from = copy;
    try {
        auto s = structures::read_structure(from);
        if (s.title.empty()) s.title = file.stem().string();
        return structures::to_json(s);
    } catch (const Error& e) {
        r.fail(n, field, e.what());
    }
}

// Names reach folders, HDF5 groups, batch scripts and terminals: printable UTF-8, bounded.
void check_name(const Reader& r, const YAML::Node& n, const std::string& field, const std::string& name) {
    if (const auto why = text::name_problem(name, kMaxNameBytes))
        r.fail(n, field, "'" + text::printable(name) + "' " + *why);
}

HostSpec read_host(const Reader& r, const YAML::Node& h, std::size_t i, const InputFiles& files) {
    const std::string p = fmt::format("hosts[{}]", i);
    r.only_keys(h, p, {"name", "phase", "structure", "miller", "layers", "vacuum", "supercell", "fix_bottom_layers",
                       "fix_bottom", "termination", "sites"});
    HostSpec host;
    if (h["phase"] && h["structure"]) r.fail(h, p, "give either 'phase' or 'structure', not both");
    if (h["phase"]) {
        const auto name = r.str(h["phase"], p + ".phase");
        try {
            host.phase = structures::prototype(name).name;
        } catch (const InputError& e) {
            const auto why = structures::not_shipped_reason(name);
            r.fail(h["phase"], p + ".phase",
                   why ? *why : text::unknown_name_message("phase", name, structures::prototype_names()));
        }
        host.bulk_source = *host.phase;
    } else if (h["structure"]) {
        host.bulk_structure = read_structure_file(r, h["structure"], p + ".structure", files, host.bulk_source);
    } else {
        r.fail(h, p, "needs 'phase' (a built-in prototype) or 'structure' (a file)");
    }
    if (h["miller"]) host.miller = read_miller(r, h["miller"], p + ".miller");
    const std::string bulk_label = host.phase ? *host.phase : std::filesystem::path(host.bulk_source).stem().string();
    host.name = h["name"] ? r.str(h["name"], p + ".name")
                          : fmt::format("{}({}{}{})", bulk_label, host.miller[0], host.miller[1], host.miller[2]);
    check_name(r, h["name"] ? h["name"] : h, p + ".name", host.name);
    if (host.name.find_first_of("/|\\") != std::string::npos)
        r.fail(h["name"] ? h["name"] : h, p + ".name", fmt::format("'{}' must not contain '/', '\\' or '|'", host.name));
    // A host is an HDF5 group beside the datasets of /binding_energy and /neb (docs/results-hdf5.md).
    static const std::vector<std::string> reserved{".",         "..",     "host",          "binding_energy", "best_site",
                                                   "reference", "task",   "hop",           "forward_barrier",
                                                   "reverse_barrier",     "saddle_index",  "converged", "band"};
    if (std::find(reserved.begin(), reserved.end(), host.name) != reserved.end())
        r.fail(h["name"] ? h["name"] : h, p + ".name",
               fmt::format("'{}' is reserved (a dataset of results.h5 has that name); choose another host name", host.name));
    if (h["layers"]) {
        host.layers = r.integer(h["layers"], p + ".layers");
        if (host.layers < 1 || host.layers > 50) r.fail(h["layers"], p + ".layers", "must be between 1 and 50");
    }
    if (h["vacuum"]) {
        host.vacuum = r.number(h["vacuum"], p + ".vacuum");
        if (host.vacuum < 5 || host.vacuum > 100) r.fail(h["vacuum"], p + ".vacuum", "must be between 5 and 100 Å");
    }
    if (h["supercell"]) {
        const auto& n = h["supercell"];
        if (!n.IsSequence() || n.size() != 2) r.fail(n, p + ".supercell", "must be [na, nb]");
        for (std::size_t k = 0; k < 2; ++k) {
            host.supercell[k] = r.integer(n[k], p + ".supercell");
            if (host.supercell[k] < 1 || host.supercell[k] > 20) r.fail(n[k], p + ".supercell", "entries must be 1..20");
        }
    }
    if (h["fix_bottom_layers"]) {
        host.fix_bottom_layers = r.integer(h["fix_bottom_layers"], p + ".fix_bottom_layers");
        if (host.fix_bottom_layers < 0) r.fail(h["fix_bottom_layers"], p + ".fix_bottom_layers", "must be >= 0");
    }
    if (h["fix_bottom"]) {
        host.fix_bottom = r.number(h["fix_bottom"], p + ".fix_bottom");
        if (host.fix_bottom < 0) r.fail(h["fix_bottom"], p + ".fix_bottom", "must be >= 0 Å");
    }
    if (h["termination"]) host.termination = r.str(h["termination"], p + ".termination");
    if (h["sites"] && h["sites"].IsScalar() && h["sites"].Scalar() == "all") {
        // Every symmetry-unique site, found at run time on the relaxed slab (the graph grows).
        host.sites = {"all"};
    } else if (h["sites"]) {
        const auto& n = h["sites"];
        if (!n.IsSequence() || n.size() == 0)
            r.fail(n, p + ".sites", "must be `all` or a non-empty list of site names");
        host.sites.clear();
        static const std::vector<std::string> kinds{"hollow", "fcc_hollow", "hcp_hollow", "4fold_hollow", "bridge", "top"};
        for (const auto& s : n) {
            const auto name = r.str(s, p + ".sites");
            const auto base_name = name.substr(0, name.find_last_not_of("0123456789_") + 1);
            if (std::find(kinds.begin(), kinds.end(), base_name) == kinds.end())
                r.fail(s, p + ".sites", text::unknown_name_message("site", name, kinds));
            if (std::find(host.sites.begin(), host.sites.end(), name) != host.sites.end())
                r.fail(s, p + ".sites", fmt::format("site '{}' listed twice", name));
            host.sites.push_back(name);
        }
    }
    return host;
}

// Site names of the adsorption site finder (structures/sites.hpp), with "_2"... suffixes.
void check_site_name(const Reader& r, const YAML::Node& n, const std::string& field, const std::string& name) {
    static const std::vector<std::string> kinds{"hollow", "fcc_hollow", "hcp_hollow", "4fold_hollow", "bridge", "top"};
    const auto base_name = name.substr(0, name.find_last_not_of("0123456789_") + 1);
    if (std::find(kinds.begin(), kinds.end(), base_name) == kinds.end())
        r.fail(n, field, text::unknown_name_message("site", name, kinds));
}

// The path and NEB keys shared by a `hops:` entry and the `neb:` block of a neb workflow.
void read_neb_settings(const Reader& r, const YAML::Node& h, const std::string& p, HopSpec& hop) {
    if (h["images"]) {
        hop.images = r.integer(h["images"], p + ".images");
        if (hop.images < 1 || hop.images > 50)
            r.fail(h["images"], p + ".images", fmt::format("must be between 1 and 50 intermediate images (got {})", hop.images));
    }
    if (h["method"]) {
        hop.method = r.str(h["method"], p + ".method");
        if (hop.method != "linear" && hop.method != "idpp")
            r.fail(h["method"], p + ".method", text::unknown_name_message("path method", hop.method, {"linear", "idpp"}));
    }
    if (h["mic"]) hop.mic = r.get<bool>(h["mic"], p + ".mic", "true or false");
    // The driver's own keys, validated by the driver (field names as in docs/drivers.md).
    for (const char* k : {"climb", "climb_after", "optimizer", "fmax", "spring", "max_iterations", "max_step", "fire",
                          "bfgs", "lbfgs"})
        if (h[k]) hop.options[k] = to_json(h[k], r, p + "." + k);
    try {
        drivers::neb_options_from_json(hop.options, r.where(h));
    } catch (const InputError& e) {
        const std::string key = e.field().substr(0, e.field().find('.'));
        std::string msg = e.what();
        if (const auto at = msg.find("': "); at != std::string::npos) msg = msg.substr(at + 3);
        r.fail(h[key] ? h[key] : h, p + "." + e.field(), msg);
    }
}

HopSpec read_hop(const Reader& r, const YAML::Node& h, std::size_t i, const std::vector<HostSpec>& hosts) {
    const std::string p = fmt::format("hops[{}]", i);
    r.only_keys(h, p, {"host", "from", "to", "images", "method", "mic", "climb", "climb_after", "optimizer", "fmax",
                       "spring", "max_iterations", "max_step", "fire", "bfgs", "lbfgs"});
    HopSpec hop;
    for (const char* k : {"host", "from", "to"})
        if (!h[k]) r.fail(h, p + "." + k, "is required (a hop is {host: NAME, from: SITE, to: SITE, images: N})");
    hop.host = r.str(h["host"], p + ".host");
    std::vector<std::string> names;
    bool known = false;
    for (const auto& x : hosts) {
        names.push_back(x.name);
        known = known || x.name == hop.host;
    }
    if (!known) r.fail(h["host"], p + ".host", text::unknown_name_message("host", hop.host, names));
    hop.from = r.str(h["from"], p + ".from");
    hop.to = r.str(h["to"], p + ".to");
    check_site_name(r, h["from"], p + ".from", hop.from);
    check_site_name(r, h["to"], p + ".to", hop.to);
    read_neb_settings(r, h, p, hop);
    return hop;
}

// `workflow: calculation` and `workflow: neb`: one structure or two end points, no hosts.
void read_single(const Reader& r, const YAML::Node& root, WorkflowSpec& spec, const InputFiles& base) {
    if (spec.kind == "calculation") {
        if (!root["structure"]) r.fail(root, "structure", "is required (the structure file to compute)");
        spec.structure = read_structure_file(r, root["structure"], "structure", base, spec.structure_source);
        if (root["relax"]) spec.relax = r.get<bool>(root["relax"], "relax", "true or false");
        return;
    }
    for (const char* k : {"start", "end"})
        if (!root[k]) r.fail(root, k, "is required (the end points of the band, structure files)");
    spec.start = read_structure_file(r, root["start"], "start", base, spec.start_source);
    spec.end = read_structure_file(r, root["end"], "end", base, spec.end_source);
    if (const auto& n = root["neb"]) {
        r.only_keys(n, "neb", {"images", "method", "mic", "climb", "climb_after", "optimizer", "fmax", "spring",
                               "max_iterations", "max_step", "fire", "bfgs", "lbfgs"});
        read_neb_settings(r, n, "neb", spec.neb);
    }
}

}  // namespace

WorkflowSpec load_workflow(const std::filesystem::path& path) {
    std::ifstream in(path);
    if (!in) throw InputError(path.string(), "", "cannot open workflow file");
    std::stringstream ss;
    ss << in.rdbuf();
    return parse_workflow(ss.str(), path);
}

std::filesystem::path input_copy_path(const std::filesystem::path& copies, const std::filesystem::path& file) {
    const auto key = std::filesystem::absolute(file).lexically_normal().string();
    return copies / sha256_hex(key).substr(0, 16) / file.filename();
}

WorkflowSpec parse_workflow(const std::string& yaml_text, const std::filesystem::path& source,
                            const std::filesystem::path& input_copies) {
    const Reader r(source.string());
    const YAML::Node root = yaml::load(yaml_text, source.string());
    if (!root || root.IsNull()) throw InputError(source.string(), "", "the workflow file is empty");
    r.only_keys(root, "", {"name", "description", "workflow", "calculator", "protocol", "adsorbate", "reference",
                           "reference_box", "hosts", "pairs", "cache", "retries", "tasks", "hops", "structure",
                           "relax", "start", "end", "neb"});
    WorkflowSpec spec;
    spec.source = source;
    spec.yaml_text = yaml_text;
    const auto base = source.has_parent_path() ? source.parent_path() : std::filesystem::path(".");
    const InputFiles files{base, input_copies, &spec.input_files};
    spec.input_copies = input_copies;
    spec.name = root["name"] ? r.str(root["name"], "name") : source.stem().string();
    // The name is the default run folder (runs/NAME) and a job name on clusters.
    check_name(r, root["name"] ? root["name"] : root, "name", spec.name);
    if (spec.name.find_first_of("/\\") != std::string::npos || spec.name == "." || spec.name == "..")
        r.fail(root["name"] ? root["name"] : root, "name", fmt::format("'{}' must not be '.', '..' or contain slashes", spec.name));
    if (root["description"]) spec.description = r.str(root["description"], "description");
    if (root["cache"]) {
        const std::filesystem::path c = r.str(root["cache"], "cache");
        if (c.empty()) r.fail(root["cache"], "cache", "must be a file path (the shared result cache)");
        spec.cache = c.is_absolute() ? c : base / c;
    }
    if (const auto& rt = root["retries"]) {
        // `retries: N` (N extra attempts) or {max_attempts: N, on: [reasons]}.
        static const std::vector<std::string> reasons{"killed", "crashed", "truncated_output", "missing_output",
                                                      "scf_not_converged", "geometry_not_converged"};
        if (rt.IsScalar()) {
            spec.retry.max_attempts = 1 + r.integer(rt, "retries");
        } else if (rt.IsMap()) {
            r.only_keys(rt, "retries", {"max_attempts", "on"});
            if (rt["max_attempts"]) spec.retry.max_attempts = r.integer(rt["max_attempts"], "retries.max_attempts");
            if (rt["on"]) {
                if (!rt["on"].IsSequence()) r.fail(rt["on"], "retries.on", "must be a list of failure reasons");
                spec.retry.on.clear();
                for (const auto& x : rt["on"]) {
                    const auto reason = r.str(x, "retries.on");
                    if (std::find(reasons.begin(), reasons.end(), reason) == reasons.end())
                        r.fail(x, "retries.on", text::unknown_name_message("failure reason", reason, reasons));
                    spec.retry.on.push_back(reason);
                }
            }
        } else {
            r.fail(rt, "retries", "must be a number of retries or {max_attempts: N, on: [reasons]}");
        }
        if (spec.retry.max_attempts < 1 || spec.retry.max_attempts > 20)
            r.fail(rt, "retries", "allows 0..19 retries (max_attempts 1..20)");
    }
    if (root["workflow"]) {
        const auto w = r.str(root["workflow"], "workflow");
        if (w != "binding_energy" && w != "calculation" && w != "neb")
            r.fail(root["workflow"], "workflow",
                   text::unknown_name_message("workflow", w, {"binding_energy", "calculation", "neb"}));
        spec.kind = w;
    }
    {
        // Keys of one workflow kind are errors in another.
        static const std::map<std::string, std::vector<std::string>> own{
            {"binding_energy", {"adsorbate", "reference", "reference_box", "hosts", "pairs", "hops"}},
            {"calculation", {"structure", "relax"}},
            {"neb", {"start", "end", "neb"}}};
        for (const auto& [kind, keys] : own)
            if (kind != spec.kind)
                for (const auto& k : keys)
                    if (root[k]) r.fail(root[k], k, fmt::format("is not a key of a '{}' workflow", spec.kind));
    }

    if (!root["calculator"]) r.fail(root, "calculator", "is required (e.g. calculator: {code: cp2k})");
    const auto& calc = root["calculator"];
    if (!calc.IsMap() || !calc["code"]) r.fail(calc, "calculator", "must be a mapping with 'code'");
    spec.calculator_code = r.str(calc["code"], "calculator.code");
    if (const auto& calculators = plugins::CalculatorRegistry::instance(); !calculators.contains(spec.calculator_code))
        r.fail(calc["code"], "calculator.code",
               text::unknown_name_message(calculators.what(), spec.calculator_code, calculators.names()));
    for (const auto& kv : calc) {
        const auto key = kv.first.as<std::string>();
        if (key == "code") continue;
        if (key == "cores_per_task") {
            spec.cores_per_task = r.integer(kv.second, "calculator.cores_per_task");
            if (spec.cores_per_task < 1) r.fail(kv.second, "calculator.cores_per_task", "must be >= 1");
            continue;
        }
        spec.calculator_config[key] = to_json(kv.second, r, "calculator." + key);
    }
    // Let the plugin validate its own keys now, before anything runs.
    plugins::CalculatorRegistry::instance().create(spec.calculator_code, spec.calculator_config, r.where(calc));

    spec.protocol = plugins::Protocol::from_json(root["protocol"] ? to_json(root["protocol"], r, "protocol") : nlohmann::json("fast"),
                                                 root["protocol"] ? r.where(root["protocol"]) : r.file());
    if (spec.kind != "binding_energy") {
        read_single(r, root, spec, files);
        return spec;
    }

    if (root["adsorbate"]) {
        spec.adsorbate = r.str(root["adsorbate"], "adsorbate");
        try {
            structures::element(spec.adsorbate);
        } catch (const Error&) {
            r.fail(root["adsorbate"], "adsorbate", fmt::format("'{}' is not a chemical element", spec.adsorbate));
        }
    }
    if (root["reference"]) {
        const auto ref = r.str(root["reference"], "reference");
        if (ref == "isolated_atom") spec.reference = Reference::IsolatedAtom;
        else if (ref == "bulk") spec.reference = Reference::BulkMetal;
        else r.fail(root["reference"], "reference", text::unknown_name_message("reference", ref, {"isolated_atom", "bulk"}));
    }
    if (spec.reference == Reference::BulkMetal) {
        try {
            structures::prototype(spec.adsorbate);
        } catch (const InputError&) {
            r.fail(root["reference"], "reference",
                   fmt::format("no built-in prototype for bulk {} (needed for reference: bulk)", spec.adsorbate));
        }
    }
    if (root["reference_box"]) {
        spec.reference_box = r.number(root["reference_box"], "reference_box");
        if (spec.reference_box < 5 || spec.reference_box > 40) r.fail(root["reference_box"], "reference_box", "must be 5..40 Å");
    }

    if (!root["hosts"] || !root["hosts"].IsSequence() || root["hosts"].size() == 0)
        r.fail(root["hosts"] ? root["hosts"] : root, "hosts", "must be a non-empty list of host surfaces");
    std::set<std::string> names;
    for (std::size_t i = 0; i < root["hosts"].size(); ++i) {
        auto host = read_host(r, root["hosts"][i], i, files);
        if (!names.insert(host.name).second)
            r.fail(root["hosts"][i], fmt::format("hosts[{}].name", i), fmt::format("host name '{}' used twice", host.name));
        spec.hosts.push_back(std::move(host));
    }
    if (root["pairs"]) {
        const auto& pairs = root["pairs"];
        if (!pairs.IsSequence()) r.fail(pairs, "pairs", "must be a list of [A, B] host names");
        for (std::size_t i = 0; i < pairs.size(); ++i) {
            const auto& pr = pairs[i];
            const std::string f = fmt::format("pairs[{}]", i);
            if (!pr.IsSequence() || pr.size() != 2) r.fail(pr, f, "must be [A, B]");
            std::array<std::string, 2> ab{r.str(pr[0], f), r.str(pr[1], f)};
            for (std::size_t k = 0; k < 2; ++k)
                if (!names.count(ab[k]))
                    r.fail(pr[k], f, text::unknown_name_message("host", ab[k], {names.begin(), names.end()}));
            if (ab[0] == ab[1]) r.fail(pr, f, "a pair needs two different hosts");
            for (std::size_t k = 0; k < spec.pairs.size(); ++k)
                if ((spec.pairs[k][0] == ab[0] && spec.pairs[k][1] == ab[1]) ||
                    (spec.pairs[k][0] == ab[1] && spec.pairs[k][1] == ab[0]))
                    r.fail(pr, f, fmt::format("the pair {}|{} is already pairs[{}]", ab[0], ab[1], k));
            spec.pairs.push_back(ab);
        }
    }
    if (const auto& hops = root["hops"]) {
        if (!hops.IsSequence()) r.fail(hops, "hops", "must be a list of {host, from, to, images, ...} hops");
        std::set<std::string> seen;
        for (std::size_t i = 0; i < hops.size(); ++i) {
            auto hop = read_hop(r, hops[i], i, spec.hosts);
            if (!seen.insert(hop.host + "/" + hop.id()).second)
                r.fail(hops[i], fmt::format("hops[{}]", i), fmt::format("hop {} on {} listed twice", hop.id(), hop.host));
            spec.hops.push_back(std::move(hop));
        }
    }
    if (root["tasks"]) spec.user_tasks = read_user_tasks(root["tasks"], r.file());
    return spec;
}

bool RetryPolicy::retries(const std::string& reason, int attempts_made) const {
    return attempts_made < max_attempts && std::find(on.begin(), on.end(), reason) != on.end();
}

namespace {

// NEB driver options of a hop: the hop's own, with the protocol's fmax unless it gives one.
nlohmann::json neb_task_options(const WorkflowSpec& spec, const HopSpec& hop) {
    auto o = hop.options;
    if (!o.contains("fmax")) o["fmax"] = spec.protocol.fmax;
    return o;
}

// `<base>/path` (the initial band between two relaxed end points) and `<base>/neb` (CI-NEB).
void add_neb_tasks(TaskGraph& g, const std::string& base, const std::string& initial, const std::string& final,
                   const HopSpec& hop, nlohmann::json params, const WorkflowSpec& spec) {
    g.add({base + "/path", kinds::kBuildNebPath, {{"images", hop.images}, {"method", hop.method}, {"mic", hop.mic}},
           {{"initial", initial}, {"final", final}}});
    params["options"] = neb_task_options(spec, hop);
    g.add({base + "/neb", kinds::kNeb, params, {{"path", base + "/path"}}});
}

// `workflow: calculation` (interphase calc): the structure, then one calculation task.
TaskGraph expand_calculation(const WorkflowSpec& spec) {
    TaskGraph g;
    g.add({"structure", kinds::kBuildBulk, {{"structure", spec.structure}, {"source", spec.structure_source}}, {}});
    g.add({spec.relax ? "structure/relax" : "structure/single_point", kinds::kCalculation,
           {{"calculation", spec.relax ? "relaxation" : "single_point"},
            {"label", std::filesystem::path(spec.structure_source).filename().string()},
            {"spin_multiplicity", 0}},
           {{"structure", "structure"}}});
    g.validate();
    return g;
}

// `workflow: neb` (interphase neb): the two end points as given, the path, the band.
TaskGraph expand_neb(const WorkflowSpec& spec) {
    TaskGraph g;
    g.add({"start", kinds::kBuildBulk, {{"structure", spec.start}, {"source", spec.start_source}}, {}});
    g.add({"end", kinds::kBuildBulk, {{"structure", spec.end}, {"source", spec.end_source}}, {}});
    add_neb_tasks(g, "band", "start", "end", spec.neb, {{"hop", "start-end"}}, spec);
    g.validate();
    return g;
}

}  // namespace

TaskGraph expand_workflow(const WorkflowSpec& spec) {
    if (spec.kind == "calculation") return expand_calculation(spec);
    if (spec.kind == "neb") return expand_neb(spec);
    TaskGraph g;
    const std::string ads = spec.adsorbate;
    auto calc_params = [](const char* kind, const std::string& label, int multiplicity = 0) {
        return nlohmann::json{{"calculation", kind}, {"label", label}, {"spin_multiplicity", multiplicity}};
    };

    // μ of the adsorbate.
    std::string reference_task;
    if (spec.reference == Reference::IsolatedAtom) {
        const std::string base = fmt::format("reference/{}-atom", ads);
        g.add({base, kinds::kBuildAtomInBox, {{"species", ads}, {"box", spec.reference_box}}, {}});
        // The free atom in its spin-polarised ground state (Hund's rule; Li: doublet).
        reference_task = base + "/energy";
        g.add({reference_task, kinds::kCalculation,
               calc_params("single_point", ads + " atom in a box", structures::atom_ground_state_multiplicity(ads)),
               {{"structure", base}}});
    } else {
        const std::string base = fmt::format("reference/{}-bulk", ads);
        g.add({base, kinds::kBuildBulk, {{"phase", ads}}, {}});
        reference_task = base + "/energy";
        g.add({reference_task, kinds::kCalculation, calc_params("single_point", "bulk " + ads), {{"structure", base}}});
    }

    for (const auto& h : spec.hosts) {
        const std::string bulk = "bulk/" + (h.phase ? *h.phase : h.bulk_structure.value("title", h.name));
        if (!g.contains(bulk)) {
            nlohmann::json p = h.phase ? nlohmann::json{{"phase", *h.phase}}
                                       : nlohmann::json{{"structure", h.bulk_structure}, {"source", h.bulk_source}};
            g.add({bulk, kinds::kBuildBulk, p, {}});
        }
        nlohmann::json slab{{"miller", h.miller},           {"layers", h.layers},
                            {"vacuum", h.vacuum},           {"supercell", h.supercell},
                            {"fix_bottom_layers", h.fix_bottom_layers}, {"fix_bottom", h.fix_bottom}};
        if (h.termination) slab["termination"] = *h.termination;
        const std::string slab_task = h.name + "/slab";
        g.add({slab_task, kinds::kBuildSlab, slab, {{"bulk", bulk}}});
        const std::string host_relax = slab_task + "/relax";
        g.add({host_relax, kinds::kCalculation, calc_params("relaxation", h.name + " clean slab"), {{"structure", slab_task}}});
        std::map<std::string, std::string> be_inputs{{"host", host_relax}, {"reference", reference_task}};
        if (h.sites == std::vector<std::string>{"all"}) {
            // The sites are known only once the slab is relaxed: a find_sites task adds one
            // build + relaxation per symmetry-unique site when it finishes (engine/growth.hpp).
            const std::string finder = h.name + "/sites";
            g.add({finder, kinds::kFindSites,
                   {{"species", ads}, {"host", h.name}, {"binding_energy_task", h.name + "/binding_energy"}},
                   {{"slab", host_relax}}});
            be_inputs["sites"] = finder;
        }
        for (const auto& site : h.sites) {
            if (site == "all") continue;
            const std::string st = fmt::format("{}/{}+{}", h.name, site, ads);
            g.add({st, kinds::kBuildAdsorbate, {{"site", site}, {"species", ads}}, {{"slab", host_relax}}});
            g.add({st + "/relax", kinds::kCalculation, calc_params("relaxation", fmt::format("{} + {} {}", h.name, ads, site)),
                   {{"structure", st}}});
            be_inputs["site:" + site] = st + "/relax";
        }
        g.add({h.name + "/binding_energy", kinds::kBindingEnergy,
               {{"adsorbate", ads}, {"reference", to_string(spec.reference)}, {"host", h.name}}, be_inputs});
    }
    for (const auto& [a, b] : spec.pairs)
        g.add({fmt::format("pairs/{}|{}/delta_e", a, b), kinds::kDeltaE, {{"a", a}, {"b", b}},
               {{"a", a + "/binding_energy"}, {"b", b + "/binding_energy"}}});
    // Migration hops: both end points relaxed as calculations, then the band (docs/workflow.md).
    for (const auto& hop : spec.hops) {
        const std::string base = fmt::format("{}/hop/{}", hop.host, hop.id());
        const nlohmann::json ends{{"from", hop.from}, {"to", hop.to}, {"species", ads}};
        for (const char* end : {"initial", "final"}) {
            auto p = ends;
            p["end"] = end;
            g.add({base + "/" + end, kinds::kBuildHopEndpoint, p, {{"slab", hop.host + "/slab/relax"}}});
            g.add({base + "/" + end + "/relax", kinds::kCalculation,
                   calc_params("relaxation", fmt::format("{} {} hop {} end point", hop.host, ads, end)),
                   {{"structure", base + "/" + end}}});
        }
        add_neb_tasks(g, base, base + "/initial/relax", base + "/final/relax", hop,
                      {{"host", hop.host}, {"hop", hop.id()}, {"from", hop.from}, {"to", hop.to}}, spec);
    }
    add_user_tasks(g, spec.user_tasks);
    g.validate();
    return g;
}

}  // namespace interphase::engine
