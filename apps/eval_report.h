// What an evaluation (evaluate.h) shows: its table and its pictures, for `eval` and for the
// demo's experiment D.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "evaluate.h"

namespace blurmix {

// The files save_eval_pictures writes for an evaluation by min/max and by stacks of each of
// scales: PREFIXeval.png (true blur and fits), PREFIXeval_sigma.png, PREFIXeval_error.png (grey
// panels), PREFIXsigma_true.png and PREFIXsigma_*.png, PREFIXerror_*.png (colour maps; * is
// minmax or kK).
std::vector<std::string> eval_picture_names(const std::string &prefix, const std::vector<int> &scales);
// Writes them in dir; ev's methods are min/max and then one stack per entry of scales.
void save_eval_pictures(const std::string &dir, const std::string &prefix, const Evaluation &ev, const Map &truth,
                        float s_min, float s_max);
// The table that eval prints.
void print_eval_table(FILE *text, const Evaluation &ev);

}  // namespace blurmix
