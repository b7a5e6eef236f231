// 06: co_await futures inside a coroutine (the asyncio part of the talk).
// Python: result = await loop.run_in_executor(executor, do_some_math, 5)
#include <fronta/fronta.hpp>

#include <iostream>

double do_some_math(double x) { return x * x; }

// A function returning fronta::future<T> may be a coroutine: it starts at once and its future
// completes at co_return. Each co_await resumes on the thread that finished the awaited task.
fronta::future<double> sum_of_squares(fronta::thread_pool& pool, double a, double b) {
    double x = co_await pool.submit(do_some_math, a);
    double y = co_await pool.submit(do_some_math, b);
    co_return x + y;
}

int main() {
    fronta::thread_pool pool(2);
    fronta::future<double> total = sum_of_squares(pool, 3.0, 4.0);
    auto described = total.then([](double v) { return "3^2 + 4^2 = " + std::to_string(v); });
    std::cout << described.get() << '\n';
}
