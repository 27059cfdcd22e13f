#include "kube/time_source.hpp"

namespace elector::kube {

namespace {

class system_time_source final : public time_source {
public:
    time_point now() const override { return std::chrono::steady_clock::now(); }
    kube::time_point wall_now() const override { return std::chrono::system_clock::now(); }

    void wait_until(std::unique_lock<std::mutex>& lock, std::condition_variable& cv, time_point deadline) override {
        // wait_until(max) would overflow converting to the condition variable's own clock.
        if (deadline == time_point::max()) {
            cv.wait(lock);
        } else {
            cv.wait_until(lock, deadline);
        }
    }
};

}  // namespace

std::uint64_t time_source::subscribe(std::function<void()>) { return 0; }

void time_source::unsubscribe(std::uint64_t) {}

time_source& time_source::system() {
    static system_time_source clock;
    return clock;
}

}  // namespace elector::kube
