// LongScope desktop app. Without options it opens the bundled model on a bundled
// long document; --screenshot renders one view to a file without showing a window.
#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QTimer>
#include <cstdio>

#include "app/app_state.h"
#include "app/main_window.h"

namespace {

QString resource(const char* rel) { return QString(LONGSCOPE_RESOURCES_DIR) + "/" + rel; }

}  // namespace

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName("LongScope");
  QCommandLineParser cli;
  cli.setApplicationDescription("See why language models fail beyond their training length.");
  cli.addHelpOption();
  QCommandLineOption shot("screenshot", "render one view to OUT.png (or .svg) without showing a window", "OUT");
  QCommandLineOption view("view", "view to render: story|frequencies|relpos|attention|perplexity|sweep|retrieval|s2attn, or window / window:VIEW (the whole window)",
                          "VIEW", "frequencies");
  QCommandLineOption model("model", "model file or folder (default: bundled stories260K)", "M",
                           resource("models/stories260K.gguf"));
  QCommandLineOption doc("document", "document to open (default: bundled TinyStories)", "F",
                         resource("documents/tinystories_1.txt"));
  QCommandLineOption methods("methods", "methods to compare, \"A;B\"", "SPECS",
                             ls::app::AppState::kRopeStory);
  QCommandLineOption length("length", "context length n", "N", "4096");
  QCommandLineOption size("size", "window size for --view window screenshots, e.g. 1280x720", "WxH", "1700x1000");
  QCommandLineOption train_len("train-len", "training length L override", "L", "0");
  QCommandLineOption layer("layer", "attention layer", "l", "0");
  QCommandLineOption head("head", "attention head", "h", "0");
  QCommandLineOption session("session", "load a saved session", "FILE");
  QCommandLineOption cell("cell", "retrieval view: open this grid cell's prompt (method,length,depth indices)", "M,L,D");
  QCommandLineOption rlengths("retrieval-lengths", "retrieval view: prompt lengths, e.g. 256,512,1024", "N1,N2");
  for (const auto& o : {shot, view, model, doc, methods, length, train_len, layer, head, session, size, cell, rlengths})
    cli.addOption(o);
  cli.process(app);

  ls::app::MainWindow w;
  const bool headless = cli.isSet(shot);
  // "window" (the Story) or "window:VIEW": the whole window showing that view.
  const bool whole_window = cli.value(view) == "window" || cli.value(view).startsWith("window:");
  const QString window_tab = cli.value(view).startsWith("window:") ? cli.value(view).mid(7) : QString("story");
  if (headless) {
    w.setAttribute(Qt::WA_DontShowOnScreen);
    const QStringList wh = cli.value(size).split('x');
    const int sw = wh.value(0).toInt(), sh = wh.value(1).toInt();
    w.resize(whole_window ? (sw > 0 ? sw : 1700) : 1280, whole_window ? (sh > 0 ? sh : 1000) : 860);
    w.set_docks_visible(whole_window);
  }
  w.show();
  if (cli.isSet(session)) {
    w.load_session(cli.value(session));
    return app.exec();
  }
  w.open_model(cli.value(model), cli.value(train_len).toInt());
  w.open_document(cli.value(doc));

  // Once the model and document are in: apply the settings, run, and (headless) capture.
  int stage = 0;
  int exit_code = 0;
  QObject::connect(&w, &ls::app::MainWindow::error_shown, &app, [&](const QString& msg) {
    if (!headless) return;
    std::fprintf(stderr, "longscope: error: %s\n", qPrintable(msg));
    exit_code = 2;
  });
  QObject::connect(&w, &ls::app::MainWindow::idle, &app, [&] {
    if (stage == 0) {
      stage = 1;
      if (exit_code != 0) return app.exit(exit_code);
      w.set_methods(cli.value(methods).split(';', Qt::SkipEmptyParts));
      w.set_length(cli.value(length).toInt());
      w.set_layer_head(cli.value(layer).toInt(), cli.value(head).toInt());
      w.show_view(whole_window ? window_tab : cli.value(view));
      if (headless && cli.value(view) == "sweep") w.run_sweep();
      if (headless && (cli.value(view) == "retrieval" || window_tab == "retrieval")) {
        if (cli.isSet(rlengths)) w.set_retrieval_lengths(cli.value(rlengths));
        w.run_retrieval();
        if (cli.isSet(cell)) stage = 10;  // open the cell once the grid is in
      }
      w.run_now();
      if (!w.busy()) QTimer::singleShot(0, &w, [&w] { emit w.idle(); });
    } else if (stage == 10 && headless) {
      stage = 1;
      const QStringList idx = cli.value(cell).split(',');
      w.open_retrieval_cell(idx.value(0).toInt(), idx.value(1).toInt(), idx.value(2).toInt());
    } else if (stage == 1 && headless) {
      stage = 2;
      if (whole_window) {
        w.show_view(window_tab);  // redraw now (state changes redraw on a short timer), then let charts lay out
        QCoreApplication::processEvents(QEventLoop::ExcludeUserInputEvents);
        const bool ok = w.grab().save(cli.value(shot));
        if (ok) std::printf("wrote %s\n", qPrintable(cli.value(shot)));
        return app.exit(ok ? exit_code : 1);
      }
      if (!w.view(cli.value(view))) {
        std::fprintf(stderr, "longscope: error: unknown view %s\n", qPrintable(cli.value(view)));
        return app.exit(2);
      }
      w.show_view(cli.value(view));
      const bool ok = w.export_view(cli.value(view), cli.value(shot));
      if (ok) std::printf("wrote %s\n", qPrintable(cli.value(shot)));
      app.exit(ok ? exit_code : 1);
    }
  });
  return app.exec();
}
