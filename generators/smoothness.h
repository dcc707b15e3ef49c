// The K-scale fit's optional smoothness penalty on the scale map, as pure Halide definitions: its
// value and its gradient. Nothing here schedules.
#pragma once

#include "Halide.h"
#include "definitions.h"
#include "row_sums.h"

namespace blurmix::gen {

using namespace Halide;

// Smoothness of a map q over 4-neighbour pairs, with a user weight lambda:
//   P = lambda / (W H) * sum over horizontal and vertical neighbour pairs of phi(q_a - q_b)
// phi = sqrt(d^2 + eps^2) - eps (Penalty::tv: total variation, rounded at 0 so that its gradient
// is defined and Adamax does not flip at d = 0) or d^2 (Penalty::quadratic). P is on
// q = u / (K - 1), the scale position in [0, 1], so that one lambda means the same for every K
// (for K = 2, q = 1 - m: the same as a penalty on the seed's weights). `kind` is a Penalty's int
// value.
constexpr float kTvEps = 1e-3f;

struct Smoothness {
    Func dh, dv;         // (x, y): q(x+1, y) - q(x, y) and q(x, y+1) - q(x, y)
    Func pair_penalty;   // (x, y): phi of the pairs (x, y)-(x+1, y) and (x, y)-(x, y+1)
    Func row_penalty;    // per row
    Func penalty;        // ()
    Func dphi;           // (x, y): {phi'(dh), phi'(dv)}
    Func d_q;            // (x, y)
};

inline Expr penalty_phi(Expr d, Expr kind) {
    return select(kind == (int)Penalty::quadratic, d * d, sqrt(d * d + kTvEps * kTvEps) - kTvEps);
}

inline Expr penalty_dphi(Expr d, Expr kind) {
    return select(kind == (int)Penalty::quadratic, 2.f * d, d / sqrt(d * d + kTvEps * kTvEps));
}

inline Smoothness smoothness(Func q, Expr width, Expr height, Expr kind, Expr lambda) {
    Var x("x"), y("y");
    Smoothness s;
    Expr none = kind == (int)Penalty::none;
    Expr scale = select(none, 0.f, lambda / (cast<float>(width) * cast<float>(height)));
    // q repeated past the edges makes every difference that leaves the image 0 (and phi(0) = 0),
    // so the edges need no cases.
    Func qe = BoundaryConditions::repeat_edge(q, {{0, width}, {0, height}});
    s.dh = Func("smooth_dh");
    s.dh(x, y) = qe(x + 1, y) - qe(x, y);
    s.dv = Func("smooth_dv");
    s.dv(x, y) = qe(x, y + 1) - qe(x, y);
    s.pair_penalty = Func("smooth_pair_penalty");
    s.pair_penalty(x, y) = penalty_phi(s.dh(x, y), kind) + penalty_phi(s.dv(x, y), kind);
    // Without a penalty the row sums are empty.
    MapTotal total = map_total(s.pair_penalty, select(none, 0, width), height, "smooth_total");
    s.row_penalty = total.rows;
    s.penalty = Func("smooth_penalty");
    s.penalty() = cast<float>(total.total() * cast<double>(scale));
    // phi' of each pixel's two pairs, once: each enters the gradients of both its pixels.
    s.dphi = Func("smooth_dphi");
    s.dphi(x, y) = {penalty_dphi(s.dh(x, y), kind), penalty_dphi(s.dv(x, y), kind)};
    s.d_q = Func("smooth_d_q");
    s.d_q(x, y) = scale * (s.dphi(x - 1, y)[0] - s.dphi(x, y)[0] + s.dphi(x, y - 1)[1] - s.dphi(x, y)[1]);
    return s;
}

}  // namespace blurmix::gen
