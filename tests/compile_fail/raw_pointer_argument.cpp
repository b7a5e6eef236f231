// Must not compile: a raw pointer means nothing in another process; the first error says what to
// pass instead.
#include <fronta/fronta.hpp>

int main() {
    fronta::process_pool pool(1);
    int x = 21;
    pool.submit([](const int* p) { return *p * 2; }, &x);
}
