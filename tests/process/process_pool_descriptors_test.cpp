// process_pool descriptors and channel: fronta's descriptors stay fronta's (not inherited by
// programs a task starts, not holding a dead worker's death back), descriptor 3 is the user's, stray
// bytes on the channel fail only their task, and start-up with too few descriptors fails cleanly.
#include "child_client.hpp"
#include "worker_channel.hpp"

namespace {

// ---- tasks ---------------------------------------------------------------------------------------

int write_to_descriptor_3(std::string text) {
    const ssize_t n = write(3, text.data(), text.size());
    if (n < 0) {
        char link[256] = {};
        [[maybe_unused]] auto k = readlink("/proc/self/fd/3", link, sizeof link - 1);
        std::fprintf(stderr, "write to descriptor 3 (%s): %s\n", link, std::strerror(errno));
    }
    return static_cast<int>(n);
}
FRONTA_REMOTE(write_to_descriptor_3);

// Closes fronta's channel and leaves the worker stuck in its exit: a worker that lives on with
// its channel closed.
int close_channel_and_linger() {
    std::atexit(hang_forever);
    close(channel_of_this_worker());
    return static_cast<int>(getpid());
}
FRONTA_REMOTE(close_channel_and_linger);

int stray_bytes_onto_the_channel(int count) {
    const std::string junk(static_cast<std::size_t>(count), 'x');
    [[maybe_unused]] auto n = write(channel_of_this_worker(), junk.data(), junk.size());
    return count;
}
FRONTA_REMOTE(stray_bytes_onto_the_channel);

// Starts a background `sleep` (which inherits what is not close-on-exec), notes its pid, aborts.
int background_sleeper_then_abort(std::string pid_file) {
    const std::string command = "sleep 60 & echo $! > " + pid_file;
    if (std::system(command.c_str()) != 0) return -1;
    std::abort();
}
FRONTA_REMOTE(background_sleeper_then_abort);

// Forks a copy of the worker that holds every descriptor (fork ignores close-on-exec) and waits
// forever, notes its pid, aborts: only the worker's pid says it died.
int forked_holder_then_abort(std::string pid_file) {
    const pid_t child = fork();
    if (child == 0)
        for (;;) pause();
    if (FILE* out = std::fopen(pid_file.c_str(), "w")) {
        std::fprintf(out, "%d\n", static_cast<int>(child));
        std::fclose(out);
    }
    std::abort();
}
FRONTA_REMOTE(forked_holder_then_abort);

// What a program the task starts finds open besides its stdin, stdout and stderr.
std::string descriptors_an_exec_sees() {
    FILE* listing = popen("for f in /proc/self/fd/*; do readlink \"$f\"; done 2>/dev/null", "r");
    if (listing == nullptr) return "popen failed";
    std::string out;
    char buffer[256];
    while (std::fgets(buffer, sizeof buffer, listing)) out += buffer;
    pclose(listing);
    return out;
}
FRONTA_REMOTE(descriptors_an_exec_sees);

std::size_t length_of(std::string text) { return text.size(); }
FRONTA_REMOTE(length_of);

std::string text_of_length(std::size_t n) { return std::string(n, 'y'); }
FRONTA_REMOTE(text_of_length);

// Takes every descriptor the worker has left, then returns a result large enough to need one.
std::vector<int> hogged_descriptors;
std::string large_result_with_no_descriptor_left(std::size_t n) {
    for (;;) {
        const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) break;
        hogged_descriptors.push_back(fd);
    }
    return std::string(n, 'z');
}
FRONTA_REMOTE(large_result_with_no_descriptor_left);

int release_descriptors() {
    for (int fd : hogged_descriptors) close(fd);
    hogged_descriptors.clear();
    return static_cast<int>(getpid());
}
FRONTA_REMOTE(release_descriptors);

// ---- 5. fronta's descriptors stay fronta's -------------------------------------------------------

// `f` runs a task that leaves a child of its worker holding the worker's descriptors (its pid in
// `pid_file`) and then aborts: the death must show as worker_died at once, not when the child lets
// go (it outlives the 20 s wait here). The child is killed afterwards.
void expect_death_noticed_while_a_child_holds_on(fronta::future<int>& f, const std::string& pid_file,
                                                 const char* unnoticed) {
    try {
        f.get(20s);
        ADD_FAILURE() << "the task should have died";
    } catch (const fronta::worker_died& e) {
        EXPECT_NE(std::string(e.what()).find("signal 6"), std::string::npos) << e.what();
    } catch (const fronta::timeout_error&) {
        ADD_FAILURE() << unnoticed;
    }
    std::ifstream in(pid_file);
    int holder = 0;
    if (in >> holder && holder > 0) {
        kill(holder, SIGKILL);
        wait_for_end(holder, steady::now(), 10s);
    }
    std::remove(pid_file.c_str());
}

void expect_no_fronta_descriptor(const std::string& seen, const char* who) {
    ASSERT_NE(seen, "popen failed");
    for (const char* kind : {"socket:", "memfd:", "anon_inode:[eventfd]", "anon_inode:[pidfd]"})
        EXPECT_EQ(seen.find(kind), std::string::npos) << who << " holds a " << kind << " descriptor:\n" << seen;
}

TEST(process_pool_descriptors, a_background_child_of_a_dead_worker_does_not_delay_its_death) {
    const std::string pid_file = testing::TempDir() + "/fronta_sleeper_" + std::to_string(getpid());
    fronta::process_pool pool(1);
    auto f = pool.submit(background_sleeper_then_abort, pid_file);
    expect_death_noticed_while_a_child_holds_on(
        f, pid_file, "the worker's death went unnoticed while its background child held descriptors");
    EXPECT_EQ(pool.submit(quick, 1).get(), 2);
}

TEST(process_pool_descriptors, a_program_a_task_starts_inherits_no_fronta_descriptor) {
    fronta::process_pool pool(1);
    expect_no_fronta_descriptor(pool.submit(descriptors_an_exec_sees).get(), "an exec'd program");
}

TEST(process_pool_descriptors, the_client_keeps_its_pool_descriptors_from_programs_it_starts) {
    fronta::process_pool pool(2);
    EXPECT_EQ(pool.submit(quick, 1).get(), 2);
    expect_no_fronta_descriptor(descriptors_an_exec_sees(), "a program the client starts");
}

// The dispatcher learns that the channel closed together with the task's reply. The worker lives
// on (until the linger limit kills it): it must get no task, neither from the dispatcher nor lent
// to a submitter (which also let the dispatcher remove it while a submitter held it).
TEST(process_pool_descriptors, a_worker_whose_channel_closed_is_given_no_task) {
    fronta::process_pool pool(1);
    const int lingering = pool.submit(close_channel_and_linger).get(30s);
    for (int i = 0; i < 3; ++i) {
        try {
            EXPECT_EQ(pool.submit(quick, i).get(30s), i + 1);
        } catch (const std::exception& e) {
            ADD_FAILURE() << "task " << i << ": " << e.what();
        }
    }
    for (int pid : pool.worker_pids()) EXPECT_NE(pid, lingering);
}

// Kernels before 5.3 (and seccomp profiles that refuse pidfd_open) have no pidfds: the pool still
// starts (it once failed every worker with "pidfd_open: Function not implemented"), notices a
// death by pid even while a forked child holds the channel, and reaps every worker.
TEST(process_pool_descriptors, without_pidfds_the_pool_still_notices_deaths_and_reaps) {
    setenv("FRONTA_TEST_NO_PIDFD", "1", 1);
    const std::string pid_file = testing::TempDir() + "/fronta_pidless_" + std::to_string(getpid());
    std::set<int> seen;
    {
        fronta::process_pool_options options;
        options.workers = 2;
        options.max_tasks_per_child = 3;
        fronta::process_pool pool(options);
        for (int i = 0; i < 12; ++i) {
            for (int pid : pool.worker_pids()) seen.insert(pid);
            EXPECT_EQ(pool.submit(quick, i).get(30s), i + 1);
        }
        auto f = pool.submit(forked_holder_then_abort, pid_file);
        expect_death_noticed_while_a_child_holds_on(
            f, pid_file, "without a pidfd, the death went unnoticed while a forked child held the channel");
        EXPECT_EQ(pool.submit(quick, 1).get(30s), 2);
        for (int pid : pool.worker_pids()) seen.insert(pid);
    }
    unsetenv("FRONTA_TEST_NO_PIDFD");
    for (int pid : seen) EXPECT_NE(kill(pid, 0), 0) << "worker " << pid << " was not reaped";
}

// ---- 6. fd 3 is the user's -----------------------------------------------------------------------

TEST(process_pool_descriptors, a_task_writing_to_descriptor_3_reaches_the_users_file) {
    const std::string path = testing::TempDir() + "/fronta_fd3_" + std::to_string(getpid());
    const int saved = fcntl(3, F_DUPFD_CLOEXEC, 10);  // whatever the runner had at 3
    const int file = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
    ASSERT_GE(file, 0);
    if (file != 3) {
        ASSERT_EQ(dup2(file, 3), 3);  // like `prog 3>trace.log`: inherited
        close(file);
    } else {
        fcntl(3, F_SETFD, 0);
    }
    {
        fronta::process_pool pool(2);
        EXPECT_EQ(pool.submit(write_to_descriptor_3, std::string("from a task\n")).get(), 12);
        EXPECT_EQ(pool.submit(quick, 1).get(), 2);
    }
    if (saved >= 0) {
        dup2(saved, 3);
        close(saved);
    } else {
        close(3);
    }
    std::ifstream in(path);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(content, "from a task\n");
    std::remove(path.c_str());
}

TEST(process_pool_descriptors, stray_bytes_fewer_than_a_header_fail_the_task_that_wrote_them) {
    for (const int count : {3, 31, 100}) {
        fronta::process_pool pool(1);
        for (int i = 0; i < 50; ++i) pool.submit(quick, i).get();  // short tasks: later ones go ahead together
        auto writer = pool.submit(stray_bytes_onto_the_channel, count);
        std::vector<fronta::future<int>> innocent;
        for (int i = 0; i < 10; ++i) innocent.push_back(pool.submit(quick, i));
        EXPECT_THROW(writer.get(), fronta::worker_died) << count << " stray bytes";
        for (int i = 0; i < 10; ++i)
            EXPECT_EQ(innocent[static_cast<std::size_t>(i)].get(), i + 1)
                << "a later task was blamed for " << count << " stray bytes";
    }
}

// ---- 12. start-up failures are clean -------------------------------------------------------------

int open_descriptors() {
    int n = 0;
    for (int fd = 0; fd < 1024; ++fd)
        if (fcntl(fd, F_GETFD) >= 0) ++n;
    return n;
}

int scenario_descriptor_limit() {
    rlimit limit{64, 64};
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) return 10;
    const int before = open_descriptors();
    for (const std::size_t workers : {20, 40, 20, 40, 40}) {
        try {
            fronta::process_pool pool(workers);
            std::printf("a pool of %zu workers started with 64 descriptors\n", workers);
            return 11;
        } catch (const std::system_error& e) {
            if (std::string(e.what()).find("Too many open files") == std::string::npos) {
                std::printf("wrong cause: %s\n", e.what());
                return 12;
            }
        }
        int status = 0;
        if (waitpid(-1, &status, WNOHANG) != -1 || errno != ECHILD) {
            std::printf("a worker was left behind (a zombie or still running)\n");
            return 13;
        }
        if (open_descriptors() != before) {
            std::printf("descriptors leaked: %d before, %d after\n", before, open_descriptors());
            return 14;
        }
    }
    std::printf("ok\n");
    return 0;
}

TEST(process_pool_startup, too_few_descriptors_reports_the_cause_and_leaves_no_zombie) {
#if defined(__SANITIZE_ADDRESS__)
    // UBSan checks a vptr by writing the memory into a pipe: with every descriptor taken it cannot,
    // and reports a false "invalid vptr" while the exception is handled.
    GTEST_SKIP() << "UBSan needs descriptors of its own";
#endif
    auto client = start_scenario("descriptor_limit");
    EXPECT_EQ(exit_code(finish_child(client, 120s, 60s)), 0) << client.output;
    close_child(client);
}

// A client that runs out of descriptors after its pool started: a task whose argument needs one
// (shared memory for a large value) fails with the cause, and the pool's dispatcher survives (it
// once threw out of its thread: std::terminate). A large result that cannot be received fails
// with the cause too.
int scenario_descriptors_run_out() {
    fronta::process_pool pool(1);
    if (pool.submit(quick, 1).get() != 2) return 10;
    const std::string big(4 << 20, 'x');  // over the shared-memory threshold
    std::vector<int> hog;
    for (;;) {
        const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0) break;
        hog.push_back(fd);
    }
    if (errno != EMFILE) return 11;
    const auto release = [&] {
        for (int fd : hog) close(fd);
        hog.clear();
    };
    try {
        pool.submit(length_of, big).get();
        release();
        std::printf("a large argument went without a descriptor\n");
        return 12;
    } catch (const std::exception& e) {
        if (std::string(e.what()).find("Too many open files") == std::string::npos) {
            release();
            std::printf("wrong cause for the argument: %s\n", e.what());
            return 13;
        }
    }
    if (pool.submit(quick, 2).get() != 3) return 14;  // the same worker serves on
    try {
        pool.submit(text_of_length, std::size_t{4} << 20).get();
        release();
        std::printf("a large result came without a descriptor\n");
        return 15;
    } catch (const std::exception& e) {
        if (std::string(e.what()).find("Too many open files") == std::string::npos) {
            release();
            std::printf("wrong cause for the result: %s\n", e.what());
            return 16;
        }
    }
    release();
    std::printf("ok\n");
    return 0;
}

TEST(process_pool_startup, running_out_of_descriptors_fails_the_task_not_the_dispatcher) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "UBSan needs descriptors of its own";
#endif
    auto client = start_scenario("descriptors_run_out");
    EXPECT_EQ(exit_code(finish_child(client, 120s, 60s)), 0) << client.output;
    close_child(client);
}

// The worker's side: a result it cannot send (no descriptor left for its shared memory) fails
// its task with the cause; the worker once died of the exception (std::terminate, SIGABRT).
TEST(process_pool_startup, a_worker_out_of_descriptors_fails_the_task_and_serves_on) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "UBSan needs descriptors of its own";
#endif
    fronta::process_pool pool(1);
    const int before = pool.submit(worker_pid).get(30s);
    try {
        pool.submit(large_result_with_no_descriptor_left, std::size_t{4} << 20).get(30s);
        ADD_FAILURE() << "a large result went without a descriptor";
    } catch (const fronta::worker_died& e) {
        ADD_FAILURE() << "the worker died: " << e.what();
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("Too many open files"), std::string::npos) << e.what();
    }
    EXPECT_EQ(pool.submit(release_descriptors).get(30s), before) << "the worker served on";
    EXPECT_EQ(pool.submit(length_of, std::string(4 << 20, 'x')).get(30s), std::size_t{4} << 20);
}

const scenario_registration descriptor_limit_scenario{"descriptor_limit",
                                                      [](const std::string&) { return scenario_descriptor_limit(); }};
const scenario_registration descriptors_run_out_scenario{"descriptors_run_out", [](const std::string&) {
                                                             return scenario_descriptors_run_out();
                                                         }};

}  // namespace

int main(int argc, char** argv) {
    fronta::init(argc, argv);  // worker copies of this test binary stay in here
    if (const auto name = scenario_asked(argc, argv)) return run_scenario(*name);
    return run_tests(argc, argv);
}
