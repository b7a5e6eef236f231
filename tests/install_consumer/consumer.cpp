#include <fronta/fronta.hpp>

#include <cstdio>

int main() {
    fronta::thread_pool pool(2);
    auto f = pool.submit([](int x) { return x * x; }, 5);
    std::printf("consumer: %d\n", f.get());
}
