// 05: shut an executor down explicitly, or let the destructor do it (Python's `with` block).
// Python: executor.shutdown(wait=True, cancel_futures=False)
#include <fronta/fronta.hpp>

#include <atomic>
#include <iostream>
#include <vector>

int main() {
    std::atomic<int> finished{0};
    {
        fronta::thread_pool pool(2);  // like `with ThreadPoolExecutor(2) as executor:`
        for (int i = 0; i < 100; ++i) pool.submit([&] { ++finished; });
    }  // the destructor is shutdown(wait=true): every task ran
    std::cout << "after the scope: " << finished << " tasks finished\n";

    fronta::thread_pool pool(1);
    fronta::promise<void> gate;
    auto opened = gate.get_future();
    pool.submit([opened] { opened.wait(); });  // keeps the only worker busy
    std::vector<fronta::future<int>> queued;
    for (int i = 0; i < 5; ++i) queued.push_back(pool.submit([i] { return i; }));
    pool.shutdown(/*wait=*/false, /*cancel_futures=*/true);
    int cancelled = 0;
    for (auto& f : queued) cancelled += f.cancelled();
    std::cout << "cancel_futures=true cancelled " << cancelled << " queued tasks\n";
    gate.set_value();
    try {
        pool.submit([] { return 0; });
    } catch (const fronta::shutdown_error& e) {
        std::cout << "submit after shutdown: " << e.what() << '\n';
    }
}
