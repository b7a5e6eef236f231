// A consumer of the installed fronta::asio (or fronta::boost_asio with FRONTA_CONSUMER_BOOST).
#include <cstdio>
#include <fronta/thread_pool.hpp>

#ifdef FRONTA_CONSUMER_BOOST
#include <boost/asio.hpp>
#include <fronta/boost_asio.hpp>
namespace net = boost::asio;
namespace bridge = fronta::boost_asio;
#else
#include <asio.hpp>
#include <fronta/asio.hpp>
namespace net = ::asio;
namespace bridge = fronta::asio;
#endif

int main() {
    fronta::thread_pool pool(2);
    net::io_context io;
    int got = 0;
    bridge::async_get(pool.submit([](int x) { return x * x; }, 6),
                      net::bind_executor(io, [&](std::exception_ptr, int v) { got = v; }));
    io.run();
    std::printf("asio consumer: %d\n", got);
}
