// The seed's experiments A, B and C against what the PyTorch reference printed (data/expected.json).
#include <catch2/catch.hpp>

#include <fstream>
#include <nlohmann/json.hpp>

#include "experiments.h"
#include "test_util.h"

namespace {

nlohmann::json expected() {
    std::ifstream f(test::data("expected.json"));
    REQUIRE(f.good());
    return nlohmann::json::parse(f);
}

// Options that record the loss at every iteration the table lists.
blurmix::FitOptions recording(const nlohmann::json &table, bool fused) {
    blurmix::FitOptions opt;
    opt.fused = fused;
    for (auto &[iter, value] : table.items()) opt.loss_at.push_back(std::stoi(iter));
    return opt;
}

void check_losses(const blurmix::FitResult &r, const nlohmann::json &table) {
    REQUIRE(table.size() >= 10);
    for (auto &[iter, value] : table.items()) {
        INFO("iteration " << iter);
        CHECK(blurmix::loss_at(r, std::stoi(iter)) == Approx(value.get<double>()).epsilon(0.01));
    }
}

}  // namespace

TEST_CASE("the built-in signal is the seed's", "[experiments]") {
    blurmix::Image built_in = blurmix::seed_signal();
    blurmix::Image file = blurmix::load_image(test::data("signal_64x64.npy"));
    REQUIRE(built_in.width() == 64);
    REQUIRE(built_in.height() == 64);
    CHECK(test::max_abs_diff(built_in, file) == 0.0);
}

TEST_CASE("experiment A: mix of blur 1 and 5 against blur 3", "[experiments]") {
    auto e = blurmix::experiment_a(blurmix::seed_signal());
    CHECK(e.mse == Approx(expected()["A"]["mse_mix_vs_true"].get<double>()).epsilon(0.01));
}

TEST_CASE("experiment B: global fit recovers sigma 3", "[experiments]") {
    nlohmann::json b = expected()["B"];
    for (bool fused : {true, false}) {
        INFO((fused ? "fused" : "step by step"));
        auto e = blurmix::experiment_b(blurmix::seed_signal(), recording(b["loss"], fused));
        check_losses(e.fit, b["loss"]);
        CHECK(e.recovered_sigma == Approx(b["recovered_sigma"].get<double>()).margin(0.005));
        CHECK(e.weight == Approx(b["final_weight"].get<double>()).margin(0.001));
    }
}

TEST_CASE("experiment C: local fit of a left/right target", "[experiments]") {
    nlohmann::json c = expected()["C"];
    for (bool fused : {true, false}) {
    INFO((fused ? "fused" : "step by step"));
    auto e = blurmix::experiment_c(blurmix::seed_signal(), recording(c["loss"], fused));
    blurmix::Image target_file = blurmix::load_image(test::data("target_local_4_7.npy"));
    CHECK(test::max_abs_diff(e.target, target_file) < 1e-6);
    check_losses(e.fit, c["loss"]);
    CHECK(e.sigma_left_mean == Approx(c["sigma_left_mean"].get<double>()).margin(0.02));
    CHECK(e.sigma_right_mean == Approx(c["sigma_right_mean"].get<double>()).margin(0.02));
    // The weight map itself, against the one the notebook fitted.
    blurmix::Map weights = blurmix::load_map(test::data("local_fit_weights.npy"));
    double worst = 0;
    weights.for_each_element([&](int x, int y) { worst = std::max(worst, (double)std::abs(weights(x, y) - e.fit.weights(x, y))); });
    CHECK(worst < 0.05);
    }
}
