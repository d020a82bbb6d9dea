// The window's jobs: every request to the worker gets an id, a kind and a cancel
// flag. A newer job of a kind cancels the one in flight (latest wins), and a result
// is shown only when its job is still the latest of its kind.
#pragma once

#include <QtGlobal>

#include <map>

#include "app/engine_worker.h"

namespace ls::app {

enum class JobKind { Model, Document, Ppl, Attention, Sweep, Nbce, Retrieval, RetrievalDetail, TokenAttention, AttentionCompare };

class JobBoard {
 public:
  // A new job of `kind`; the one in flight of that kind is cancelled.
  quint64 start(JobKind kind);
  // Its end (result shown, failed or cancelled); false when it was not on the board.
  bool finish(quint64 job);
  bool busy() const { return !pending_.empty(); }
  bool kind_pending(JobKind kind) const {
    for (const auto& [job, k] : pending_)
      if (k == kind) return true;
    return false;
  }
  bool pending(quint64 job) const { return pending_.count(job) > 0; }
  bool running(quint64 job, JobKind kind) const {
    auto it = pending_.find(job);
    return it != pending_.end() && it->second == kind;
  }
  bool is_latest(JobKind kind, quint64 job) const {
    auto it = latest_.find(kind);
    return it != latest_.end() && it->second == job;
  }
  // The flag the worker polls for `job` (a set flag when the job is not on the board).
  CancelFlag cancel_flag(quint64 job) const;
  // Cancels the newest job of `kind` and forgets it, so no result of it is shown.
  void cancel_and_forget(JobKind kind);
  void cancel_all();

 private:
  quint64 next_ = 1;
  std::map<quint64, JobKind> pending_;
  std::map<JobKind, quint64> latest_;
  std::map<quint64, CancelFlag> cancels_;
};

}  // namespace ls::app
