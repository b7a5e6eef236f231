// 07: the talk's pitfall. Python cannot pickle `lambda x: x * x` for a ProcessPoolExecutor and
// fails at run time; fronta refuses a lambda that captures state at compile time, and says how to fix it.
#include <fronta/fronta.hpp>

#include <iostream>

double do_some_math(double x) { return x * x; }
FRONTA_REMOTE(do_some_math);  // made remotable once, next to the function

// The fix for a lambda that captured `factor`: a struct that holds it and can be serialized.
struct scale_by {
    double factor;
    double operator()(double x) const { return factor * x; }
    template <class Archive>
    void serialize(Archive& archive) {
        archive(factor);
    }
};

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker processes are copies of this program: they stay in here
    fronta::process_pool pool(2);

    std::cout << "do_some_math(5) in a worker process: " << pool.submit(do_some_math, 5.0).get() << '\n';
    // A lambda that captures nothing ships as it is (Python's pickle cannot do even that):
    std::cout << "captureless lambda: " << pool.submit([](double x) { return x * x; }, 5.0).get() << '\n';

    double factor = 3.0;
    // pool.submit([factor](double x) { return factor * x; }, 5.0);
    //   error: static assertion failed: this callable cannot be sent to another
    //   process. A lambda with captures, or a function object without serialize(), cannot be
    //   shipped. Use a function registered with FRONTA_REMOTE(name), a captureless lambda, or a
    //   struct that holds the captured values and has a serialize(Archive&) member
    std::cout << "the fix, scale_by{3}(5): " << pool.submit(scale_by{factor}, 5.0).get() << '\n';
}
