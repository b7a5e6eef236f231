// Must not compile: a future argument reaches f as its value, and this f wants the future itself
// (the error names std::ref, which passes the handle).
#include <fronta/fronta.hpp>

int main() {
    fronta::thread_pool pool(1);
    auto input = pool.submit([] { return 1; });
    pool.submit([](fronta::future<int>& f) { return f.done(); }, input);
}
