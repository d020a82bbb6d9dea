// LongScope desktop app. Without options it opens the bundled model on a bundled
// long document; --screenshot renders one view to a file without showing a window.
#include <QApplication>
#include <QCommandLineParser>

#include "app/app_state.h"
#include "app/main_window.h"
#include "app/startup_run.h"

namespace {

QString resource(const char* rel) { return QString(LONGSCOPE_RESOURCES_DIR) + "/" + rel; }

}  // namespace

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  QApplication::setApplicationName("LongScope");
  QApplication::setApplicationVersion(LONGSCOPE_VERSION);
  QCommandLineParser cli;
  cli.setApplicationDescription("See why language models fail beyond their training length.");
  cli.addHelpOption();
  QCommandLineOption shot("screenshot", "render one view to OUT.png (or .svg) without showing a window", "OUT");
  QCommandLineOption view("view", "view to render: story|frequencies|relpos|attention|perplexity|sweep|retrieval|s2attn, or window / window:VIEW (the whole window)",
                          "VIEW", "story");
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
  if (cli.isSet(session)) {
    w.show();
    w.load_session(cli.value(session));
    return app.exec();
  }
  ls::app::StartupOptions o;
  o.model = cli.value(model);
  o.document = cli.value(doc);
  o.train_len_override = cli.value(train_len).toInt();
  o.methods = cli.value(methods).split(';', Qt::SkipEmptyParts);
  o.length = cli.value(length).toInt();
  o.layer = cli.value(layer).toInt();
  o.head = cli.value(head).toInt();
  o.view = cli.value(view);
  o.screenshot = cli.value(shot);
  const QStringList wh = cli.value(size).split('x');
  if (wh.value(0).toInt() > 0) o.width = wh.value(0).toInt();
  if (wh.value(1).toInt() > 0) o.height = wh.value(1).toInt();
  o.retrieval_lengths = cli.isSet(rlengths) ? cli.value(rlengths) : QString();
  o.cell = cli.isSet(cell) ? cli.value(cell) : QString();
  ls::app::StartupRun run(w, o);
  QObject::connect(&run, &ls::app::StartupRun::finished, &app, [&app](int code) { app.exit(code); });
  run.start();
  return app.exec();
}
