// The main window's Retrieval wiring: the grid run, a clicked cell's prompt, and
// their results from the worker (the rest of the window is main_window.cpp).
#include "app/main_window.h"
#include "app/views/retrieval_view.h"

namespace ls::app {

void MainWindow::wire_retrieval() {
  connect(worker_, &EngineWorker::retrieval_ready, this, [this](std::shared_ptr<const RetrievalSnapshot> r) {
    if (jobs_.is_latest(JobKind::Retrieval, r->job)) {
      state_.retrieval = r;
      state_.retrieval_detail.reset();
      state_.touch();
      message_->setText(tr("Retrieval: %1 method(s) × %2 length(s) × %3 depth(s). Click a cell to open its prompt.")
                            .arg(r->grid.methods.size())
                            .arg(r->grid.lengths.size())
                            .arg(r->grid.depths.size()));
    }
    finish_job(r->job);
  });
  connect(worker_, &EngineWorker::retrieval_detail_ready, this, [this](std::shared_ptr<const RetrievalDetailSnapshot> r) {
    if (jobs_.is_latest(JobKind::RetrievalDetail, r->job)) {
      state_.retrieval_detail = r;
      state_.touch();
      message_->setText(tr("Prompt of %1 at %2 tokens, depth %3 in the document pane (layer %4 head %5 looks at the "
                           "needle most).")
                            .arg(r->label)
                            .arg(r->length)
                            .arg(r->depth, 0, 'f', 2)
                            .arg(r->head.layer)
                            .arg(r->head.head));
    }
    finish_job(r->job);
  });
  connect(retrieval_, &RetrievalView::request, this, &MainWindow::run_retrieval);
  connect(retrieval_, &RetrievalView::open_cell, this, &MainWindow::open_retrieval_cell);
}

void MainWindow::run_retrieval() {
  if (state_.model_path.isEmpty()) return show_error(tr("load a model first"));
  const RetrievalTask task = state_.retrieval_task = retrieval_->task();
  if (task == RetrievalTask::Needle && !state_.document) return show_error(tr("open a document first: it is the haystack"));
  if (const QString bad = retrieval_->fields_problem(); !bad.isEmpty()) return show_error(bad);
  QList<int> lengths;
  for (int n : retrieval_->lengths())
    if (n <= state_.max_length) lengths << n;
  if (lengths.isEmpty()) return show_error(tr("choose prompt lengths (up to %1 tokens fit in memory)").arg(state_.max_length));
  const QList<double> depths = retrieval_->depths();
  if (depths.isEmpty() && task != RetrievalTask::LongEvalLines) return show_error(tr("choose depths in [0, 1]"));
  const quint64 job = start_job(JobKind::Retrieval);
  message_->setText(tr("Retrieval: %1 with %2 method(s)…").arg(task_name(task)).arg(state_.methods.size()));
  QMetaObject::invokeMethod(worker_, [w = worker_, job, c = jobs_.cancel_flag(job), ms = state_.methods, task, lengths,
                                      depths = depths.isEmpty() ? QList<double>{0.5} : depths, t = retrieval_->trials(),
                                      k = retrieval_->nbce_chunks()] {
    w->run_retrieval(job, c, ms, task, lengths, depths, t, k);
  }, Qt::QueuedConnection);
}

void MainWindow::set_retrieval_lengths(const QString& lengths) { retrieval_->set_lengths(lengths); }

void MainWindow::open_retrieval_cell(int method, int length, int depth) {
  if (!state_.retrieval) return;
  const quint64 job = start_job(JobKind::RetrievalDetail);
  message_->setText(tr("Opening the prompt and finding the retrieval head…"));
  QMetaObject::invokeMethod(worker_, [w = worker_, job, c = jobs_.cancel_flag(job), g = state_.retrieval, method, length, depth] {
    w->run_retrieval_detail(job, c, g, method, length, depth);
  }, Qt::QueuedConnection);
}

}  // namespace ls::app
