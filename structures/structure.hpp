// Structure: the crystal (or slab, or molecule in a box) that every part of Interphase passes
// around. A lattice (rows are the cell vectors a, b, c in Å, as in ASE), atoms with fractional
// coordinates, per-atom tags a scientist needs for slabs and interfaces (fixed, layer, label)
// and free-form metadata (`info`: Miller index, termination, provenance...).
#pragma once

#include <Eigen/Dense>
#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace interphase::structures {

/// One atom of a Structure.
struct Atom {
    std::string species;          ///< chemical symbol, e.g. "Li"
    Eigen::Vector3d frac{0, 0, 0}; ///< fractional coordinates in the lattice basis
    bool fixed = false;           ///< held fixed in relaxations (e.g. bottom slab layers)
    int layer = -1;               ///< slab layer counted from the bottom (0), -1 when not a slab atom
    std::string label;            ///< free tag: "adsorbate", "A"/"B" interface side, Wyckoff label...
};

class Structure {
public:
    Structure() = default;
    explicit Structure(const Eigen::Matrix3d& lattice, std::array<bool, 3> pbc = {true, true, true});

    /// Rows are the cell vectors a, b, c in Å.
    const Eigen::Matrix3d& lattice() const noexcept { return lattice_; }
    /// Replaces the lattice; with keep_cartesian the atoms keep their Cartesian positions.
    void set_lattice(const Eigen::Matrix3d& lattice, bool keep_cartesian = false);
    const std::array<bool, 3>& pbc() const noexcept { return pbc_; }
    void set_pbc(std::array<bool, 3> pbc) noexcept { pbc_ = pbc; }

    std::vector<Atom>& atoms() noexcept { return atoms_; }
    const std::vector<Atom>& atoms() const noexcept { return atoms_; }
    std::size_t size() const noexcept { return atoms_.size(); }
    const Atom& operator[](std::size_t i) const { return atoms_.at(i); }
    Atom& operator[](std::size_t i) { return atoms_.at(i); }

    Atom& add_atom(const std::string& species, const Eigen::Vector3d& frac);
    Atom& add_atom_cartesian(const std::string& species, const Eigen::Vector3d& cart);

    Eigen::Vector3d cartesian(std::size_t i) const;
    Eigen::Vector3d to_cartesian(const Eigen::Vector3d& frac) const { return lattice_.transpose() * frac; }
    Eigen::Vector3d to_fractional(const Eigen::Vector3d& cart) const;

    double volume() const;                  ///< Å^3
    double density() const;                 ///< g/cm^3
    std::map<std::string, int> composition() const;
    /// Hill-ordered formula with counts, e.g. "Li8S4"; reduced=true gives "Li2S".
    std::string formula(bool reduced = false) const;
    /// Lattice lengths (Å) and angles (degrees).
    std::array<double, 6> parameters() const;

    /// Wraps fractional coordinates into [0, 1) along periodic directions.
    void wrap();
    /// Minimum-image distance between atoms i and j (Å).
    double distance(std::size_t i, std::size_t j) const;
    /// Minimum-image Cartesian vector from point a to point b (fractional inputs).
    Eigen::Vector3d minimum_image(const Eigen::Vector3d& frac_a, const Eigen::Vector3d& frac_b) const;
    /// Smallest interatomic distance in the structure (minimum image), infinity for < 2 atoms.
    double min_interatomic_distance() const;

    /// Throws StructureError (prefixed with `source`) for a singular lattice, non-finite
    /// coordinates, unknown species, or atoms closer than min_distance Å.
    void validate(const std::string& source, double min_distance = 0.5) const;

    std::string title;                      ///< one-line comment (POSCAR line 1, CIF data name)
    nlohmann::json info = nlohmann::json::object();  ///< metadata (Miller index, shift, termination...)

private:
    Eigen::Matrix3d lattice_ = Eigen::Matrix3d::Identity();
    std::array<bool, 3> pbc_{true, true, true};
    std::vector<Atom> atoms_;
};

/// Cell vectors from lengths (Å) and angles (degrees) in the standard crystallographic
/// orientation (a along x, b in the xy plane), as ASE's cellpar_to_cell.
Eigen::Matrix3d lattice_from_parameters(double a, double b, double c, double alpha, double beta, double gamma);

}  // namespace interphase::structures

namespace interphase::structures {
/// Lossless JSON form (lattice rows, pbc, atoms with species/frac/fixed/layer/label, info, title);
/// used by the engine's store and as the ".json" structure format.
nlohmann::json to_json(const Structure& s);
/// Inverse of to_json; throws InputError naming `source` and the field on malformed input.
Structure structure_from_json(const nlohmann::json& j, const std::string& source);
}  // namespace interphase::structures
