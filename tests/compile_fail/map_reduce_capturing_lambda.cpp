// Must not compile: map_reduce on a process pool with a reduction that captures; the shipping
// check names what cannot be sent.
#include <fronta/fronta.hpp>

#include <vector>

double square(double x) { return x * x; }
FRONTA_REMOTE(square);

int main() {
    fronta::process_pool pool(1);
    const double bias = 1;
    (void)fronta::map_reduce(pool, square, std::vector<double>{1, 2}, [bias](double a, double b) { return a + b + bias; },
                             0.0);
}
