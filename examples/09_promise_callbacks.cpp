// 09: bridge a callback API into futures with fronta::promise, so its results can be waited on,
// chained and mixed with executor futures (the talk's "concurrent.futures within asyncio": one
// Future type joins two concurrency models).
// Python: fut = Future(); api.read(path, lambda data: fut.set_result(data)); ... fut.result()
#include <fronta/fronta.hpp>

#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <queue>
#include <sstream>
#include <string>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

// A callback-style API, as many I/O libraries have: read() returns at once, and the callback
// runs later on the reader's own I/O thread with an error code and the file's contents.
class async_file_reader {
public:
    using callback = std::function<void(std::error_code, std::string)>;

    async_file_reader() : io_thread_([this] { serve(); }) {}
    ~async_file_reader() { close(); }

    void read(std::string path, callback done) {
        std::lock_guard lock(mutex_);
        if (closed_) return;  // a closed reader drops the request and its callback, uncalled
        requests_.push({std::move(path), std::move(done)});
        wake_.notify_one();
    }

    // Serves what was asked before, then stops the I/O thread.
    void close() {
        {
            std::lock_guard lock(mutex_);
            if (closed_) return;
            closed_ = true;
            wake_.notify_one();
        }
        io_thread_.join();
    }

private:
    struct request {
        std::string path;
        callback done;
    };

    void serve() {
        for (;;) {
            request next;
            {
                std::unique_lock lock(mutex_);
                wake_.wait(lock, [this] { return closed_ || !requests_.empty(); });
                if (requests_.empty()) return;
                next = std::move(requests_.front());
                requests_.pop();
            }
            std::ifstream file(next.path, std::ios::binary);
            if (!file) {
                next.done(std::make_error_code(std::errc::no_such_file_or_directory), {});
                continue;
            }
            std::ostringstream contents;
            contents << file.rdbuf();
            next.done({}, std::move(contents).str());
        }
    }

    std::mutex mutex_;
    std::condition_variable wake_;
    std::queue<request> requests_;
    bool closed_ = false;
    std::thread io_thread_;  // last: starts once the members above exist
};

// The bridge: a promise per call, completed by the callback. std::function needs a copyable
// callable and a promise is move-only, so the callback holds it through a shared_ptr.
fronta::future<std::string> read_file(async_file_reader& reader, const std::string& path) {
    auto promise = std::make_shared<fronta::promise<std::string>>();
    fronta::future<std::string> result = promise->get_future();
    reader.read(path, [promise, path](std::error_code error, std::string contents) {
        if (error)
            promise->set_exception(std::make_exception_ptr(std::system_error(error, path)));
        else
            promise->set_value(std::move(contents));
    });
    return result;  // if the reader drops the callback uncalled, the future holds broken_promise
}

std::size_t count_words(const std::string& text) {
    std::istringstream in(text);
    std::size_t words = 0;
    for (std::string word; in >> word;) ++words;
    return words;
}

int main() {
    const auto dir = std::filesystem::temp_directory_path() / ("fronta_example_09_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    const std::vector<std::string> texts = {"waiting in many queues at once", "the queue is fronta in Czech",
                                            "futures are placeholders"};
    std::vector<std::string> paths;
    for (std::size_t i = 0; i < texts.size(); ++i) {
        paths.push_back((dir / ("part" + std::to_string(i) + ".txt")).string());
        std::ofstream(paths.back()) << texts[i];
    }

    async_file_reader reader;
    fronta::thread_pool pool(2);

    // Futures from the callback API and from a pool, waited on together; count_words runs as a
    // continuation on the reader's I/O thread.
    std::vector<fronta::future<std::size_t>> counts;
    for (const auto& path : paths) counts.push_back(read_file(reader, path).then(count_words));
    counts.push_back(pool.submit(count_words, std::string("one more from the pool")));
    std::size_t total = 0;
    for (const auto& f : fronta::as_completed(counts)) total += f.get();
    std::cout << "words in " << paths.size() << " files and one pool task: " << total << '\n';

    // A failure in the callback API arrives as an exception at get().
    try {
        read_file(reader, (dir / "missing.txt").string()).get();
    } catch (const std::system_error& e) {
        std::cout << "missing file: " << e.what() << '\n';
    }

    // A request the API never answers cannot hang its waiter: the dropped promise breaks it.
    reader.close();
    try {
        read_file(reader, paths.front()).get();
    } catch (const fronta::broken_promise& e) {
        std::cout << "after close: " << e.what() << '\n';
    }

    std::filesystem::remove_all(dir);
    return total == 6 + 6 + 3 + 5 ? 0 : 1;
}
