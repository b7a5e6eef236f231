// 03: take results in the order they finish, not the order they were submitted.
// Python: for future in as_completed(futures): print(future.result())
#include <fronta/fronta.hpp>

#include <chrono>
#include <iostream>
#include <thread>
#include <vector>

int slow_square(int x) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10 * (5 - x)));  // later inputs are quicker
    return x * x;
}

int main() {
    fronta::thread_pool pool(5);
    std::vector<fronta::future<int>> futures;
    for (int x = 0; x < 5; ++x) futures.push_back(pool.submit(slow_square, x));
    for (const fronta::future<int>& f : fronta::as_completed(futures)) std::cout << f.get() << ' ';
    std::cout << "\n(the quickest came first)\n";
}
