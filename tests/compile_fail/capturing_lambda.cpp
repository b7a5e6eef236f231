// Must not compile: a lambda with captures cannot be shipped to a worker process.
#include <fronta/fronta.hpp>

int main() {
    fronta::process_pool pool(1);
    double factor = 3.0;
    pool.submit([factor](double x) { return factor * x; }, 5.0);
}
