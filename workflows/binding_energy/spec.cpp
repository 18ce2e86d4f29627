// Reading `workflow: binding_energy`: hosts, sites, reference, pairs, hops.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <set>

#include <algorithm>

#include "common/errors.hpp"
#include "plugins/calculator.hpp"
#include "engine/graph.hpp"
#include "structures/elements.hpp"
#include "structures/lattice_tools.hpp"
#include "structures/molecules.hpp"
#include "structures/neb_path.hpp"
#include "structures/prototypes.hpp"
#include "workflows/binding_energy/binding_energy.hpp"
#include "workflows/binding_energy/names.hpp"
#include "workflows/binding_energy/tasks.hpp"

namespace interphase::workflows::binding_energy {

using engine::kMaxNameBytes;

const char* to_string(Reference r) { return r == Reference::BulkMetal ? "bulk" : "isolated_atom"; }
const char* to_string(HostKind k) {
    switch (k) {
        case HostKind::Bulk: return "bulk";
        case HostKind::Interface: return "interface";
        case HostKind::Molecule: return "molecule";
        default: return "surface";
    }
}

namespace {

// `phase:` (a built-in prototype) or `structure:` (a file): the crystal a host is made of.
void read_crystal(const WorkflowReader& r, const YAML::Node& h, const std::string& p, const InputFiles& files,
                  HostSpec& host) {
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
}

// A host's name becomes task names, folders and an HDF5 group.
void check_host_name(const WorkflowReader& r, const YAML::Node& h, const std::string& p, const std::string& name) {
    check_name(r, h["name"] ? h["name"] : h, p + ".name", name);
    if (name.find_first_of("/|\\") != std::string::npos)
        r.fail(h["name"] ? h["name"] : h, p + ".name", fmt::format("'{}' must not contain '/', '\\' or '|'", name));
    // A host is an HDF5 group beside the datasets of /binding_energy and /neb (docs/results-hdf5.md).
    static const std::vector<std::string> reserved{".",         "..",     "host",          "binding_energy", "best_site",
                                                   "reference", "task",   "hop",           "forward_barrier",
                                                   "reverse_barrier",     "saddle_index",  "converged", "band"};
    if (std::find(reserved.begin(), reserved.end(), name) != reserved.end())
        r.fail(h["name"] ? h["name"] : h, p + ".name",
               fmt::format("'{}' is reserved (a dataset of results.h5 has that name); choose another host name", name));
}

// The crystal of a host as a Structure, at parse time (prototypes are built, files were read).
structures::Structure crystal_of(const HostSpec& host) {
    return host.phase ? structures::build_bulk(*host.phase) : structures::structure_from_json(host.bulk_structure, host.bulk_source);
}

// `kind: bulk`: the adsorbate at the symmetry-unique interstitial sites of a bulk supercell.
HostSpec read_bulk_host(const WorkflowReader& r, const YAML::Node& h, const std::string& p, const InputFiles& files) {
    r.only_keys(h, p, {"name", "kind", "phase", "structure", "supercell", "min_image_distance", "min_distance", "sites",
                       "electronic", "spin", "dipole_correction"});
    HostSpec host;
    host.kind = HostKind::Bulk;
    read_crystal(r, h, p, files, host);
    const std::string bulk_label = host.phase ? *host.phase : std::filesystem::path(host.bulk_source).stem().string();
    host.name = h["name"] ? r.str(h["name"], p + ".name") : bulk_label + "-bulk";
    check_host_name(r, h, p, host.name);
    if (h["min_image_distance"]) {
        host.min_image_distance = r.number(h["min_image_distance"], p + ".min_image_distance");
        if (host.min_image_distance <= 0 || host.min_image_distance > 30)
            r.fail(h["min_image_distance"], p + ".min_image_distance", "must be between 0 and 30 Å");
    }
    if (h["min_distance"]) {
        host.site_min_distance = r.number(h["min_distance"], p + ".min_distance");
        if (host.site_min_distance <= 0 || host.site_min_distance > 4)
            r.fail(h["min_distance"], p + ".min_distance", "must be between 0 and 4 Å");
    }
    const auto crystal = crystal_of(host);
    if (const auto& n = h["supercell"]) {
        if (!n.IsSequence() || n.size() != 3) r.fail(n, p + ".supercell", "must be [a, b, c] (repeats of the bulk cell)");
        std::array<int, 3> rep{};
        for (std::size_t k = 0; k < 3; ++k) {
            rep[k] = r.integer(n[k], p + ".supercell");
            if (rep[k] < 1 || rep[k] > 20) r.fail(n[k], p + ".supercell", "entries must be 1..20");
        }
        // The adsorbate must not see its own periodic image closer than min_image_distance.
        const double d = structures::min_image_distance(structures::repeat_cell(crystal, rep));
        if (d < host.min_image_distance - 1e-9)
            r.fail(n, p + ".supercell",
                   fmt::format("the {}x{}x{} supercell of {} puts periodic images {:.2f} Å apart, less than "
                               "min_image_distance {:.2f} Å; use a larger supercell (or omit it: {} is chosen for you)",
                               rep[0], rep[1], rep[2], bulk_label, d, host.min_image_distance,
                               fmt::join(structures::supercell_for_min_image_distance(crystal, host.min_image_distance), "x")));
        host.repeat = rep;
    } else {
        try {
            host.repeat = structures::supercell_for_min_image_distance(crystal, host.min_image_distance);
        } catch (const InputError& e) {
            r.fail(h["min_image_distance"] ? h["min_image_distance"] : h, p + ".min_image_distance", e.what());
        }
    }
    host.sites = {"all"};
    if (h["sites"] && !(h["sites"].IsScalar() && h["sites"].Scalar() == "all")) {
        const auto& n = h["sites"];
        if (!n.IsSequence() || n.size() == 0)
            r.fail(n, p + ".sites", "must be `all` or a non-empty list of interstitial site names (i1, i2, ...)");
        host.sites.clear();
        for (const auto& x : n) {
            const auto name = r.str(x, p + ".sites");
            if (name.size() < 2 || name[0] != 'i' || name.find_first_not_of("0123456789", 1) != std::string::npos)
                r.fail(x, p + ".sites",
                       fmt::format("'{}' is not an interstitial site name: the site finder names them i1, i2, ... by "
                                   "decreasing size (`interphase build sites --kind interstitial` lists them)", name));
            if (std::find(host.sites.begin(), host.sites.end(), name) != host.sites.end())
                r.fail(x, p + ".sites", fmt::format("site '{}' listed twice", name));
            host.sites.push_back(name);
        }
    }
    return host;
}

// One side of an interface: {phase | structure, miller, layers, termination}.
nlohmann::json read_interface_side(const WorkflowReader& r, const YAML::Node& n, const std::string& f,
                                   const InputFiles& files, InterfaceSide& side) {
    if (!n || !n.IsMap()) r.fail(n ? n : YAML::Node(), f, "must be a mapping {phase, miller, layers, termination}");
    r.only_keys(n, f, {"phase", "structure", "miller", "layers", "termination"});
    HostSpec crystal;
    read_crystal(r, n, f, files, crystal);
    side.phase = crystal.phase;
    side.structure = crystal.bulk_structure;
    side.source = crystal.bulk_source;
    side.label = side.phase ? *side.phase : side.structure.value("title", std::filesystem::path(side.source).stem().string());
    nlohmann::json j{{"miller", n["miller"] ? read_miller(r, n["miller"], f + ".miller") : std::array<int, 3>{1, 1, 1}},
                     {"layers", 3}};
    if (n["layers"]) {
        const int layers = r.integer(n["layers"], f + ".layers");
        if (layers < 1 || layers > 20) r.fail(n["layers"], f + ".layers", "must be between 1 and 20");
        j["layers"] = layers;
    }
    if (n["termination"]) j["termination"] = r.str(n["termination"], f + ".termination");
    return j;
}

structures::Structure crystal_of(const InterfaceSide& side) {
    return side.phase ? structures::build_bulk(*side.phase) : structures::structure_from_json(side.structure, side.source);
}

// `kind: interface`: an A|B heterointerface from the interface builder, the adsorbate at the sites
// near it on either side. Everything is checked now: the lattices must match within the
// tolerances, the terminations exist, the outer planes can be fixed, each side has a site.
HostSpec read_interface_host(const WorkflowReader& r, const YAML::Node& h, const std::string& p, const InputFiles& files) {
    r.only_keys(h, p, {"name", "kind", "a", "b", "max_area", "max_strain", "max_angle_strain", "match", "gap",
                       "vacuum", "fix_outer_layers", "supercell", "sites", "depth", "min_distance", "electronic", "spin",
                       "dipole_correction"});
    HostSpec host;
    host.kind = HostKind::Interface;
    for (const char* k : {"a", "b"})
        if (!h[k]) r.fail(h, p + "." + k, "is required (an interface is a: {phase, miller, layers}, b: {...})");
    nlohmann::json params{{"a", read_interface_side(r, h["a"], p + ".a", files, host.side_a)},
                          {"b", read_interface_side(r, h["b"], p + ".b", files, host.side_b)}};
    host.name = h["name"] ? r.str(h["name"], p + ".name") : host.side_a.label + "|" + host.side_b.label;
    // '|' is the natural name of an interface ("LiAl|Li2S"): allowed here, as the pair separator elsewhere.
    {
        std::string checked = host.name;
        std::replace(checked.begin(), checked.end(), '|', '-');
        check_host_name(r, h, p, checked);
    }
    auto number = [&](const char* key, double fallback, double lo, double hi, const char* unit) {
        if (!h[key]) return fallback;
        const double v = r.number(h[key], p + "." + key);
        if (v < lo || v > hi) r.fail(h[key], p + "." + key, fmt::format("must be between {} and {} {}", lo, hi, unit));
        return v;
    };
    params["max_area"] = number("max_area", 120.0, 1.0, 2000.0, "Å²");
    params["max_strain"] = number("max_strain", 3.0, 0.01, 20.0, "%");
    params["max_angle_strain"] = number("max_angle_strain", 1.0, 0.01, 20.0, "%");
    params["vacuum"] = number("vacuum", 15.0, 5.0, 100.0, "Å");
    host.depth = number("depth", 3.0, 0.5, 10.0, "Å");
    host.site_min_distance = number("min_distance", 1.5, 0.5, 4.0, "Å");
    params["match"] = 0;
    if (h["match"] && !(h["match"].IsScalar() && h["match"].Scalar() == "best")) {
        const int m = r.integer(h["match"], p + ".match");
        if (m < 0) r.fail(h["match"], p + ".match", "must be `best` or an index (0 = best) of the ranked interfaces");
        params["match"] = m;
    }
    // In-plane repeats of the matched cell (the ZSL match is the smallest common cell: too
    // small for a lone Li or for an unambiguous hop). Only written when given, so the hashes of
    // workflows without it stay as they were.
    if (const auto& n = h["supercell"]) {
        if (!n.IsSequence() || n.size() != 2) r.fail(n, p + ".supercell", "must be [a, b] (in-plane repeats of the matched cell)");
        std::array<int, 2> rep{};
        for (std::size_t k = 0; k < 2; ++k) {
            rep[k] = r.integer(n[k], p + ".supercell");
            if (rep[k] < 1 || rep[k] > 20) r.fail(n[k], p + ".supercell", "entries must be 1..20");
        }
        params["supercell"] = rep;
    }
    params["fix_outer_layers"] = 1;
    if (h["fix_outer_layers"]) params["fix_outer_layers"] = r.integer(h["fix_outer_layers"], p + ".fix_outer_layers");
    // `gap: scan`: single points at these interlayer distances, the lowest kept.
    double gap = 2.5;
    if (h["gap"] && h["gap"].IsScalar() && h["gap"].Scalar() == "scan") {
        host.gap_scan = {1.6, 2.0, 2.4, 2.8, 3.2};
        gap = host.gap_scan[2];
    } else if (h["gap"]) {
        gap = number("gap", 2.5, 0.5, 10.0, "Å (or `scan`)");
    }
    params["gap"] = gap;
    // Build it now: a mismatch, a missing termination or an impossible fix is reported with
    // the line of the key responsible, before anything runs.
    structures::Structure iface;
    try {
        iface = select_interface(crystal_of(host.side_a), crystal_of(host.side_b), params, r.where(h)).structure;
    } catch (const InputError& e) {
        const std::string field = e.field();
        const YAML::Node at = field == "termination" ? (h["a"]["termination"] ? h["a"]["termination"] : h["b"]["termination"] ? h["b"]["termination"] : h)
                              : h[field] ? h[field] : h;
        std::string msg = e.what();
        if (const auto cut = msg.find("': "); cut != std::string::npos) msg = msg.substr(cut + 3);
        r.fail(at, p + "." + field, fmt::format("{}|{}: {}", host.side_a.label, host.side_b.label, msg));
    }
    if (!host.gap_scan.empty()) params.erase("gap");
    host.interface = params;
    host.sites = {"all"};
    if (h["sites"] && !(h["sites"].IsScalar() && h["sites"].Scalar() == "near_interface")) {
        const auto& n = h["sites"];
        if (!n.IsSequence() || n.size() == 0)
            r.fail(n, p + ".sites", "must be `near_interface` or a non-empty list of interface site names (A1, B1, ...)");
        host.sites.clear();
        for (const auto& x : n) {
            const auto name = r.str(x, p + ".sites");
            if (name.size() < 2 || (name[0] != 'A' && name[0] != 'B') ||
                name.find_first_not_of("0123456789", 1) != std::string::npos)
                r.fail(x, p + ".sites",
                       fmt::format("'{}' is not an interface site name: the site finder names them A1, A2, ... on side A "
                                   "and B1, ... on side B (`interphase build sites --kind interface` lists them)",
                                   name));
            host.sites.push_back(name);
        }
    }
    // Each side needs a site near the interface for E_b and for hops.
    structures::InterfaceSiteSearch search;
    search.depth = host.depth;
    search.interstitial.min_distance = host.site_min_distance;
    bool side_a = false, side_b = false;
    for (const auto& x : structures::find_interface_sites(iface, search)) {
        side_a = side_a || x.side == 'A';
        side_b = side_b || x.side == 'B';
    }
    if (!side_a || !side_b)
        r.fail(h, p, fmt::format("{}: no adsorbate site within {} Å of the interface plane on side {} (increase `depth` "
                                 "or lower `min_distance`)",
                                 host.name, host.depth, !side_a ? "A" : "B"));
    return host;
}

// `kind: molecule`: a molecule in a box (a built-in one such as P4S10, or a structure file) with
// the adsorbate at the symmetry-unique sites around it.
HostSpec read_molecule_host(const WorkflowReader& r, const YAML::Node& h, const std::string& p, const InputFiles& files) {
    r.only_keys(h, p, {"name", "kind", "molecule", "structure", "box", "bond_length", "min_distance", "sites",
                       "electronic", "spin", "dipole_correction"});
    HostSpec host;
    host.kind = HostKind::Molecule;
    if (h["molecule"] && h["structure"]) r.fail(h, p, "give either 'molecule' or 'structure', not both");
    if (h["molecule"]) {
        const auto name = r.str(h["molecule"], p + ".molecule");
        const auto known = structures::molecule_names();
        if (std::find(known.begin(), known.end(), name) == known.end())
            r.fail(h["molecule"], p + ".molecule", text::unknown_name_message("molecule", name, known));
        host.molecule = name;
        host.bulk_source = name;
    } else if (h["structure"]) {
        host.molecule_structure = read_structure_file(r, h["structure"], p + ".structure", files, host.bulk_source);
    } else {
        r.fail(h, p, "needs 'molecule' (a built-in molecule: P4S10) or 'structure' (a molecule file, e.g. xyz)");
    }
    const std::string label = host.molecule ? *host.molecule : std::filesystem::path(host.bulk_source).stem().string();
    host.name = h["name"] ? r.str(h["name"], p + ".name") : label;
    check_host_name(r, h, p, host.name);
    auto number = [&](const char* key, double fallback, double lo, double hi) {
        if (!h[key]) return fallback;
        const double v = r.number(h[key], p + "." + key);
        if (v < lo || v > hi) r.fail(h[key], p + "." + key, fmt::format("must be between {} and {} Å", lo, hi));
        return v;
    };
    host.box = number("box", structures::kDefaultMoleculeBox, 5.0, 60.0);
    host.bond_length = number("bond_length", 2.4, 1.0, 4.0);
    host.site_min_distance = number("min_distance", 2.2, 0.5, 4.0);
    // The box must hold the molecule with the adsorbate around it: checked now, with the line.
    try {
        const auto molecule = host.molecule ? structures::build_molecule(*host.molecule)
                                            : structures::structure_from_json(host.molecule_structure, host.bulk_source);
        (void)structures::molecule_in_box(molecule, host.box);
    } catch (const Error& e) {
        std::string msg = e.what();
        if (const auto cut = msg.find("': "); cut != std::string::npos) msg = msg.substr(cut + 3);
        r.fail(h["box"] ? h["box"] : h, p + ".box", msg);
    }
    host.sites = {"all"};
    if (h["sites"] && !(h["sites"].IsScalar() && h["sites"].Scalar() == "all")) {
        const auto& n = h["sites"];
        if (!n.IsSequence() || n.size() == 0) r.fail(n, p + ".sites", "must be `all` or a list of site names (m1, m2, ...)");
        host.sites.clear();
        for (const auto& x : n) {
            const auto name = r.str(x, p + ".sites");
            if (name.size() < 2 || name[0] != 'm' || name.find_first_not_of("0123456789", 1) != std::string::npos)
                r.fail(x, p + ".sites", fmt::format("'{}' is not a molecule site name (m1, m2, ... as the site finder names them)", name));
            host.sites.push_back(name);
        }
    }
    return host;
}

// `electronic:` and `spin:` of any host kind (docs/protocols.md).
void read_system(const WorkflowReader& r, const YAML::Node& h, const std::string& p, HostSpec& host) {
    if (h["dipole_correction"]) {
        if (host.kind != HostKind::Surface && host.kind != HostKind::Interface)
            r.fail(h["dipole_correction"], p + ".dipole_correction", "applies to surface and interface hosts (a slab with vacuum along c)");
        host.dipole_correction = r.get<bool>(h["dipole_correction"], p + ".dipole_correction", "true or false");
    }
    if (h["electronic"]) {
        host.electronic = r.str(h["electronic"], p + ".electronic");
        if (host.electronic != "metal" && host.electronic != "insulator")
            r.fail(h["electronic"], p + ".electronic",
                   text::unknown_name_message("electronic character", host.electronic, {"metal", "insulator"}));
    }
    if (h["spin"]) {
        host.spin = r.str(h["spin"], p + ".spin");
        static const std::vector<std::string> spins{"auto", "restricted", "unrestricted"};
        if (std::find(spins.begin(), spins.end(), host.spin) == spins.end())
            r.fail(h["spin"], p + ".spin", text::unknown_name_message("spin treatment", host.spin, spins));
    }
}

HostSpec read_surface_host(const WorkflowReader& r, const YAML::Node& h, const std::string& p, const InputFiles& files,
                           double default_vacuum);

HostSpec read_host(const WorkflowReader& r, const YAML::Node& h, std::size_t i, const InputFiles& files,
                   double default_vacuum) {
    const std::string p = fmt::format("hosts[{}]", i);
    HostSpec host;
    if (h.IsMap() && h["kind"]) {
        const auto kind = r.str(h["kind"], p + ".kind");
        static const std::vector<std::string> kinds{"surface", "bulk", "interface", "molecule"};
        if (std::find(kinds.begin(), kinds.end(), kind) == kinds.end())
            r.fail(h["kind"], p + ".kind", text::unknown_name_message("host kind", kind, kinds));
        if (kind == "bulk") host = read_bulk_host(r, h, p, files);
        else if (kind == "interface") host = read_interface_host(r, h, p, files);
        else if (kind == "molecule") host = read_molecule_host(r, h, p, files);
        else host = read_surface_host(r, h, p, files, default_vacuum);
    } else {
        host = read_surface_host(r, h, p, files, default_vacuum);
    }
    read_system(r, h, p, host);
    return host;
}

HostSpec read_surface_host(const WorkflowReader& r, const YAML::Node& h, const std::string& p, const InputFiles& files,
                           double default_vacuum) {
    r.only_keys(h, p, {"name", "kind", "phase", "structure", "miller", "layers", "thickness", "vacuum", "supercell",
                       "area_per_adsorbate", "fix_bottom_layers", "fix_bottom", "termination", "sites", "electronic", "spin",
                       "dipole_correction"});
    HostSpec host;
    host.vacuum = default_vacuum;
    read_crystal(r, h, p, files, host);
    if (h["miller"]) host.miller = read_miller(r, h["miller"], p + ".miller");
    const std::string bulk_label = host.phase ? *host.phase : std::filesystem::path(host.bulk_source).stem().string();
    host.name = h["name"] ? r.str(h["name"], p + ".name")
                          : fmt::format("{}({}{}{})", bulk_label, host.miller[0], host.miller[1], host.miller[2]);
    check_host_name(r, h, p, host.name);
    if (h["layers"]) {
        host.layers = r.integer(h["layers"], p + ".layers");
        if (host.layers < 1 || host.layers > 50) r.fail(h["layers"], p + ".layers", "must be between 1 and 50");
    }
    if (h["thickness"]) {
        if (h["layers"]) r.fail(h["thickness"], p + ".thickness", "give `layers` or `thickness`, not both");
        host.thickness = r.number(h["thickness"], p + ".thickness");
        if (!(*host.thickness > 0) || *host.thickness > 200) r.fail(h["thickness"], p + ".thickness", "must be > 0 and <= 200 Å");
    }
    if (h["area_per_adsorbate"]) {
        if (h["supercell"]) r.fail(h["area_per_adsorbate"], p + ".area_per_adsorbate", "give `supercell` or `area_per_adsorbate`, not both");
        host.area_per_adsorbate = r.number(h["area_per_adsorbate"], p + ".area_per_adsorbate");
        if (!(*host.area_per_adsorbate >= 1) || *host.area_per_adsorbate > 2000)
            r.fail(h["area_per_adsorbate"], p + ".area_per_adsorbate", "must be between 1 and 2000 Å²");
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
void check_site_name(const WorkflowReader& r, const YAML::Node& n, const std::string& field, const std::string& name) {
    static const std::vector<std::string> kinds{"hollow", "fcc_hollow", "hcp_hollow", "4fold_hollow", "bridge", "top"};
    const auto base_name = name.substr(0, name.find_last_not_of("0123456789_") + 1);
    if (std::find(kinds.begin(), kinds.end(), base_name) == kinds.end())
        r.fail(n, field, text::unknown_name_message("site", name, kinds));
}

// `{interface: NAME, from: A, to: B, ...}`: a hop across an interface host, from a site inside
// one phase to a site inside the other (sides, or named sites such as A2 and B1).
HopSpec read_interface_hop(const WorkflowReader& r, const YAML::Node& h, const std::string& p,
                           const std::vector<HostSpec>& hosts) {
    std::vector<std::string> keys{"interface", "from", "to"};
    keys.insert(keys.end(), neb::band_keys().begin(), neb::band_keys().end());
    r.only_keys(h, p, keys);
    HopSpec hop;
    hop.across_interface = true;
    hop.host = r.str(h["interface"], p + ".interface");
    std::vector<std::string> interfaces;
    const HostSpec* host = nullptr;
    for (const auto& x : hosts)
        if (x.kind == HostKind::Interface) {
            interfaces.push_back(x.name);
            if (x.name == hop.host) host = &x;
        }
    if (!host) r.fail(h["interface"], p + ".interface", text::unknown_name_message("interface host", hop.host, interfaces));
    hop.from = h["from"] ? r.str(h["from"], p + ".from") : "A";
    hop.to = h["to"] ? r.str(h["to"], p + ".to") : (hop.from[0] == 'B' ? "A" : "B");
    for (const auto& [key, value] : {std::pair{"from", hop.from}, std::pair{"to", hop.to}}) {
        const bool side = value == "A" || value == "B";
        const bool site = value.size() >= 2 && (value[0] == 'A' || value[0] == 'B') &&
                          value.find_first_not_of("0123456789", 1) == std::string::npos;
        if (!side && !site)
            r.fail(h[key] ? h[key] : h, p + "." + key,
                   fmt::format("'{}' is neither a side (A or B) nor an interface site name (A1, B2, ...)", value));
    }
    if (hop.from[0] == hop.to[0])
        r.fail(h["to"] ? h["to"] : h, p + ".to",
               fmt::format("a hop across {} goes from one side to the other (from {} to {})", hop.host, hop.from, hop.to));
    neb::read_band_settings(r, h, p, hop);
    return hop;
}

// `{host: X-bulk, kind: vacancy | interstitial}`: a hop inside a bulk host, the phase's own
// barrier to compare with the barrier across an interface.
HopSpec read_bulk_hop(const WorkflowReader& r, const YAML::Node& h, const std::string& p, const HostSpec& host,
                      const std::string& adsorbate) {
    std::vector<std::string> keys{"host", "kind", "hop", "site"};
    keys.insert(keys.end(), neb::band_keys().begin(), neb::band_keys().end());
    r.only_keys(h, p, keys);
    HopSpec hop;
    hop.host = host.name;
    if (!h["kind"]) r.fail(h, p + ".kind", fmt::format("is required for a hop in the bulk host '{}': vacancy or interstitial", host.name));
    hop.mechanism = r.str(h["kind"], p + ".kind");
    if (hop.mechanism != "vacancy" && hop.mechanism != "interstitial")
        r.fail(h["kind"], p + ".kind", text::unknown_name_message("bulk hop kind", hop.mechanism, {"vacancy", "interstitial"}));
    if (hop.mechanism == "vacancy") {
        if (h["site"]) r.fail(h["site"], p + ".site", "a vacancy hop has no site: choose it with `hop: N` (1 = the shortest)");
        const auto crystal = crystal_of(host);
        bool present = false;
        for (std::size_t k = 0; k < crystal.size(); ++k) present = present || crystal[k].species == adsorbate;
        if (!present)
            r.fail(h["kind"], p + ".kind",
                   fmt::format("{} has no {}: a vacancy hop moves a {} atom of the phase into a neighbouring {} vacancy "
                               "(use kind: interstitial)",
                               host.name, adsorbate, adsorbate, adsorbate));
        if (h["hop"]) {
            hop.vacancy_hop = r.integer(h["hop"], p + ".hop");
            if (hop.vacancy_hop < 1) r.fail(h["hop"], p + ".hop", "must be >= 1 (1 = the shortest symmetry-distinct hop)");
        }
        hop.from = hop.to = "vacancy";
    } else {
        if (h["hop"]) r.fail(h["hop"], p + ".hop", "an interstitial hop is chosen by `site` (i1, i2, ...)");
        if (h["site"]) {
            hop.site = r.str(h["site"], p + ".site");
            if (hop.site.size() < 2 || hop.site[0] != 'i' || hop.site.find_first_not_of("0123456789", 1) != std::string::npos)
                r.fail(h["site"], p + ".site", fmt::format("'{}' is not an interstitial site name (i1, i2, ...)", hop.site));
        }
        hop.from = hop.to = hop.site;
    }
    neb::read_band_settings(r, h, p, hop);
    return hop;
}

HopSpec read_hop(const WorkflowReader& r, const YAML::Node& h, std::size_t i, const std::vector<HostSpec>& hosts,
                 const std::string& adsorbate) {
    const std::string p = fmt::format("hops[{}]", i);
    if (h.IsMap() && h["interface"]) return read_interface_hop(r, h, p, hosts);
    if (h.IsMap() && h["host"] && h["host"].IsScalar())
        for (const auto& x : hosts)
            if (x.name == h["host"].Scalar() && x.kind == HostKind::Bulk) return read_bulk_hop(r, h, p, x, adsorbate);
    std::vector<std::string> keys{"host", "from", "to"};
    keys.insert(keys.end(), neb::band_keys().begin(), neb::band_keys().end());
    r.only_keys(h, p, keys);
    HopSpec hop;
    for (const char* k : {"host", "from", "to"})
        if (!h[k]) r.fail(h, p + "." + k, "is required (a hop is {host: NAME, from: SITE, to: SITE, images: N})");
    hop.host = r.str(h["host"], p + ".host");
    std::vector<std::string> names;
    const HostSpec* host = nullptr;
    for (const auto& x : hosts) {
        names.push_back(x.name);
        if (x.name == hop.host) host = &x;
    }
    if (!host) r.fail(h["host"], p + ".host", text::unknown_name_message("host", hop.host, names));
    if (host->kind != HostKind::Surface)
        r.fail(h["host"], p + ".host",
               fmt::format("'{}' is a {} host: its hops are not adsorbate hops between surface sites; a hop across an "
                           "interface is {{interface: NAME, from: A, to: B}}, a hop in a bulk host {{host: NAME, kind: vacancy}}",
                           hop.host, to_string(host->kind)));
    hop.from = r.str(h["from"], p + ".from");
    hop.to = r.str(h["to"], p + ".to");
    check_site_name(r, h["from"], p + ".from", hop.from);
    check_site_name(r, h["to"], p + ".to", hop.to);
    neb::read_band_settings(r, h, p, hop);
    return hop;
}

std::shared_ptr<const KindSpec> read(const WorkflowReader& r, const YAML::Node& root, const InputFiles& files,
                                     WorkflowSpec& spec) {
    auto shared = std::make_shared<Spec>();
    Spec& be = *shared;
    // Electronic-structure codes see the long-range electrostatics of a slab and of an atom's
    // periodic images: 15 Å of vacuum and a 15 Å box by default (docs/protocols.md; 10 → 16 Å
    // with the dipole correction moved E_b(Al(111)) by +0.075 eV). Short-ranged in-process
    // potentials keep 10 Å, and with it their task hashes.
    const bool dft = plugins::CalculatorRegistry::instance().info(spec.calculator_code, r.where(root)).electronic_structure();
    const double default_vacuum = dft ? 15.0 : 10.0;
    if (dft) be.reference_box = 15.0;
    if (root["adsorbate"]) {
        be.adsorbate = r.str(root["adsorbate"], "adsorbate");
        try {
            structures::element(be.adsorbate);
        } catch (const Error&) {
            r.fail(root["adsorbate"], "adsorbate", fmt::format("'{}' is not a chemical element", be.adsorbate));
        }
    }
    if (root["reference"]) {
        const auto ref = r.str(root["reference"], "reference");
        if (ref == "isolated_atom") be.reference = Reference::IsolatedAtom;
        else if (ref == "bulk") be.reference = Reference::BulkMetal;
        else r.fail(root["reference"], "reference", text::unknown_name_message("reference", ref, {"isolated_atom", "bulk"}));
    }
    if (be.reference == Reference::BulkMetal) {
        try {
            structures::prototype(be.adsorbate);
        } catch (const InputError&) {
            r.fail(root["reference"], "reference",
                   fmt::format("no built-in prototype for bulk {} (needed for reference: bulk)", be.adsorbate));
        }
    }
    if (root["reference_box"]) {
        be.reference_box = r.number(root["reference_box"], "reference_box");
        if (be.reference_box < 5 || be.reference_box > 40) r.fail(root["reference_box"], "reference_box", "must be 5..40 Å");
    }

    if (!root["hosts"] || !root["hosts"].IsSequence() || root["hosts"].size() == 0)
        r.fail(root["hosts"] ? root["hosts"] : root, "hosts", "must be a non-empty list of host surfaces");
    std::set<std::string> names;
    for (std::size_t i = 0; i < root["hosts"].size(); ++i) {
        auto host = read_host(r, root["hosts"][i], i, files, default_vacuum);
        if (!names.insert(host.name).second)
            r.fail(root["hosts"][i], fmt::format("hosts[{}].name", i), fmt::format("host name '{}' used twice", host.name));
        be.hosts.push_back(std::move(host));
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
            for (std::size_t k = 0; k < be.pairs.size(); ++k)
                if ((be.pairs[k][0] == ab[0] && be.pairs[k][1] == ab[1]) ||
                    (be.pairs[k][0] == ab[1] && be.pairs[k][1] == ab[0]))
                    r.fail(pr, f, fmt::format("the pair {}|{} is already pairs[{}]", ab[0], ab[1], k));
            be.pairs.push_back(ab);
        }
    }
    if (const auto& hops = root["hops"]) {
        if (!hops.IsSequence()) r.fail(hops, "hops", "must be a list of {host, from, to, images, ...} hops");
        std::set<std::string> seen;
        for (std::size_t i = 0; i < hops.size(); ++i) {
            auto hop = read_hop(r, hops[i], i, be.hosts, be.adsorbate);
            if (!seen.insert(hop.host + "/" + hop.id()).second)
                r.fail(hops[i], fmt::format("hops[{}]", i), fmt::format("hop {} on {} listed twice", hop.id(), hop.host));
            be.hops.push_back(std::move(hop));
        }
    }
    spec.metadata["reference"] = to_string(be.reference);
    return shared;
}

}  // namespace

engine::TaskGraph expand(const WorkflowSpec& spec);

WorkflowKind workflow_kind() {
    return {"binding_energy", "adsorbate binding energies of hosts, ΔE of pairs, migration hops by CI-NEB",
            {"adsorbate", "reference", "reference_box", "hosts", "pairs", "hops"}, read, expand, task_kinds};
}

}  // namespace interphase::workflows::binding_energy
