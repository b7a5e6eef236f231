// Must not compile: as map_two_arguments_over_pairs.cpp, on a process pool, where the shipping
// checks must not speak first.
#include <fronta/fronta.hpp>

#include <tuple>
#include <vector>

int main() {
    fronta::process_pool pool(1);
    std::vector<std::tuple<int, double>> pairs{{1, 2.0}, {3, 4.0}};
    for (double x : pool.map([](int a, double b) { return a * b; }, pairs)) (void)x;
}
