// The main window's attention runs: the Attention view's map (only while it is shown), a
// block at full resolution, every method's map of a layer and head, and the selected
// token's rows (the rest of the window is main_window.cpp).
#include <tuple>

#include "app/main_window.h"

namespace ls::app {

void MainWindow::start_attention_compare() {
  if (!state_.document || state_.model_path.isEmpty() || current_view() != "attention") return;
  const int ctx = std::min<int>(state_.length, (int)state_.document->tokens.size());
  const auto key = std::make_tuple(ctx, state_.layer, state_.head, state_.method_labels());
  if (jobs_.kind_pending(JobKind::AttentionCompare) && requested_compare_ == key) return;  // already on its way
  requested_compare_ = key;
  MethodList shown;
  for (const auto& x : state_.methods)
    if (state_.is_shown(x)) shown.push_back(x);
  const quint64 job = start_job(JobKind::AttentionCompare);
  QMetaObject::invokeMethod(worker_, [w = worker_, job, c = jobs_.cancel_flag(job), shown, ctx, l = state_.layer,
                                      h = state_.head] { w->run_attention_compare(job, c, shown, ctx, l, h); },
                            Qt::QueuedConnection);
}

void MainWindow::start_token_attention() {
  const int m = state_.selected_token;
  if (!state_.document || state_.model_path.isEmpty() || m < 0) return;
  if (jobs_.kind_pending(JobKind::TokenAttention) && requested_token_ == m) return;  // already on its way
  requested_token_ = m;
  MethodList shown;
  for (const auto& x : state_.methods)
    if (state_.is_shown(x)) shown.push_back(x);
  const int ctx = std::min<int>(state_.length, (int)state_.document->tokens.size());
  const quint64 job = start_job(JobKind::TokenAttention);
  QMetaObject::invokeMethod(worker_, [w = worker_, job, c = jobs_.cancel_flag(job), shown, ctx, l = state_.layer,
                                      h = state_.head, m] { w->run_token_attention(job, c, shown, ctx, l, h, m); },
                            Qt::QueuedConnection);
}

void MainWindow::start_attention() {
  // Attention is the costliest view: it runs while the view is shown, and when it is
  // opened (a changed n or method on another tab costs nothing here).
  if (current_view() != "attention") {
    attention_pending_ = true;
    return;
  }
  attention_pending_ = false;
  start_attention_detail(0, 0, 0);
}

void MainWindow::start_attention_detail(int q0, int k0, int size) {
  if (!state_.document || state_.model_path.isEmpty()) return;
  const MethodParams method = state_.attention_params();  // the chosen one, else the first (a new model took it away)
  const int ctx = std::min<int>(state_.length, (int)state_.document->tokens.size());
  const quint64 job = start_job(JobKind::Attention);
  if (size > 0)
    message_->setText(tr("Attention at full resolution: queries %1–%2, keys %3–%4").arg(q0).arg(q0 + size - 1).arg(k0).arg(k0 + size - 1));
  QMetaObject::invokeMethod(worker_, [w = worker_, job, c = jobs_.cancel_flag(job), method, ctx, l = state_.layer,
                                      h = state_.head, q0, k0, size] {
    w->run_attention(job, c, method, ctx, l, h, q0, k0, size);
  }, Qt::QueuedConnection);
}

}  // namespace ls::app
