// 02: map a function over inputs; results come back lazily and in input order.
// Python: results = thread_executor.map(do_some_math, range(10))
#include <fronta/fronta.hpp>

#include <iostream>
#include <ranges>

double do_some_math(double x) { return x * x; }

int main() {
    fronta::thread_pool pool(4);
    for (double y : pool.map(do_some_math, std::views::iota(0, 10))) std::cout << y << ' ';
    std::cout << '\n';

    // Chunks amortise the per-task cost for cheap functions; the window bounds memory, so even
    // an endless input is fine: stop whenever you like.
    double total = 0;
    int count = 0;
    for (double y : pool.map(do_some_math, std::views::iota(0), {.chunk_size = 256, .max_in_flight = 8})) {
        total += y;
        if (++count == 1'000'000) break;
    }
    std::cout << "sum of the first 1e6 squares: " << total << '\n';
}
