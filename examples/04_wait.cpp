// 04: wait with a timeout for the first result, then cancel what has not started.
// Python: done, not_done = wait(futures, timeout=1, return_when=FIRST_COMPLETED)
#include <fronta/fronta.hpp>

#include <chrono>
#include <iostream>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

int fetch(int id) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + 30 * id));  // a slow API answers
    return id;
}

int main() {
    fronta::thread_pool pool(2);
    std::vector<fronta::future<int>> futures;
    for (int id = 0; id < 8; ++id) futures.push_back(pool.submit(fetch, id));

    auto [done, not_done] = fronta::wait(futures, 1s, fronta::return_when::first_completed);
    std::cout << done.size() << " done, " << not_done.size() << " not done\n";
    std::cout << "first answer: " << done.front().get() << '\n';

    int cancelled = 0;
    for (auto& f : not_done) cancelled += f.cancel();  // only queued tasks can be cancelled
    std::cout << cancelled << " cancelled before they started\n";
}
