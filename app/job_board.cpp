#include "app/job_board.h"

namespace ls::app {

quint64 JobBoard::start(JobKind kind) {
  if (auto it = latest_.find(kind); it != latest_.end())
    if (auto c = cancels_.find(it->second); c != cancels_.end()) *c->second = true;
  const quint64 id = next_++;
  pending_[id] = kind;
  latest_[kind] = id;
  cancels_[id] = std::make_shared<std::atomic<bool>>(false);
  return id;
}

bool JobBoard::finish(quint64 job) {
  cancels_.erase(job);
  return pending_.erase(job) > 0;
}

CancelFlag JobBoard::cancel_flag(quint64 job) const {
  if (auto it = cancels_.find(job); it != cancels_.end()) return it->second;
  return std::make_shared<std::atomic<bool>>(true);
}

void JobBoard::cancel_and_forget(JobKind kind) {
  auto it = latest_.find(kind);
  if (it == latest_.end()) return;
  if (auto c = cancels_.find(it->second); c != cancels_.end()) *c->second = true;
  it->second = 0;
}

void JobBoard::cancel_all() {
  for (auto& [id, flag] : cancels_) *flag = true;
}

}  // namespace ls::app
