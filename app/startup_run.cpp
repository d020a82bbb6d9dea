#include "app/startup_run.h"

#include <QCoreApplication>
#include <QSettings>
#include <QTimer>
#include <cstdio>

namespace ls::app {

StartupRun::StartupRun(MainWindow& window, StartupOptions options) : w_(window), o_(std::move(options)) {
  connect(&w_, &MainWindow::error_shown, this, [this](const QString& msg) {
    if (!headless()) return;
    std::fprintf(stderr, "longscope: error: %s\n", qPrintable(msg));
    exit_code_ = 2;
  });
  connect(&w_, &MainWindow::idle, this, &StartupRun::on_idle);
}

void StartupRun::start() {
  if (headless()) {
    w_.setAttribute(Qt::WA_DontShowOnScreen);
    w_.resize(whole_window() ? o_.width : 1280, whole_window() ? o_.height : 860);
    w_.set_docks_visible(whole_window());
  }
  w_.show();
  w_.open_model(o_.model, o_.train_len_override);
  w_.open_document(o_.document);
}

void StartupRun::on_idle() {
  switch (stage_) {
    case Stage::Loading:  // the model and the document are in
      if (exit_code_ != 0) return end(exit_code_);
      apply_settings();
      break;
    case Stage::CellPending:  // the retrieval grid is in: open the cell
      if (!headless()) return;
      stage_ = Stage::Capturing;
      {
        const QStringList idx = o_.cell.split(',');
        w_.open_retrieval_cell(idx.value(0).toInt(), idx.value(1).toInt(), idx.value(2).toInt());
      }
      settle();
      break;
    case Stage::Capturing:
      if (headless()) capture();
      break;
    case Stage::Done:
      break;
  }
}

void StartupRun::apply_settings() {
  stage_ = Stage::Capturing;
  // A first interactive launch opens on the walkthrough (dismissed once, it stays closed).
  if (!headless() && !QSettings("LongScope", "LongScope").value("walkthrough_seen").toBool() &&
      (o_.view == "story" || o_.view.isEmpty()))
    w_.start_walkthrough();
  w_.set_methods(o_.methods);
  w_.set_length(o_.length);
  w_.set_layer_head(o_.layer, o_.head);
  w_.show_view(whole_window() ? window_tab() : o_.view);
  if (headless() && o_.view == "sweep") w_.run_sweep();
  if (headless() && (o_.view == "retrieval" || (whole_window() && window_tab() == "retrieval"))) {
    if (!o_.retrieval_lengths.isEmpty()) w_.set_retrieval_lengths(o_.retrieval_lengths);
    w_.run_retrieval();
    if (!o_.cell.isEmpty()) stage_ = Stage::CellPending;
  }
  w_.run_now();
  settle();
}

void StartupRun::settle() {
  // Nothing started (e.g. the grid failed, so there is no cell to open): go on at once.
  if (!w_.busy()) QTimer::singleShot(0, &w_, [this] { emit w_.idle(); });
}

void StartupRun::capture() {
  stage_ = Stage::Done;
  if (whole_window()) {
    w_.show_view(window_tab());  // redraw now (state changes redraw on a short timer), then let charts lay out
    QCoreApplication::processEvents(QEventLoop::ExcludeUserInputEvents);
    const bool ok = w_.grab().save(o_.screenshot);
    if (ok) std::printf("wrote %s\n", qPrintable(o_.screenshot));
    return end(ok ? exit_code_ : 1);
  }
  if (!w_.view(o_.view)) {
    std::fprintf(stderr, "longscope: error: unknown view %s\n", qPrintable(o_.view));
    return end(2);
  }
  w_.show_view(o_.view);
  const bool ok = w_.export_view(o_.view, o_.screenshot);
  if (ok) std::printf("wrote %s\n", qPrintable(o_.screenshot));
  end(ok ? exit_code_ : 1);
}

void StartupRun::end(int code) {
  stage_ = Stage::Done;
  exit_code_ = code;
  emit finished(code);
}

}  // namespace ls::app
