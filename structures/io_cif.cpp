// CIF (Crystallographic Information File, CIF 1.1 syntax): how experimental structures arrive
// from ICSD, COD and the Materials Project. Reading expands the asymmetric unit with the
// symmetry operations of the file (or, when a file only names its space group, the operations
// of spglib's database) into the full cell that every other part of Interphase works with.
// Writing produces a P1 file: all atoms listed, the identity as the only operation.
//
// The reader is a small tokenizer + block parser for the CIF syntax (data blocks, loops,
// quoted strings, ';' text fields, comments) followed by the interpretation of the few tags a
// structure needs. Tags are matched case-insensitively and with '.' read as '_', so the
// DDLm spelling "_atom_site.fract_x" works too. See docs/formats.md.

#include <algorithm>
#include <cmath>
#include <fmt/format.h>
#include <istream>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/errors.hpp"
#include "common/text.hpp"
#include "structures/elements.hpp"
#include "structures/io.hpp"
#include "structures/symmetry.hpp"

namespace interphase::structures {
namespace {

// Two images of a site closer than this (fractional units, each direction, periodic) are the
// same atom. Large enough for coordinates printed with 4 decimals (0.3333 vs 1/3).
constexpr double kDuplicateTolerance = 1e-3;
// Occupancies slightly above 1 are rounding in the file (e.g. 1.0005), not physics.
constexpr double kOccupancyTolerance = 1e-3;
// Cell lengths (Å) and coordinates beyond this are typos or garbage: a 1e250 Å cell overflows
// its volume, a coordinate of 1e30 cells wraps to noise.
constexpr double kMaxMagnitude = 1e6;

// ---------------------------------------------------------------------------------------------
// Syntax: tokens and blocks

struct Token {
    std::string text;
    std::size_t line;
    bool quoted;  ///< quoted strings and text fields are always values, never tags or keywords
};

std::vector<Token> tokenize(std::istream& in, const std::string& source) {
    std::vector<Token> tokens;
    std::string line;
    std::size_t line_no = 0;
    while (std::getline(in, line)) {
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (!line.empty() && line[0] == ';') {
            // Text field: from ';' at the start of a line to the next line starting with ';'.
            const std::size_t start = line_no;
            std::string value = line.substr(1);
            bool closed = false;
            while (std::getline(in, line)) {
                ++line_no;
                if (!line.empty() && line.back() == '\r') line.pop_back();
                if (!line.empty() && line[0] == ';') {
                    closed = true;
                    break;
                }
                value += '\n' + line;
            }
            if (!closed) throw ParseError(source, start, "text field opened with ';' is never closed");
            tokens.push_back({text::trim(value), start, true});
            line = line.substr(1);  // anything after the closing ';' is ordinary text
        }
        std::size_t i = 0;
        while (i < line.size()) {
            const char c = line[i];
            if (std::isspace(static_cast<unsigned char>(c))) {
                ++i;
            } else if (c == '#') {
                break;  // comment to the end of the line
            } else if (c == '\'' || c == '"') {
                // A quote closes only when followed by whitespace or the end of the line, so
                // 'O'Brien' is one value.
                std::size_t j = i + 1;
                while (j < line.size() &&
                       !(line[j] == c && (j + 1 == line.size() || std::isspace(static_cast<unsigned char>(line[j + 1])))))
                    ++j;
                if (j >= line.size())
                    throw ParseError(source, line_no, fmt::format("unterminated {}-quoted string", c));
                tokens.push_back({line.substr(i + 1, j - i - 1), line_no, true});
                i = j + 1;
            } else {
                std::size_t j = i;
                while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
                tokens.push_back({line.substr(i, j - i), line_no, false});
                i = j;
            }
        }
    }
    return tokens;
}

struct Value {
    std::string text;
    std::size_t line = 0;
    bool quoted = false;
};

struct Loop {
    std::vector<std::string> tags;  ///< normalised (lower case, '.' -> '_')
    std::vector<Value> values;      ///< row-major
    std::size_t line = 0;
    std::size_t rows() const { return tags.empty() ? 0 : values.size() / tags.size(); }
    int column(const std::string& tag) const {
        for (std::size_t i = 0; i < tags.size(); ++i)
            if (tags[i] == tag) return static_cast<int>(i);
        return -1;
    }
    const Value& at(std::size_t row, int col) const {
        return values[row * tags.size() + static_cast<std::size_t>(col)];
    }
};

struct Block {
    std::string name;
    std::size_t line = 0;
    std::map<std::string, Value> items;
    std::vector<Loop> loops;

    const Value* item(const std::string& tag) const {
        const auto it = items.find(tag);
        return it == items.end() ? nullptr : &it->second;
    }
    /// The loop holding `tag`; a tag given as a single item counts as a one-row loop of the
    /// items sharing its category prefix (e.g. one atom written without loop_).
    std::optional<Loop> table(const std::string& tag, const std::string& prefix) const {
        for (const auto& l : loops)
            if (l.column(tag) >= 0) return l;
        if (!items.count(tag)) return std::nullopt;
        Loop l;
        l.line = items.at(tag).line;
        for (const auto& [t, v] : items)
            if (t.rfind(prefix, 0) == 0) {
                l.tags.push_back(t);
                l.values.push_back(v);
            }
        return l;
    }
};

std::string normalise_tag(const std::string& t) {
    std::string s = text::to_lower(t);
    std::replace(s.begin(), s.end(), '.', '_');
    return s;
}

/// Reserved words of CIF syntax, case-insensitive; "data_" and "save_" start a name.
bool is_keyword(const Token& t, const std::string& word) {
    if (t.quoted) return false;
    const std::string lower = text::to_lower(t.text);
    if (word == "data_" || word == "save_") return lower.rfind(word, 0) == 0;
    return lower == word;
}

bool is_tag(const Token& t) { return !t.quoted && !t.text.empty() && t.text[0] == '_'; }

bool ends_values(const Token& t) {
    return is_tag(t) || is_keyword(t, "data_") || is_keyword(t, "loop_") || is_keyword(t, "save_") ||
           is_keyword(t, "global_") || is_keyword(t, "stop_");
}

std::vector<Block> parse_blocks(const std::vector<Token>& tokens, const std::string& source) {
    std::vector<Block> blocks;
    std::size_t i = 0;
    while (i < tokens.size()) {
        const Token& t = tokens[i];
        if (is_keyword(t, "data_")) {
            blocks.push_back({t.text.substr(5), t.line, {}, {}});
            ++i;
            continue;
        }
        if (is_keyword(t, "save_") || is_keyword(t, "global_") || is_keyword(t, "stop_")) {
            ++i;  // save frames and global blocks carry dictionary definitions, not structures
            continue;
        }
        if (blocks.empty())
            throw ParseError(source, t.line, fmt::format("expected a 'data_' block header, found '{}'", t.text.substr(0, 40)));
        Block& b = blocks.back();
        if (is_keyword(t, "loop_")) {
            Loop loop;
            loop.line = t.line;
            ++i;
            while (i < tokens.size() && is_tag(tokens[i])) loop.tags.push_back(normalise_tag(tokens[i++].text));
            if (loop.tags.empty()) throw ParseError(source, t.line, "loop_ without tags");
            while (i < tokens.size() && !ends_values(tokens[i])) {
                loop.values.push_back({tokens[i].text, tokens[i].line, tokens[i].quoted});
                ++i;
            }
            if (loop.values.size() % loop.tags.size() != 0)
                throw ParseError(source, t.line,
                                 fmt::format("loop_ with {} tags ({}...) has {} values, not a multiple of {}",
                                             loop.tags.size(), loop.tags[0], loop.values.size(), loop.tags.size()));
            b.loops.push_back(std::move(loop));
        } else if (is_tag(t)) {
            if (i + 1 >= tokens.size() || ends_values(tokens[i + 1]))
                throw ParseError(source, t.line, fmt::format("tag {} has no value", t.text));
            b.items[normalise_tag(t.text)] = {tokens[i + 1].text, tokens[i + 1].line, tokens[i + 1].quoted};
            i += 2;
        } else {
            throw ParseError(source, t.line, fmt::format("unexpected value '{}' where a tag (e.g. _cell_length_a) was expected",
                                                         t.text.substr(0, 40)));
        }
    }
    return blocks;
}

// ---------------------------------------------------------------------------------------------
// Values

bool is_missing(const Value& v) { return !v.quoted && (v.text == "?" || v.text == "."); }

/// A CIF number, possibly with its standard uncertainty in parentheses: "5.4307(2)" -> 5.4307.
/// nullopt for the CIF "unknown" (?) and "inapplicable" (.) markers.
std::optional<double> cif_number(const Value& v, const std::string& what, const std::string& source) {
    if (is_missing(v)) return std::nullopt;
    std::string s = v.text;
    if (const auto open = s.find('('); open != std::string::npos) {
        if (s.back() != ')' || !text::parse_int(s.substr(open + 1, s.size() - open - 2)))
            throw ParseError(source, v.line, fmt::format("{} '{}' is not a number", what, v.text));
        s.erase(open);
    }
    const auto x = text::parse_double(s);
    if (!x) throw ParseError(source, v.line, fmt::format("{} '{}' is not a finite number", what, v.text));
    return x;
}

/// The element of "Li1+", "O2-", "Li1" (a site label) or "OW3": the longest leading symbol
/// that is an element, with the case normalised ("LI" -> "Li").
std::optional<std::string> element_prefix(const std::string& s) {
    std::string letters;
    for (char c : s) {
        if (!std::isalpha(static_cast<unsigned char>(c)) || letters.size() == 2) break;
        letters += c;
    }
    if (letters.empty()) return std::nullopt;
    std::string one(1, static_cast<char>(std::toupper(static_cast<unsigned char>(letters[0]))));
    if (letters.size() == 2) {
        const std::string two = one + static_cast<char>(std::tolower(static_cast<unsigned char>(letters[1])));
        if (is_element(two)) return two;
    }
    if (is_element(one)) return one;
    return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Symmetry operations

struct SymOp {
    Eigen::Matrix3d rotation = Eigen::Matrix3d::Zero();
    Eigen::Vector3d translation = Eigen::Vector3d::Zero();
};

/// Parses "-x+1/2, y, z+0.25", "x-y,x,z", "1/2+x,-y,1/2-z" (any order of terms, fractions or
/// decimals, optional coefficients such as "2x"). A fourth, time-reversal component of
/// magnetic CIFs is ignored.
std::optional<SymOp> parse_symop(const std::string& str, std::string& why) {
    std::vector<std::string> parts;
    std::string cur;
    for (char c : str) {
        if (c == ',') {
            parts.push_back(cur);
            cur.clear();
        } else if (!std::isspace(static_cast<unsigned char>(c))) {
            cur += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
    }
    parts.push_back(cur);
    if (parts.size() == 4 && (parts[3] == "+1" || parts[3] == "-1" || parts[3] == "1")) parts.pop_back();
    if (parts.size() != 3) {
        why = fmt::format("has {} components, expected 3", parts.size());
        return std::nullopt;
    }
    SymOp op;
    for (int row = 0; row < 3; ++row) {
        const std::string& p = parts[static_cast<std::size_t>(row)];
        if (p.empty()) {
            why = "has an empty component";
            return std::nullopt;
        }
        std::size_t i = 0;
        while (i < p.size()) {
            double sign = 1;
            if (p[i] == '+' || p[i] == '-') sign = p[i++] == '-' ? -1 : 1;
            std::optional<double> num;
            const std::size_t start = i;
            while (i < p.size() && (std::isdigit(static_cast<unsigned char>(p[i])) || p[i] == '.')) ++i;
            if (i > start) {
                num = text::parse_double(p.substr(start, i - start));
                if (num && i < p.size() && p[i] == '/') {
                    const std::size_t d0 = ++i;
                    while (i < p.size() && std::isdigit(static_cast<unsigned char>(p[i]))) ++i;
                    const auto den = text::parse_double(p.substr(d0, i - d0));
                    if (!den || *den == 0) num.reset();
                    else *num /= *den;
                }
                if (!num) {
                    why = fmt::format("has a bad number in '{}'", p);
                    return std::nullopt;
                }
                if (i < p.size() && p[i] == '*') ++i;
            }
            if (i < p.size() && (p[i] == 'x' || p[i] == 'y' || p[i] == 'z')) {
                op.rotation(row, p[i] - 'x') += sign * num.value_or(1.0);
                ++i;
            } else if (num) {
                op.translation[row] += sign * *num;
            } else {
                why = fmt::format("cannot read '{}'", p);
                return std::nullopt;
            }
        }
    }
    // In the basis of a lattice it preserves, a symmetry operation has integer entries.
    for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j)
            if (std::abs(op.rotation(i, j) - std::round(op.rotation(i, j))) > 1e-6 || std::abs(op.rotation(i, j)) > 8) {
                why = "is not a symmetry operation of a lattice (its matrix entries must be small integers)";
                return std::nullopt;
            }
    if (std::abs(std::abs(op.rotation.determinant()) - 1.0) > 1e-6) {
        why = "is not a symmetry operation (determinant of its matrix is not +-1)";
        return std::nullopt;
    }
    return op;
}

/// Removes spaces, underscores and case so "P 21/c", "P2_1/c" and "p 21/C" compare equal.
std::string squash(const std::string& s) {
    std::string out;
    for (char c : s)
        if (!std::isspace(static_cast<unsigned char>(c)) && c != '_')
            out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

/// Operations of a space group given only by number, Hermann-Mauguin name and/or Hall symbol
/// (files without an operation loop), from spglib's database of the 530 settings through
/// structures/symmetry.hpp. Without a name the standard setting of the number is used, as ASE
/// does. A name picks among the settings of its number by short symbol plus an origin or axes
/// choice ("F d -3 m :2", "R -3 m :R", "R -3 m H") or by the monoclinic full form
/// ("C 1 2/c 1" = b axis unique). Settings that cannot be told apart this way (e.g.
/// "P 1 21/n 1") are an error rather than a silently wrong cell: such files must list their
/// operations.
std::vector<SymOp> database_ops(std::optional<int> number, const std::string& hm, const std::string& hall,
                                const std::string& source, std::size_t line) {
    std::vector<HallSetting> candidates;
    for (int h = 1; h <= 530; ++h) {
        HallSetting t = hall_setting(h);
        if (!number || t.number == *number) candidates.push_back(std::move(t));
    }
    auto chosen = [&]() -> std::optional<int> {
        if (!hall.empty()) {
            for (const auto& t : candidates)
                if (squash(t.hall_symbol) == squash(hall)) return t.hall_number;
            return std::nullopt;
        }
        if (hm.empty()) return candidates.empty() ? std::nullopt : std::optional<int>(candidates.front().hall_number);
        std::string name = hm, choice;
        if (const auto colon = name.find(':'); colon != std::string::npos) {
            choice = squash(name.substr(colon + 1));
            name = name.substr(0, colon);
        }
        auto words = text::split_ws(name);
        if (choice.empty() && words.size() > 1 && (words.back() == "H" || words.back() == "R") &&
            (words[0] == "R" || words[0] == "r")) {
            choice = squash(words.back());
            words.pop_back();
        }
        // Monoclinic full symbol: "P 1 21/c 1" -> short "P21/c" with unique axis b.
        std::string axis;
        if (words.size() == 4 && std::count(words.begin() + 1, words.end(), std::string("1")) == 2) {
            for (std::size_t k = 1; k < 4; ++k)
                if (words[k] != "1") {
                    axis = std::string(1, "abc"[k - 1]);
                    words = {words[0], words[k]};
                    break;
                }
        }
        std::string want;
        for (const auto& w : words) want += w;
        want = squash(want);
        for (const auto& t : candidates) {
            if (squash(t.international) != want) continue;
            if (!choice.empty() && squash(t.choice) != choice) continue;
            if (!axis.empty() && squash(t.choice).rfind(axis, 0) != 0) continue;
            return t.hall_number;
        }
        return std::nullopt;
    }();
    if (!chosen) {
        const bool one_setting = number && candidates.size() == 1;
        if (!one_setting)
            throw ParseError(source, line,
                             fmt::format("space group '{}'{} without symmetry operations: cannot tell which setting; "
                                         "add the _symmetry_equiv_pos_as_xyz loop", hall.empty() ? hm : hall,
                                         number ? fmt::format(" (number {})", *number) : ""));
        chosen = candidates.front().hall_number;
    }
    std::vector<SymOp> ops;
    for (const auto& [r, t] : space_group_operations(*chosen)) ops.push_back({r.cast<double>(), t});
    return ops;
}

std::vector<SymOp> symmetry_operations(const Block& b, const std::string& source) {
    for (const char* tag : {"_space_group_symop_operation_xyz", "_symmetry_equiv_pos_as_xyz"}) {
        const auto table = b.table(tag, tag);
        if (!table) continue;
        const int col = table->column(tag);
        std::vector<SymOp> ops;
        for (std::size_t r = 0; r < table->rows(); ++r) {
            const Value& v = table->at(r, col);
            std::string why;
            auto op = parse_symop(v.text, why);
            if (!op) throw ParseError(source, v.line, fmt::format("symmetry operation '{}' {}", v.text, why));
            ops.push_back(*op);
        }
        if (!ops.empty()) return ops;
    }
    // No operations listed: fall back on the space group the file names, if any.
    std::optional<int> number;
    std::size_t line = b.line;
    for (const char* tag : {"_space_group_it_number", "_symmetry_int_tables_number"})
        if (const Value* v = b.item(tag); v && !is_missing(*v)) {
            const auto n = text::parse_int(v->text);
            if (!n || *n < 1 || *n > 230) throw ParseError(source, v->line, fmt::format("space group number '{}' is not 1-230", v->text));
            number = static_cast<int>(*n);
            line = v->line;
            break;
        }
    std::string hm, hall;
    for (const char* tag : {"_space_group_name_h-m_alt", "_symmetry_space_group_name_h-m", "_space_group_name_h-m"})
        if (const Value* v = b.item(tag); v && !is_missing(*v)) {
            hm = v->text;
            line = v->line;
            break;
        }
    for (const char* tag : {"_space_group_name_hall", "_symmetry_space_group_name_hall"})
        if (const Value* v = b.item(tag); v && !is_missing(*v)) {
            hall = v->text;
            break;
        }
    if ((!number || *number == 1) && (hm.empty() || squash(hm) == "p1") && hall.empty()) return {SymOp{Eigen::Matrix3d::Identity(), {0, 0, 0}}};
    return database_ops(number, hm, hall, source, line);
}

// ---------------------------------------------------------------------------------------------
// Reading

struct Site {
    std::string name;  ///< _atom_site_label, for messages
    std::string species;
    Eigen::Vector3d frac;
    double occupancy = 1.0;
    bool fixed = false;
    int layer = -1;
    std::string label;
    std::size_t line = 0;
};

/// Fractional coordinate wrapped into [0, 1).
double wrap01(double x) {
    x -= std::floor(x);
    return x >= 1.0 ? 0.0 : x;
}

Structure read_cif(std::istream& in, const std::string& source) {
    const auto blocks = parse_blocks(tokenize(in, source), source);
    if (blocks.empty()) throw ParseError(source, 0, "no 'data_' block: not a CIF file");

    // A file may hold several blocks (a publication block, then the structures): take the
    // first that lists atoms.
    const Block* block = nullptr;
    std::optional<Loop> atoms;
    bool cartesian = false;
    for (const auto& b : blocks) {
        if ((atoms = b.table("_atom_site_fract_x", "_atom_site_"))) {
            block = &b;
            break;
        }
        if ((atoms = b.table("_atom_site_cartn_x", "_atom_site_"))) {
            block = &b;
            cartesian = true;
            break;
        }
    }
    if (!block) throw ParseError(source, 0, "no data block lists atoms (_atom_site_fract_x/y/z)");
    const Block& b = *block;

    // Cell; the angles default to 90 degrees as in the CIF core dictionary.
    std::array<double, 6> par{0, 0, 0, 90, 90, 90};
    std::size_t cell_line = b.line;
    const char* cell_tags[] = {"_cell_length_a", "_cell_length_b", "_cell_length_c",
                               "_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma"};
    for (std::size_t k = 0; k < 6; ++k) {
        const Value* v = b.item(cell_tags[k]);
        const auto x = v ? cif_number(*v, cell_tags[k], source) : std::nullopt;
        if (x) {
            par[k] = *x;
            cell_line = v->line;
        } else if (k < 3) {
            throw ParseError(source, v ? v->line : b.line, fmt::format("data_{} has no value for {}", b.name, cell_tags[k]));
        }
        if (!(par[k] > 0) || (k >= 3 && par[k] >= 180) || par[k] > kMaxMagnitude)
            throw ParseError(source, v ? v->line : b.line, fmt::format("{} = {} is out of range", cell_tags[k], par[k]));
    }
    Eigen::Matrix3d lattice;
    try {
        lattice = lattice_from_parameters(par[0], par[1], par[2], par[3], par[4], par[5]);
    } catch (const StructureError& e) {
        throw ParseError(source, cell_line, e.what());
    }

    // The asymmetric unit.
    const std::string axes = cartesian ? "cartn" : "fract";
    int xyz[3];
    for (int k = 0; k < 3; ++k) {
        const std::string tag = fmt::format("_atom_site_{}_{}", axes, "xyz"[k]);
        xyz[k] = atoms->column(tag);
        if (xyz[k] < 0) throw ParseError(source, atoms->line, fmt::format("the atom_site loop has no {}", tag));
    }
    const int c_label = atoms->column("_atom_site_label");
    const int c_type = atoms->column("_atom_site_type_symbol");
    const int c_occ = atoms->column("_atom_site_occupancy");
    const int c_fixed = atoms->column("_atom_site_interphase_fixed");
    const int c_layer = atoms->column("_atom_site_interphase_layer");
    const int c_tag = atoms->column("_atom_site_interphase_label");
    if (c_label < 0 && c_type < 0)
        throw ParseError(source, atoms->line, "the atom_site loop has neither _atom_site_type_symbol nor _atom_site_label");

    std::vector<Site> sites;
    for (std::size_t r = 0; r < atoms->rows(); ++r) {
        Site s;
        s.line = atoms->at(r, xyz[0]).line;
        s.name = c_label >= 0 ? atoms->at(r, c_label).text : fmt::format("site {}", r + 1);
        std::optional<std::string> el;
        if (c_type >= 0 && !is_missing(atoms->at(r, c_type))) el = element_prefix(atoms->at(r, c_type).text);
        else if (c_label >= 0) el = element_prefix(atoms->at(r, c_label).text);
        if (!el)
            throw ParseError(source, s.line, fmt::format("cannot tell the element of atom site '{}'{}", s.name,
                                                         c_type >= 0 ? fmt::format(" (type '{}')", atoms->at(r, c_type).text) : ""));
        s.species = *el;
        for (int k = 0; k < 3; ++k) {
            const auto x = cif_number(atoms->at(r, xyz[k]), fmt::format("coordinate {} of site '{}'", "xyz"[k], s.name), source);
            if (!x) throw ParseError(source, s.line, fmt::format("site '{}' has an unknown ('?') coordinate", s.name));
            s.frac[k] = *x;
        }
        if (cartesian) s.frac = lattice.transpose().partialPivLu().solve(Eigen::Vector3d(s.frac));
        if (!s.frac.allFinite() || s.frac.cwiseAbs().maxCoeff() > kMaxMagnitude)
            throw ParseError(source, s.line, fmt::format("site '{}' lies more than {:g} cells away", s.name, kMaxMagnitude));
        if (c_occ >= 0)
            if (const auto occ = cif_number(atoms->at(r, c_occ), fmt::format("occupancy of site '{}'", s.name), source)) {
                if (*occ < 0 || *occ > 1 + kOccupancyTolerance)
                    throw ParseError(source, atoms->at(r, c_occ).line,
                                     fmt::format("occupancy {} of site '{}' is outside [0, 1]", *occ, s.name));
                s.occupancy = std::min(*occ, 1.0);
            }
        if (c_fixed >= 0 && !is_missing(atoms->at(r, c_fixed))) s.fixed = atoms->at(r, c_fixed).text == "1";
        if (c_layer >= 0 && !is_missing(atoms->at(r, c_layer))) {
            const auto n = text::parse_int(atoms->at(r, c_layer).text);
            if (!n || *n < -1 || *n > 1'000'000)
                throw ParseError(source, s.line, fmt::format("layer '{}' of site '{}' is not an integer", atoms->at(r, c_layer).text, s.name));
            s.layer = static_cast<int>(*n);
        }
        if (c_tag >= 0 && !is_missing(atoms->at(r, c_tag))) s.label = atoms->at(r, c_tag).text;
        sites.push_back(std::move(s));
    }

    if (sites.empty()) throw ParseError(source, atoms->line, "the atom_site loop lists no atoms");

    // Expand with the symmetry operations, dropping images that land on an atom already
    // placed. Images are looked up in a coarse grid of the unit cube so that large cells with
    // 192 operations stay fast.
    const auto ops = symmetry_operations(b, source);
    constexpr int kGrid = 16;
    auto cell_of = [](double x) { return std::min(kGrid - 1, static_cast<int>(x * kGrid)); };
    auto key = [](int i, int j, int k) {
        auto m = [](int v) { return (v % kGrid + kGrid) % kGrid; };
        return (m(i) * kGrid + m(j)) * kGrid + m(k);
    };
    std::unordered_map<int, std::vector<std::size_t>> grid;
    std::vector<std::pair<const Site*, Eigen::Vector3d>> placed;
    for (const auto& site : sites) {
        for (const auto& op : ops) {
            Eigen::Vector3d p = op.rotation * site.frac + op.translation;
            for (int k = 0; k < 3; ++k) p[k] = wrap01(p[k]);
            const int gi = cell_of(p[0]), gj = cell_of(p[1]), gk = cell_of(p[2]);
            bool duplicate = false;
            for (int di = -1; di <= 1 && !duplicate; ++di)
                for (int dj = -1; dj <= 1 && !duplicate; ++dj)
                    for (int dk = -1; dk <= 1 && !duplicate; ++dk) {
                        const auto it = grid.find(key(gi + di, gj + dj, gk + dk));
                        if (it == grid.end()) continue;
                        for (std::size_t idx : it->second) {
                            Eigen::Vector3d d = p - placed[idx].second;
                            for (int k = 0; k < 3; ++k) d[k] -= std::round(d[k]);
                            if (d.cwiseAbs().maxCoeff() >= kDuplicateTolerance) continue;
                            const Site& other = *placed[idx].first;
                            if (other.species == site.species) {
                                duplicate = true;
                                break;
                            }
                            // Different elements on one position is a mixed (partially
                            // occupied) site; with full occupancies it is a broken file.
                            if (site.occupancy >= 1.0 && other.occupancy >= 1.0)
                                throw ParseError(source, site.line,
                                                 fmt::format("sites '{}' ({}) and '{}' ({}) put atoms on the same position "
                                                             "({:.4f}, {:.4f}, {:.4f}), both fully occupied",
                                                             other.name, other.species, site.name, site.species,
                                                             p[0], p[1], p[2]));
                        }
                    }
            if (duplicate) continue;
            grid[key(gi, gj, gk)].push_back(placed.size());
            placed.emplace_back(&site, p);
        }
    }

    Structure s(lattice);
    s.title = b.name;
    bool partial = false;
    nlohmann::json occupancies = nlohmann::json::array();
    for (const auto& [site, p] : placed) {
        Atom& a = s.add_atom(site->species, p);
        a.fixed = site->fixed;
        a.layer = site->layer;
        a.label = site->label;
        occupancies.push_back(site->occupancy);
        partial |= site->occupancy < 1.0;
    }
    // Structure has no per-atom occupancy; keep them in info (one per atom) only when they
    // matter, so ordinary ordered structures stay free of noise.
    if (partial) s.info["occupancies"] = std::move(occupancies);
    return s;
}

// ---------------------------------------------------------------------------------------------
// Writing

/// A CIF value: bare when unambiguous, quoted otherwise; '.' for an empty string.
std::string cif_string(const std::string& v) {
    if (v.empty()) return ".";
    const std::string lower = text::to_lower(v);
    const bool plain = std::none_of(v.begin(), v.end(), [](char c) { return std::isspace(static_cast<unsigned char>(c)); }) &&
                       std::string("_#$'\"[];").find(v[0]) == std::string::npos && v != "." && v != "?" &&
                       lower.rfind("data_", 0) != 0 && lower.rfind("save_", 0) != 0 && lower != "loop_" &&
                       lower != "global_" && lower != "stop_";
    if (plain) return v;
    std::string clean = v;
    for (auto& c : clean)
        if (c == '\n' || c == '\r' || c == '\t') c = ' ';
    // A quote only closes when followed by a blank, so it is safe inside unless that happens.
    if (clean.find("' ") == std::string::npos && clean.back() != '\'') return "'" + clean + "'";
    if (clean.find("\" ") == std::string::npos && clean.back() != '"') return "\"" + clean + "\"";
    std::replace(clean.begin(), clean.end(), ' ', '_');
    return clean;
}

void write_cif(std::ostream& out, const Structure& s) {
    std::string name = s.title.empty() ? s.formula() : s.title;
    for (auto& c : name)
        if (!std::isgraph(static_cast<unsigned char>(c))) c = '_';

    std::vector<double> occ(s.size(), 1.0);
    if (const auto it = s.info.find("occupancies"); it != s.info.end() && it->is_array() && it->size() == s.size())
        for (std::size_t i = 0; i < s.size(); ++i)
            if ((*it)[i].is_number()) occ[i] = (*it)[i].get<double>();
    bool any_fixed = false, any_layer = false, any_label = false;
    for (const auto& a : s.atoms()) {
        any_fixed |= a.fixed;
        any_layer |= a.layer >= 0;
        any_label |= !a.label.empty();
    }

    const auto p = s.parameters();
    out << "# Written by Interphase: P1 cell, all atoms listed\n";
    out << "data_" << name << "\n";
    out << "_symmetry_space_group_name_H-M    'P 1'\n";
    out << "_symmetry_Int_Tables_number       1\n\n";
    out << "loop_\n  _symmetry_equiv_pos_as_xyz\n  'x, y, z'\n\n";
    const char* cell_tags[] = {"_cell_length_a", "_cell_length_b", "_cell_length_c",
                               "_cell_angle_alpha", "_cell_angle_beta", "_cell_angle_gamma"};
    for (std::size_t k = 0; k < 6; ++k) out << fmt::format("{:<20}{:.12f}\n", cell_tags[k], p[k]);
    out << "\nloop_\n  _atom_site_label\n  _atom_site_type_symbol\n"
           "  _atom_site_fract_x\n  _atom_site_fract_y\n  _atom_site_fract_z\n  _atom_site_occupancy\n";
    // Interphase's own tags in local columns; other programs ignore unknown columns.
    if (any_fixed) out << "  _atom_site_interphase_fixed\n";
    if (any_layer) out << "  _atom_site_interphase_layer\n";
    if (any_label) out << "  _atom_site_interphase_label\n";
    std::map<std::string, int> count;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto& a = s[i];
        out << fmt::format("  {:<6} {:<3} {:16.12f} {:16.12f} {:16.12f} {:<6}",
                           a.species + std::to_string(++count[a.species]), a.species, a.frac[0], a.frac[1], a.frac[2],
                           fmt::format("{}", occ[i]));  // shortest exact form: 1, 0.5, 0.333...
        if (any_fixed) out << (a.fixed ? "  1" : "  0");
        if (any_layer) out << "  " << (a.layer >= 0 ? std::to_string(a.layer) : ".");
        if (any_label) out << "  " << cif_string(a.label);
        out << '\n';
    }
}

}  // namespace

FileFormat cif_format() {
    return {"cif",
            "CIF 1.1: read with symmetry expansion and occupancies; written as P1",
            {".cif"},
            {},
            read_cif,
            write_cif};
}

}  // namespace interphase::structures
