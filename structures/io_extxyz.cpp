// Extended XYZ as read and written by ASE 3.22 (ase.io.extxyz): line 1 the atom count, line 2
// key=value pairs (Lattice, Properties, pbc and free metadata), then one line per atom whose
// columns the Properties key declares (name:type:count, types R real, I integer, S string,
// L logical). This is the format that carries our per-atom tags (fixed, layer, label) and
// `info` to and from ASE-based tools without loss.
//
// The key=value parsing and the typing of values mirror ASE's key_val_str_to_dict, so a file
// means the same thing here and in ASE; values we write are chosen so that ASE reads them back
// as the same JSON value (see write_info_value). Only the first frame of a trajectory is read.

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "structures/elements.hpp"
#include "structures/io.hpp"

namespace interphase::structures {
namespace {

constexpr long long kMaxAtoms = 10'000'000;
// Lattice components and positions (Å) beyond this are typos or garbage, not structures: a
// 1e300 Å cell overflows its volume.
constexpr double kMaxMagnitude = 1e6;
// Vacuum around a molecule read from a plain XYZ file without a cell (Å on each side, total).
constexpr double kMoleculeVacuum = 10.0;

struct KeyValue {
    std::string key;
    std::string value;
};

/// Splits the comment line into key=value pairs as ASE does: quotes ("..." and '...') and
/// brackets ({...}, [...]) delimit values, a backslash escapes the next character, and a key
/// without '=' means "key=T".
std::vector<KeyValue> split_key_values(const std::string& line, const std::string& source, std::size_t line_no) {
    std::vector<KeyValue> out;
    std::string key, value;
    bool in_value = false, have_token = false, escaped = false, value_quoted = false;
    char closing = 0;
    auto finish = [&] {
        if (have_token) out.push_back({key, in_value ? value : "T"});
        key.clear();
        value.clear();
        in_value = have_token = value_quoted = false;
    };
    for (char c : line) {
        std::string& dst = in_value ? value : key;
        if (escaped) {
            dst += c;
            escaped = false;
            have_token = true;
        } else if (c == '\\') {
            escaped = true;
        } else if (closing) {
            if (c == closing) closing = 0;
            else dst += c;
        } else if (c == '"' || c == '\'' || c == '{' || c == '[') {
            closing = c == '{' ? '}' : c == '[' ? ']' : c;
            have_token = true;
            value_quoted |= in_value;
        } else if (std::isspace(static_cast<unsigned char>(c))) {
            if (in_value && value.empty() && !value_quoted) continue;  // ASE reads "a= 1" as a=1
            finish();
        } else if (c == '=') {
            if (in_value) value += c;  // ASE joins further '=' back into the value
            in_value = true;
            have_token = true;
        } else {
            dst += c;
            have_token = true;
        }
    }
    if (closing) throw ParseError(source, line_no, fmt::format("unterminated {} in the comment line", closing == ']' || closing == '}' ? "bracket" : "quote"));
    finish();
    return out;
}

std::vector<std::string> split_ws_commas(const std::string& s) {
    std::string t = s;
    std::replace(t.begin(), t.end(), ',', ' ');
    return text::split_ws(t);
}

/// Types a comment-line value as ASE does: integers, then reals (single or whitespace/comma
/// separated arrays), then T/F booleans, then "_JSON ..." content, else a string.
nlohmann::json info_value(const std::string& value, const std::string& key, const std::string& source,
                          std::size_t line_no) {
    const auto parts = split_ws_commas(value);
    if (!parts.empty()) {
        auto collect = [&](auto parse) -> std::optional<nlohmann::json> {
            nlohmann::json arr = nlohmann::json::array();
            for (const auto& p : parts) {
                auto v = parse(p);
                if (!v) return std::nullopt;
                arr.push_back(*v);
            }
            return arr.size() == 1 ? arr[0] : arr;
        };
        if (auto v = collect([](const std::string& p) { return text::parse_int(p); })) return *v;
        if (auto v = collect([](const std::string& p) { return text::parse_double(p); })) return *v;
        if (auto v = collect([](const std::string& p) -> std::optional<bool> {
                if (p == "T") return true;
                if (p == "F") return false;
                return std::nullopt;
            }))
            return *v;
    }
    if (value.rfind("_JSON ", 0) == 0) {
        try {
            return nlohmann::json::parse(value.substr(6));
        } catch (const nlohmann::json::exception& e) {
            throw ParseError(source, line_no, fmt::format("key '{}': invalid _JSON value: {}", key, e.what()));
        }
    }
    return value;
}

bool is_reserved_key(const std::string& key) {
    const auto k = text::to_lower(key);
    return k == "lattice" || k == "properties" || k == "pbc";
}

struct Column {
    std::string name;
    char type;
    std::size_t count;
    std::size_t first;  ///< index of its first token on an atom line
};

std::vector<Column> parse_properties(const std::string& spec, const std::string& source, std::size_t line_no) {
    std::vector<std::string> f;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= spec.size(); ++i)
        if (i == spec.size() || spec[i] == ':') {
            f.push_back(spec.substr(start, i - start));
            start = i + 1;
        }
    if (f.size() % 3 != 0)
        throw ParseError(source, line_no, fmt::format("Properties='{}' is not a list of name:type:count", spec));
    std::vector<Column> cols;
    std::size_t first = 0;
    for (std::size_t i = 0; i < f.size(); i += 3) {
        if (f[i + 1].size() != 1 || std::string("RISL").find(f[i + 1][0]) == std::string::npos)
            throw ParseError(source, line_no, fmt::format("Properties: column '{}' has type '{}' (expected R, I, S or L)",
                                                          f[i], f[i + 1]));
        const auto n = text::parse_int(f[i + 2]);
        if (!n || *n < 1 || *n > 1000)
            throw ParseError(source, line_no, fmt::format("Properties: column '{}' has count '{}'", f[i], f[i + 2]));
        cols.push_back({f[i], f[i + 1][0], static_cast<std::size_t>(*n), first});
        first += static_cast<std::size_t>(*n);
    }
    return cols;
}

const Column* find_column(const std::vector<Column>& cols, const std::string& name) {
    for (const auto& c : cols)
        if (c.name == name) return &c;
    return nullptr;
}

std::optional<bool> logical(const std::string& t) {
    if (t == "T" || t == "True" || t == "true" || t == "t") return true;
    if (t == "F" || t == "False" || t == "false" || t == "f") return false;
    return std::nullopt;
}

Structure read_extxyz(std::istream& in, const std::string& source) {
    std::string line;
    std::size_t line_no = 0;
    auto next = [&](const std::string& expected) {
        if (!std::getline(in, line))
            throw ParseError(source, line_no + 1, "unexpected end of file: expected " + expected);
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return line;
    };

    const auto first = text::split_ws(next("the number of atoms"));
    const auto natoms = first.empty() ? std::nullopt : text::parse_int(first[0]);
    if (!natoms || *natoms < 0 || *natoms > kMaxAtoms)
        throw ParseError(source, line_no, fmt::format("expected the number of atoms on the first line, found '{}'",
                                                      first.empty() ? "" : first[0]));
    const std::string comment = next("the comment line");
    const std::size_t comment_line = line_no;

    // A plain XYZ comment (no '=') is a title, not metadata: "water molecule" must not turn
    // into two boolean keys.
    std::vector<KeyValue> kvs;
    if (comment.find('=') != std::string::npos) kvs = split_key_values(comment, source, comment_line);

    std::optional<Eigen::Matrix3d> lattice;
    std::array<bool, 3> pbc{true, true, true};
    bool pbc_given = false;
    std::string properties = "species:S:1:pos:R:3";
    std::string title = kvs.empty() ? text::trim(comment) : std::string();
    nlohmann::json info = nlohmann::json::object();
    for (const auto& kv : kvs) {
        if (kv.key == "Lattice") {
            const auto p = split_ws_commas(kv.value);
            if (p.size() != 9)
                throw ParseError(source, comment_line, fmt::format("Lattice needs 9 numbers, found {}", p.size()));
            Eigen::Matrix3d L;
            for (std::size_t i = 0; i < 9; ++i) {
                const auto v = text::parse_double(p[i]);
                if (!v) throw ParseError(source, comment_line, fmt::format("Lattice value '{}' is not a finite number", p[i]));
                if (std::abs(*v) > kMaxMagnitude)
                    throw ParseError(source, comment_line, fmt::format("Lattice value {} is beyond {:g} Å", *v, kMaxMagnitude));
                L(static_cast<int>(i / 3), static_cast<int>(i % 3)) = *v;  // a, then b, then c
            }
            lattice = L;
        } else if (kv.key == "Properties") {
            properties = kv.value;
        } else if (kv.key == "pbc") {
            const auto p = split_ws_commas(kv.value);
            if (p.size() != 1 && p.size() != 3)
                throw ParseError(source, comment_line, fmt::format("pbc='{}' needs 3 values T or F", kv.value));
            for (std::size_t k = 0; k < 3; ++k) {
                const auto b = logical(p[p.size() == 1 ? 0 : k]);
                if (!b) throw ParseError(source, comment_line, fmt::format("pbc='{}' needs 3 values T or F", kv.value));
                pbc[k] = *b;
            }
            pbc_given = true;
        } else if (kv.key == "title") {
            title = kv.value;  // written by write_extxyz for Structure::title
        } else {
            nlohmann::json v = info_value(kv.value, kv.key, source, comment_line);
            // ASE stores these two 9-number keys as 3x3 matrices in Fortran order.
            if ((kv.key == "virial" || kv.key == "stress") && v.is_array() && v.size() == 9) {
                nlohmann::json m = nlohmann::json::array();
                for (std::size_t r = 0; r < 3; ++r) m.push_back({v[r], v[r + 3], v[r + 6]});
                v = std::move(m);
            }
            info[kv.key] = std::move(v);
        }
    }

    const auto cols = parse_properties(properties, source, comment_line);
    const Column* species_col = find_column(cols, "species");
    const Column* z_col = find_column(cols, "Z");
    const Column* pos_col = find_column(cols, "pos");
    if (!pos_col || pos_col->type != 'R' || pos_col->count != 3)
        throw ParseError(source, comment_line, "Properties has no pos:R:3 column");
    if (species_col && (species_col->type != 'S' || species_col->count != 1))
        throw ParseError(source, comment_line, "Properties: species must be species:S:1");
    if (!species_col && !(z_col && z_col->type == 'I' && z_col->count == 1))
        throw ParseError(source, comment_line, "Properties has neither species:S:1 nor Z:I:1");
    auto optional_col = [&](const char* name, char type, std::size_t count) -> const Column* {
        const Column* c = find_column(cols, name);
        if (c && (c->type != type || c->count != count))
            throw ParseError(source, comment_line,
                             fmt::format("Properties: column '{}' must be {}:{}:{}", name, name, type, count));
        return c;
    };
    const Column* fixed_col = optional_col("fixed", 'L', 1);
    const Column* layer_col = optional_col("layer", 'I', 1);
    const Column* label_col = optional_col("label", 'S', 1);
    const Column* mask_col = find_column(cols, "move_mask");  // ASE: T = free to move
    if (mask_col && (mask_col->type != 'L' || (mask_col->count != 1 && mask_col->count != 3)))
        throw ParseError(source, comment_line, "Properties: move_mask must be move_mask:L:1 or move_mask:L:3");
    const std::size_t width = cols.back().first + cols.back().count;

    if (lattice) {
        const Eigen::Matrix3d& L = *lattice;
        const double v = std::abs(L.determinant());
        const double scale = L.row(0).norm() * L.row(1).norm() * L.row(2).norm();
        if (!(v > 1e-6) || v < 1e-8 * scale)
            throw ParseError(source, comment_line,
                             fmt::format("singular lattice (cell volume {:.3g} Å^3): cell vectors are zero or "
                                         "linearly dependent", v));
    } else if (pbc_given && (pbc[0] || pbc[1] || pbc[2])) {
        throw ParseError(source, comment_line, "pbc is true in some direction but there is no Lattice");
    }

    struct Row {
        std::string species;
        Eigen::Vector3d cart;
        bool fixed = false;
        int layer = -1;
        std::string label;
        std::array<bool, 3> free{true, true, true};
    };
    std::vector<Row> rows;
    bool partial_masks = false;
    for (long long i = 1; i <= *natoms; ++i) {
        const auto t = text::split_ws(next(fmt::format("atom {} of {}", i, *natoms)));
        if (t.size() < width)
            throw ParseError(source, line_no, fmt::format("atom {} has {} columns, Properties declares {}", i, t.size(), width));
        Row r;
        if (species_col) {
            r.species = t[species_col->first];
            // Some writers put atomic numbers in the species column of plain XYZ files.
            if (auto z = text::parse_int(r.species); z && *z >= 1 && *z <= 96) r.species = element(static_cast<int>(*z)).symbol;
        } else {
            const auto z = text::parse_int(t[z_col->first]);
            if (!z || *z < 1 || *z > 96)
                throw ParseError(source, line_no, fmt::format("atom {}: '{}' is not an atomic number", i, t[z_col->first]));
            r.species = element(static_cast<int>(*z)).symbol;
        }
        if (!is_element(r.species))
            throw ParseError(source, line_no, fmt::format("atom {}: unknown element '{}'", i, r.species));
        for (std::size_t k = 0; k < 3; ++k) {
            const auto v = text::parse_double(t[pos_col->first + k]);
            if (!v)
                throw ParseError(source, line_no, fmt::format("atom {}: coordinate '{}' is not a finite number", i,
                                                              t[pos_col->first + k]));
            if (std::abs(*v) > kMaxMagnitude)
                throw ParseError(source, line_no, fmt::format("atom {}: coordinate {} is beyond {:g} Å", i, *v, kMaxMagnitude));
            r.cart[static_cast<int>(k)] = *v;
        }
        if (fixed_col) {
            const auto b = logical(t[fixed_col->first]);
            if (!b) throw ParseError(source, line_no, fmt::format("atom {}: fixed '{}' must be T or F", i, t[fixed_col->first]));
            r.fixed = *b;
        }
        if (mask_col) {
            for (std::size_t k = 0; k < 3; ++k) {
                const auto b = logical(t[mask_col->first + (mask_col->count == 3 ? k : 0)]);
                if (!b) throw ParseError(source, line_no, fmt::format("atom {}: move_mask values must be T or F", i));
                r.free[k] = *b;
            }
            if (!r.free[0] && !r.free[1] && !r.free[2]) r.fixed = true;
            if (r.free[0] != r.free[1] || r.free[1] != r.free[2]) partial_masks = true;
        }
        if (layer_col) {
            const auto n = text::parse_int(t[layer_col->first]);
            if (!n || *n < -1 || *n > 1'000'000)
                throw ParseError(source, line_no, fmt::format("atom {}: layer '{}' is not an integer >= -1", i, t[layer_col->first]));
            r.layer = static_cast<int>(*n);
        }
        if (label_col && t[label_col->first] != "_") r.label = t[label_col->first];
        rows.push_back(std::move(r));
    }

    if (!lattice) {
        // A molecule: give it a box (bounding box plus vacuum) so that it is a valid Structure;
        // Cartesian positions are kept exactly as written, the box is not periodic.
        Eigen::Vector3d lo = Eigen::Vector3d::Zero(), hi = Eigen::Vector3d::Zero();
        if (!rows.empty()) lo = hi = rows[0].cart;
        for (const auto& r : rows) {
            lo = lo.cwiseMin(r.cart);
            hi = hi.cwiseMax(r.cart);
        }
        lattice = Eigen::Matrix3d((hi - lo + Eigen::Vector3d::Constant(kMoleculeVacuum)).asDiagonal());
        pbc = {false, false, false};
    }

    Structure s(*lattice, pbc);
    s.title = title;
    s.info = std::move(info);
    nlohmann::json masks = nlohmann::json::array();
    for (const auto& r : rows) {
        Atom& a = s.add_atom_cartesian(r.species, r.cart);
        a.fixed = r.fixed;
        a.layer = r.layer;
        a.label = r.label;
        masks.push_back({r.free[0], r.free[1], r.free[2]});
    }
    // Per-direction constraints use the same info key as POSCAR's Selective dynamics.
    if (partial_masks) s.info["selective_dynamics"] = std::move(masks);
    return s;
}

// ---------------------------------------------------------------------------------------------
// Writing

/// Quotes a value for the comment line when ASE's parser would otherwise split or alter it.
std::string quote(const std::string& v) {
    const bool plain = !v.empty() && std::none_of(v.begin(), v.end(), [](char c) {
        return std::isspace(static_cast<unsigned char>(c)) || std::string("\"'{}[]=\\,").find(c) != std::string::npos;
    });
    if (plain) return v;
    std::string out = "\"";
    for (char c : v) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + '"';
}

/// Real numbers always carry a '.' or an exponent so that they are read back as reals.
std::string real(double x) {
    std::string s = fmt::format("{}", x);
    if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
    return s;
}

/// The comment-line form of an info value that ASE (and read_extxyz) parse back into the same
/// JSON value: plain scalars and flat arrays of >= 2 numbers or booleans in ASE's own notation,
/// everything else (objects, nested or one-element arrays, strings that look like numbers) as
/// ASE's "_JSON ..." form.
std::string write_info_value(const std::string& key, const nlohmann::json& v) {
    auto json_form = [&] { return quote("_JSON " + v.dump()); };
    if (v.is_boolean()) return v.get<bool>() ? "T" : "F";
    if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
    if (v.is_number_float()) return std::isfinite(v.get<double>()) ? real(v.get<double>()) : json_form();
    if (v.is_string()) {
        const auto& str = v.get_ref<const std::string&>();
        const bool printable = std::none_of(str.begin(), str.end(), [](char c) {
            return static_cast<unsigned char>(c) < 0x20;
        });
        // Strings ASE would re-type ("42", "T", "1 2") or that look like _JSON go as JSON.
        if (printable && !str.empty() && str.rfind("_JSON", 0) != 0 && info_value(str, key, "", 0) == v)
            return quote(str);
        return json_form();
    }
    if (v.is_array()) {
        // ASE writes stress and virial as 9 numbers in Fortran order.
        if ((key == "virial" || key == "stress") && v.size() == 3 &&
            std::all_of(v.begin(), v.end(), [](const auto& r) {
                return r.is_array() && r.size() == 3 &&
                       std::all_of(r.begin(), r.end(), [](const auto& x) { return x.is_number(); });
            })) {
            std::vector<std::string> parts;
            for (std::size_t c = 0; c < 3; ++c)
                for (std::size_t r = 0; r < 3; ++r) parts.push_back(real(v[r][c].get<double>()));
            return quote(fmt::format("{}", fmt::join(parts, " ")));
        }
        const bool all_bool = std::all_of(v.begin(), v.end(), [](const auto& x) { return x.is_boolean(); });
        const bool all_int = std::all_of(v.begin(), v.end(), [](const auto& x) { return x.is_number_integer(); });
        const bool all_real = std::all_of(v.begin(), v.end(), [](const auto& x) {
            return x.is_number_float() && std::isfinite(x.template get<double>());
        });
        if (v.size() >= 2 && (all_bool || all_int || all_real)) {
            std::vector<std::string> parts;
            for (const auto& x : v)
                parts.push_back(all_bool ? (x.get<bool>() ? "T" : "F") : all_int ? x.dump() : real(x.get<double>()));
            return quote(fmt::format("{}", fmt::join(parts, " ")));
        }
    }
    return json_form();
}

void write_extxyz(std::ostream& out, const Structure& s) {
    bool any_fixed = false, any_layer = false, any_label = false;
    for (const auto& a : s.atoms()) {
        any_fixed |= a.fixed;
        any_layer |= a.layer >= 0;
        any_label |= !a.label.empty();
    }
    std::string props = "species:S:1:pos:R:3";
    if (any_fixed) props += ":fixed:L:1";
    if (any_layer) props += ":layer:I:1";
    if (any_label) props += ":label:S:1";

    const auto& L = s.lattice();
    std::vector<std::string> lat;
    for (int r = 0; r < 3; ++r)
        for (int c = 0; c < 3; ++c) lat.push_back(real(L(r, c)));
    std::string comment = fmt::format("Lattice=\"{}\" Properties={}", fmt::join(lat, " "), props);
    if (!s.title.empty() && !s.info.contains("title")) comment += " title=" + write_info_value("title", s.title);
    for (const auto& [key, value] : s.info.items()) {
        if (is_reserved_key(key)) continue;  // would clash with the structure's own keys
        comment += " " + quote(key) + "=" + write_info_value(key, value);
    }
    comment += fmt::format(" pbc=\"{} {} {}\"", s.pbc()[0] ? 'T' : 'F', s.pbc()[1] ? 'T' : 'F', s.pbc()[2] ? 'T' : 'F');

    out << s.size() << '\n' << comment << '\n';
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto& a = s[i];
        const Eigen::Vector3d p = s.cartesian(i);
        out << fmt::format("{:<2} {:19.12f} {:19.12f} {:19.12f}", a.species, p[0], p[1], p[2]);
        if (any_fixed) out << (a.fixed ? "  T" : "  F");
        if (any_layer) out << fmt::format(" {:4d}", a.layer);
        if (any_label) {
            // Columns are whitespace-separated: blanks inside a label become '_', an empty
            // label is written as "_" (and read back as empty).
            std::string label = a.label.empty() ? "_" : a.label;
            for (auto& c : label)
                if (std::isspace(static_cast<unsigned char>(c))) c = '_';
            out << "  " << label;
        }
        out << '\n';
    }
}

}  // namespace

FileFormat extxyz_format() {
    return {"extxyz",
            "extended XYZ (ASE 3.22 conventions): Lattice, pbc, info, per-atom fixed/layer/label; first frame",
            {".xyz", ".extxyz"},
            {},
            read_extxyz,
            write_extxyz};
}

}  // namespace interphase::structures
