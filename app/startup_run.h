// What the app does once it starts: open the model and the document, then apply the
// command line's methods, length, layer and head and run; for --screenshot, also run
// what the view needs (a sweep, a retrieval grid, one of its cells), capture the view
// or the whole window to a file and quit with 0, 1 (not written) or 2 (an error).
#pragma once

#include <QObject>
#include <QString>
#include <QStringList>

#include "app/main_window.h"

namespace ls::app {

struct StartupOptions {
  QString model, document;
  int train_len_override = 0;
  QStringList methods;
  int length = 4096, layer = 0, head = 0;
  QString view = "story";  // a view name, or "window" / "window:VIEW" (the whole window)
  QString screenshot;             // empty: show the window and stay
  int width = 1700, height = 1000;  // whole-window screenshots
  QString retrieval_lengths;       // "N1,N2" for the retrieval view
  QString cell;                    // "M,L,D": a retrieval grid cell to open before the capture
};

class StartupRun : public QObject {
  Q_OBJECT
 public:
  StartupRun(MainWindow& window, StartupOptions options);
  void start();
  int exit_code() const { return exit_code_; }

 signals:
  void finished(int exit_code);  // headless runs only

 private:
  enum class Stage { Loading, CellPending, Capturing, Done };
  bool headless() const { return !o_.screenshot.isEmpty(); }
  bool whole_window() const { return o_.view == "window" || o_.view.startsWith("window:"); }
  QString window_tab() const { return o_.view.startsWith("window:") ? o_.view.mid(7) : QString("story"); }
  void on_idle();
  void apply_settings();
  void capture();
  void settle();
  void end(int code);

  MainWindow& w_;
  StartupOptions o_;
  Stage stage_ = Stage::Loading;
  int exit_code_ = 0;
};

}  // namespace ls::app
