// Numbers for the benchmarks' tables: fixed notation with a given number of digits after the
// point, and NaN (a figure not measured) as an empty cell.
#pragma once

#include <cmath>
#include <sstream>
#include <string>

namespace blurmix {

inline std::string fixed_digits(double v, int digits) {
    if (std::isnan(v)) return "";
    std::ostringstream s;
    s.setf(std::ios::fixed);
    s.precision(digits);
    s << v;
    return s.str();
}

}  // namespace blurmix
