// 12: the talk's "grid search hyperparameters": submit every point of a grid, take the scores as
// they finish, stop as soon as one is good enough and cancel the rest.
// Python: futures = [executor.submit(score, d, l) for d, l in grid]
//         for f in as_completed(futures):
//             if f.result() >= threshold: break
//         for f in futures: f.cancel()
//   12_grid_search --executor threads
//   12_grid_search --executor processes
// The model: ridge regression of y = sin(10x) + noise on Chebyshev features of degree d with
// penalty lambda, scored by the R^2 of 5-fold cross-validation on 10,000 points (a few ms per
// point of the grid; the noise caps R^2 near 0.922). The grid goes from simple models to complex
// ones, so the first good-enough score is also the simplest model that reaches it.
#include <fronta/fronta.hpp>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

constexpr double threshold = 0.92;  // cross-validated R^2 that is good enough

struct trial {
    int degree = 0;
    double lambda = 0;
    double score = 0;  // cross-validated R^2
    template <class Archive>
    void serialize(Archive& archive) {
        archive(degree, lambda, score);
    }
};

struct dataset {
    std::vector<double> x, y;
};

// The same 10,000 points in every process: each worker builds them once, on its first task.
const dataset& training_data() {
    static const dataset data = [] {
        dataset d;
        std::uint64_t state = 0x2545F4914F6CDD1Dull;
        auto uniform = [&] {  // xorshift64*, in [0, 1)
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            return double((state * 0x2545F4914F6CDD1Dull) >> 11) * 0x1.0p-53;
        };
        for (int i = 0; i < 10'000; ++i) {
            const double x = 2 * uniform() - 1;
            const double noise =
                0.2 * std::sqrt(-2 * std::log(1 - uniform())) * std::cos(6.283185307179586 * uniform());
            d.x.push_back(x);
            d.y.push_back(std::sin(10 * x) + noise);
        }
        return d;
    }();
    return data;
}

// Chebyshev polynomials T_0(x) .. T_degree(x): well conditioned on [-1, 1].
void features(double x, int degree, double* out) {
    out[0] = 1;
    if (degree > 0) out[1] = x;
    for (int k = 2; k <= degree; ++k) out[k] = 2 * x * out[k - 1] - out[k - 2];
}

// The task: fit on 4/5 of the points, score on the held-out fifth, five times; the mean R^2.
trial cross_validate(int degree, double lambda) {
    const dataset& data = training_data();
    const int p = degree + 1, folds = 5;
    const std::size_t n = data.x.size();
    std::vector<double> phi(p), a(p * p), b(p);
    double score = 0;
    for (int fold = 0; fold < folds; ++fold) {
        const std::size_t begin = n * fold / folds, end = n * (fold + 1) / folds;
        // Normal equations of ridge regression: (X'X + lambda I) w = X'y, over the training rows.
        std::fill(a.begin(), a.end(), 0.0);
        std::fill(b.begin(), b.end(), 0.0);
        for (std::size_t i = 0; i < n; ++i) {
            if (i >= begin && i < end) continue;
            features(data.x[i], degree, phi.data());
            for (int r = 0; r < p; ++r) {
                for (int c = 0; c <= r; ++c) a[r * p + c] += phi[r] * phi[c];
                b[r] += phi[r] * data.y[i];
            }
        }
        for (int r = 0; r < p; ++r) a[r * p + r] += lambda * double(n - (end - begin));  // lambda per row
        // Cholesky: a = L L' (in the lower triangle), then two triangular solves for w (in b).
        for (int j = 0; j < p; ++j) {
            for (int k = 0; k < j; ++k) a[j * p + j] -= a[j * p + k] * a[j * p + k];
            a[j * p + j] = std::sqrt(a[j * p + j]);
            for (int i = j + 1; i < p; ++i) {
                for (int k = 0; k < j; ++k) a[i * p + j] -= a[i * p + k] * a[j * p + k];
                a[i * p + j] /= a[j * p + j];
            }
        }
        for (int i = 0; i < p; ++i) {
            for (int k = 0; k < i; ++k) b[i] -= a[i * p + k] * b[k];
            b[i] /= a[i * p + i];
        }
        for (int i = p - 1; i >= 0; --i) {
            for (int k = i + 1; k < p; ++k) b[i] -= a[k * p + i] * b[k];
            b[i] /= a[i * p + i];
        }
        // R^2 on the held-out rows.
        double mean = 0, residual = 0, total = 0;
        for (std::size_t i = begin; i < end; ++i) mean += data.y[i];
        mean /= double(end - begin);
        for (std::size_t i = begin; i < end; ++i) {
            features(data.x[i], degree, phi.data());
            double predicted = 0;
            for (int k = 0; k < p; ++k) predicted += b[k] * phi[k];
            residual += (data.y[i] - predicted) * (data.y[i] - predicted);
            total += (data.y[i] - mean) * (data.y[i] - mean);
        }
        score += (1 - residual / total) / folds;
    }
    return {degree, lambda, score};
}
FRONTA_REMOTE(cross_validate);

fronta::executor make_executor(const std::string& kind) {
    if (kind == "threads") return fronta::thread_pool();
    if (kind == "processes") return fronta::process_pool();
    throw std::invalid_argument("unknown executor '" + kind + "' (threads or processes)");
}

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker processes are copies of this program: they stay in here
    std::string kind = "threads";
    bool whole_grid = false;  // --whole-grid: score every point, serially, and print them all
    for (int i = 1; i < argc; ++i) {
        if (std::string(argv[i]) == "--executor" && i + 1 < argc) kind = argv[i + 1];
        if (std::string(argv[i]) == "--whole-grid") whole_grid = true;
    }
    const std::vector<double> lambdas = {1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7};  // strong penalty (simpler) first
    if (whole_grid) {
        for (int degree = 2; degree <= 32; degree += 2)
            for (double lambda : lambdas) {
                const trial t = cross_validate(degree, lambda);
                std::printf("degree %2d lambda %-6g R^2 %.5f\n", t.degree, t.lambda, t.score);
            }
        return 0;
    }
    try {
        const auto start = std::chrono::steady_clock::now();
        fronta::executor pool = make_executor(kind);
        std::vector<fronta::future<trial>> futures;
        for (int degree = 2; degree <= 32; degree += 2)
            for (double lambda : lambdas) futures.push_back(pool.submit(cross_validate, degree, lambda));

        trial best;
        bool found = false;
        int seen = 0;
        for (const fronta::future<trial>& f : fronta::as_completed(futures)) {
            const trial& t = f.get();
            ++seen;
            if (t.score > best.score) best = t;
            if (t.score >= threshold) {
                found = true;
                break;  // good enough: stop taking results
            }
        }
        // Cancel what has not started; a task already running cannot be cancelled and finishes.
        // (pool.shutdown(/*wait=*/false, /*cancel_futures=*/true) does the same for the whole pool.)
        int cancelled = 0;
        for (const auto& f : futures) cancelled += f.cancel();  // true: it had not started, and never will
        int ran = 0;
        for (const auto& f : futures) {
            f.wait();  // the few that were running finish
            ran += !f.cancelled();
        }
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::printf("%zu grid points on %zu %s: %d looked at, %d ran, %d cancelled, in %.2f s\n", futures.size(),
                    pool.concurrency(), kind.c_str(), seen, ran, cancelled, seconds);
        std::printf("best: degree %d, lambda %g, cross-validated R^2 %.4f (threshold %.3f)\n", best.degree, best.lambda,
                    best.score, threshold);
        const bool stopped_early =
            found && best.score >= threshold && ran + cancelled == int(futures.size()) && ran < int(futures.size());
        if (!stopped_early) std::printf("the search did not stop early with a good-enough score\n");
        return stopped_early ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "12_grid_search: %s\n", e.what());
        return 2;
    }
}
