// Must not compile: map calls f with one element; a two-argument f over pairs is told so in the
// first error, not after a hundred lines of template errors.
#include <fronta/thread_pool.hpp>

#include <utility>
#include <vector>

int add(int a, int b) { return a + b; }

int main() {
    fronta::thread_pool pool(2);
    std::vector<std::pair<int, int>> pairs{{1, 2}, {3, 4}};
    int total = 0;
    for (int x : pool.map(add, pairs)) total += x;
    return total;
}
