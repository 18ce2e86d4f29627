// Zur–McGill lattice matching (A. Zur, T. C. McGill, J. Appl. Phys. 55, 378 (1984)): finds
// supercells of two surface lattices whose reduced vectors agree in length and angle within
// tolerances, so that one crystal can be strained onto the other with a small coherent strain.
//
// The semantics are those of pymatgen's ZSLGenerator (pymatgen.analysis.interfaces.zsl,
// 2022.11), so that the same inputs give the same matches: the same defaults, the same
// enumeration of supercells (area multiples i, j whose ratio is within max_area_ratio_tol of
// the area ratio, each multiple expanded into its Hermite-normal-form matrices), the same
// Zur reduction of the supercell vectors and the same length/angle test (is_same_vectors).
// pymatgen calls the strained crystal the "film" and the other the "substrate"; the names are
// kept here. Every matching (film supercell, substrate supercell) pair is reported, as
// ZSLGenerator yields it; symmetry-equivalent matches are merged later by the interface
// builder (structures/interface.hpp), not here.
#pragma once

#include <Eigen/Dense>
#include <array>
#include <optional>
#include <vector>

namespace interphase::structures {

/// Two in-plane lattice vectors (Cartesian, Å); the third component may be anything (the
/// vectors of a slab cell are 3D), only lengths, angles and areas are used.
using PlaneVectors = std::array<Eigen::Vector3d, 2>;

/// Tolerances of the search; the defaults are ZSLGenerator's.
struct ZslSettings {
    double max_area_ratio_tol = 0.09;  ///< |A_film/A_sub - j/i| below this keeps the multiples (i, j)
    double max_area = 400;             ///< Å², supercells are enumerated below this area (exclusive)
    double max_length_tol = 0.03;      ///< |len_sub/len_film - 1| of each reduced vector
    double max_angle_tol = 0.01;       ///< |angle_sub/angle_film - 1| between the reduced vectors
    bool bidirectional = false;        ///< also accept the test with film and substrate swapped
};

/// One match, with pymatgen's ZSLMatch fields and the integer matrices a scientist needs.
struct ZslMatch {
    PlaneVectors film_sl_vectors;       ///< reduced supercell vectors of the film (Å)
    PlaneVectors substrate_sl_vectors;  ///< reduced supercell vectors of the substrate (Å)
    /// ZSL's enumeration matrices [[p, q], [0, n/p]] (rows act on the unit-cell vectors).
    Eigen::Matrix2i film_transformation, substrate_transformation;
    /// Integer matrices M with sl_vectors[i] = sum_j M(i, j) * unit_vectors[j] (after reduction).
    Eigen::Matrix2i film_supercell, substrate_supercell;
    int film_multiple = 0, substrate_multiple = 0;  ///< area multiples i, j of the unit cells
    double film_area = 0, substrate_area = 0;       ///< Å² of the supercells (match_area = film_area)
    std::array<double, 2> length_strain{};          ///< rel_strain of each reduced vector (film -> substrate)
    double angle_strain = 0;                        ///< rel_angle (film -> substrate)
};

/// Area of the parallelogram spanned by two vectors (Å²).
double plane_area(const PlaneVectors& v);
/// Angle between two vectors (radians), atan2(|a x b|, a.b) as pymatgen's vec_angle.
double vector_angle(const Eigen::Vector3d& a, const Eigen::Vector3d& b);
/// Zur–McGill reduction (pymatgen's reduce_vectors): a.b >= 0, |a| <= |b|, |b| <= |b ± a|.
PlaneVectors zur_reduce(const Eigen::Vector3d& a, const Eigen::Vector3d& b);
/// The matrices [[p, q], [0, n/p]] (p divides n, 0 <= q < n/p): every supercell of index n once.
std::vector<Eigen::Matrix2i> supercell_transformations(int n);
/// Pairs of area multiples (film i, substrate j) that ZSLGenerator considers, in its order
/// (increasing i*j; ties by i, which pymatgen leaves to Python's set order).
std::vector<std::pair<int, int>> area_multiple_pairs(double film_area, double substrate_area, const ZslSettings& s);
/// is_same_vectors of ZSLGenerator on two reduced vector pairs (film, substrate).
bool is_same_vectors(const PlaneVectors& film, const PlaneVectors& substrate, const ZslSettings& s);

/// All matches, in ZSLGenerator's order (by area multiples, then film transformation, then
/// substrate transformation). Throws InputError (source "zsl") for degenerate vectors or
/// non-positive tolerances.
std::vector<ZslMatch> zsl_matches(const PlaneVectors& film, const PlaneVectors& substrate, const ZslSettings& s = {});

/// The best compromise when nothing matches: among supercell pairs below `max_area` (with the
/// same area-ratio rule), the one with the smallest misfit max(|length strains|, |angle
/// strain|) (in the more favourable direction when bidirectional), ties to the smaller area.
/// Candidates with a misfit above `misfit_cap` are ignored (nullopt when none is left).
std::optional<ZslMatch> zsl_closest(const PlaneVectors& film, const PlaneVectors& substrate, const ZslSettings& s,
                                    double max_area, double misfit_cap = 0.25);
/// max(|length strains|, |angle strain|) of a match, the smaller of the two directions when
/// bidirectional (the quantity zsl_closest minimises).
double zsl_misfit(const ZslMatch& m, bool bidirectional);

}  // namespace interphase::structures
