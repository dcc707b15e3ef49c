// The min/max mix as pure Halide definitions: the render x_hat = m A + (1 - m) B with
// m = sigmoid(logit), its mean squared error against a target, and the loss's analytic gradients
// with respect to the logits and to the two blurs' sigmas. Nothing here schedules.
#pragma once

#include "Halide.h"
#include "row_sums.h"

namespace blurmix::gen {

using namespace Halide;

inline Expr sigmoid(Expr l) { return 1.f / (1.f + exp(-l)); }

// sigmoid through Halide's polynomial fast_exp (about 2^-18 relative error), which vectorizes
// cleanly; the clamp keeps it away from overflow, where sigmoid is 0 or 1 in float anyway. The
// fused fits' steps use it.
inline Expr fast_sigmoid(Expr l) { return 1.f / (1.f + fast_exp(-clamp(l, -80.f, 80.f))); }

// N, the number of values that a mean squared error averages: pixels times channels.
inline Expr value_count(Expr width, Expr height, Expr channels) {
    return cast<float>(width) * cast<float>(height) * cast<float>(channels);
}

struct Mix {
    Func weight;    // m(x, y)
    Func output;    // x_hat(x, y, c)
    Func residual;  // x_hat - target
    Func row_loss;  // sum over x and c of residual^2, per row y (float; rows add in double)
    Func loss;      // () mean squared error
    Func d_weight;  // (x, y) d loss / d m, summed over channels
    Func d_logit;   // (x, y) d loss / d logit; its sum (map_total) is the gradient of one
                    // global logit broadcast to every pixel
};

inline Mix mix(Func a, Func b, Func logit, Func target, Expr width, Expr height, Expr channels) {
    Var x("x"), y("y"), c("c");
    Mix m;
    Expr n = value_count(width, height, channels);
    m.weight = Func("weight");
    m.weight(x, y) = sigmoid(logit(x, y));
    m.output = Func("mixed");
    Expr w = m.weight(x, y);
    m.output(x, y, c) = w * a(x, y, c) + (1.f - w) * b(x, y, c);
    m.residual = Func("residual");
    m.residual(x, y, c) = m.output(x, y, c) - target(x, y, c);

    RDom rxc(0, width, 0, channels, "rxc");
    m.row_loss = Func("row_loss");
    m.row_loss(y) = 0.f;
    m.row_loss(y) += m.residual(rxc.x, y, rxc.y) * m.residual(rxc.x, y, rxc.y);
    m.loss = Func("loss");
    m.loss() = cast<float>(column_total(m.row_loss, height, "loss_total")() / cast<double>(n));

    RDom rc(0, channels, "rc");
    m.d_weight = Func("d_weight");
    m.d_weight(x, y) = 0.f;
    m.d_weight(x, y) += (2.f / n) * m.residual(x, y, rc) * (a(x, y, rc) - b(x, y, rc));
    m.d_logit = Func("d_logit");
    m.d_logit(x, y) = m.d_weight(x, y) * w * (1.f - w);
    return m;
}

// d loss / d sigma for each blur, given the blurs' sigma derivatives dA, dB:
// sum over pixels of (2/N) residual * (m dA) and (2/N) residual * ((1 - m) dB).
struct SigmaGrad {
    Func rows;              // (i, y): i = 0 for sigma_min, 1 for sigma_max; partial sums per row
    Func d_sigma_min, d_sigma_max;
};

inline SigmaGrad sigma_grad(const Mix &m, Func da, Func db, Expr width, Expr height, Expr channels) {
    Var y("y"), i("i");
    Expr n = value_count(width, height, channels);
    RDom rxc(0, width, 0, channels, "rxc");
    Expr w = m.weight(rxc.x, y);
    Expr r = (2.f / n) * m.residual(rxc.x, y, rxc.y);
    SigmaGrad s;
    s.rows = Func("sigma_grad_rows");
    s.rows(i, y) = 0.f;
    s.rows(i, y) += r * select(i == 0, w * da(rxc.x, y, rxc.y), (1.f - w) * db(rxc.x, y, rxc.y));
    Func total = column_total(s.rows, height, "sigma_grad_total");
    s.d_sigma_min = Func("d_sigma_min");
    s.d_sigma_min() = cast<float>(total(0));
    s.d_sigma_max = Func("d_sigma_max");
    s.d_sigma_max() = cast<float>(total(1));
    return s;
}

}  // namespace blurmix::gen
