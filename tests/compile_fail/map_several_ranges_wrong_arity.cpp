// Must not compile: map over two ranges with a function of one parameter.
#include <fronta/fronta.hpp>

#include <vector>

int main() {
    fronta::thread_pool pool(1);
    for (int y : pool.map([](int a) { return a; }, std::vector<int>{1}, std::vector<int>{2})) (void)y;
}
