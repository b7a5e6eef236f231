// 01: submit one call and collect its future, as in the talk's "2. Submit tasks".
// Python: thread_executor.submit(do_some_math, 5).result()
#include <fronta/fronta.hpp>

#include <iostream>

double do_some_math(double x) { return x * x; }

int main() {
    fronta::thread_pool pool(4);  // ThreadPoolExecutor(max_workers=4)
    fronta::future<double> result = pool.submit(do_some_math, 5.0);
    std::cout << "done yet? " << std::boolalpha << result.done() << '\n';
    std::cout << "do_some_math(5) = " << result.get() << '\n';  // waits, like result.result()
    std::cout << "done now? " << result.done() << '\n';
}
