// The worker pool behind parallel_for. One job at a time: a second caller that
// finds the pool busy (another engine on another thread) runs its stripes on
// threads of its own, as parallel_for did before the pool.
#include "core/util/parallel.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <vector>

namespace ls {
namespace {

class Pool {
 public:
  ~Pool() {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

  // false: the pool is busy with another caller's job.
  bool run(int stripes, const std::function<void(int)>& stripe) {
    std::unique_lock<std::mutex> busy(busy_, std::try_to_lock);
    if (!busy.owns_lock()) return false;
    grow(stripes - 1);
    {
      std::lock_guard<std::mutex> lk(m_);
      job_ = &stripe;
      stripes_ = stripes;
      next_.store(1);  // stripe 0 is the caller's
      done_ = 0;
      ++generation_;
    }
    wake_.notify_all();
    stripe(0);
    int mine = 1;
    for (int t; (t = next_.fetch_add(1)) < stripes;) {  // no worker free yet: the caller takes stripes too
      stripe(t);
      ++mine;
    }
    std::unique_lock<std::mutex> lk(m_);
    done_ += mine;
    // every worker that took up this job has let go of it before the job (on the caller's stack) ends
    finished_.wait(lk, [&] { return done_ >= stripes_ && active_ == 0; });
    job_ = nullptr;
    return true;
  }

 private:
  void grow(int want) {
    while ((int)workers_.size() < want) {
      try {
        workers_.emplace_back([this] { work(); });
      } catch (const std::system_error&) {
        return;  // no thread to be had: the caller runs the remaining stripes itself
      }
    }
  }

  void work() {
    unsigned long seen = 0;
    std::unique_lock<std::mutex> lk(m_);
    for (;;) {
      wake_.wait(lk, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (!job_) continue;  // the job was over before this worker woke
      const std::function<void(int)>* job = job_;
      const int stripes = stripes_;
      ++active_;
      lk.unlock();
      int ran = 0;
      for (int t; (t = next_.fetch_add(1)) < stripes;) {
        (*job)(t);
        ++ran;
      }
      lk.lock();
      done_ += ran;
      --active_;
      if (done_ >= stripes_ && active_ == 0) finished_.notify_all();
    }
  }

  std::mutex busy_;  // held by the caller whose job runs
  std::mutex m_;
  std::condition_variable wake_, finished_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* job_ = nullptr;
  int stripes_ = 0, done_ = 0, active_ = 0;
  std::atomic<int> next_{0};
  unsigned long generation_ = 0;
  bool stop_ = false;
};

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

void run_stripes(int stripes, const std::function<void(int)>& stripe) {
  if (stripes <= 1) {
    if (stripes == 1) stripe(0);
    return;
  }
  if (pool().run(stripes, stripe)) return;
  // Busy pool: threads of our own, as many as can be had.
  std::vector<std::thread> own;
  int started = 1;
  for (; started < stripes; ++started) {
    try {
      own.emplace_back(stripe, started);
    } catch (const std::system_error&) {
      break;
    }
  }
  stripe(0);
  for (int t = started; t < stripes; ++t) stripe(t);
  for (auto& th : own) th.join();
}

}  // namespace ls
