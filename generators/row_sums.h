// Sums over an image as pure Halide definitions: each row summed in float (vectorizable), the
// rows added in double so that a 4-megapixel sum keeps its digits. The losses, the penalty, the
// moments' totals and the gradients of global parameters are all such sums; schedule.h schedules
// the row sums.
#pragma once

#include "Halide.h"

namespace blurmix::gen {

using namespace Halide;

// total(v...) = sum over the rows y in [0, height) of rows(v..., y), in double.
inline Func column_total(Func rows, Expr height, const std::string &name) {
    std::vector<Var> kept = rows.args();
    kept.pop_back();  // the row
    RDom ry(0, height, name + "_ry");
    std::vector<Expr> at(kept.begin(), kept.end());
    at.push_back(ry);
    Func t(name);
    t(kept) = cast<double>(0);
    t(kept) += cast<double>(rows(at));
    return t;
}

// The sum over x in [0, width) and the rows of f(x, y, v...): rows(v..., y) in float, then
// total(v...) = column_total(rows).
struct MapTotal {
    Func rows, total;
};

inline MapTotal map_total(Func f, Expr width, Expr height, const std::string &name) {
    const std::vector<Var> args = f.args();  // x, y, v...
    Var y = args[1];
    RDom rx(0, width, name + "_rx");
    std::vector<Var> row(args.begin() + 2, args.end());
    std::vector<Expr> at = {rx, y};
    at.insert(at.end(), row.begin(), row.end());
    row.push_back(y);
    MapTotal t;
    t.rows = Func(name + "_rows");
    t.rows(row) = 0.f;
    t.rows(row) += f(at);
    t.total = column_total(t.rows, height, name);
    return t;
}

}  // namespace blurmix::gen
