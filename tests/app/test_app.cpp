// The desktop app under the offscreen platform: every view renders for the
// bundled model, method changes move the plotted data as the math says, cancel is
// prompt, bad input leaves the app usable, exports and sessions work. Screenshots
// of every view are written to the build folder.
#include <QDir>
#include <QDockWidget>
#include <QMenuBar>
#include <QSlider>
#include <QSpinBox>
#include <QElapsedTimer>
#include <QFile>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTextBrowser>
#include <QTextDocument>
#include <QtTest>

#include <sys/stat.h>

#include "app/heatmap_widget.h"
#include "app/method_panel.h"
#include "app/nbce_dialog.h"
#include "core/model/random_model.h"
#include "core/position/spec.h"
#include "app/main_window.h"
#include "app/document_view.h"
#include "app/views/retrieval_view.h"
#include "app/views/story_view.h"
#include "app/views/view.h"

using ls::app::MainWindow;

namespace {

const QString kModel = LONGSCOPE_RESOURCES_DIR "/models/stories260K.gguf";
const QString kDoc = LONGSCOPE_RESOURCES_DIR "/documents/tinystories_1.txt";

bool wait_idle(MainWindow& w, int ms = 60000) {
  QElapsedTimer t;
  t.start();
  while (w.busy() && t.elapsed() < ms) QTest::qWait(10);
  return !w.busy();
}

// An image is "non-empty" when it is not a single flat colour.
int distinct_colours(const QImage& img) {
  QSet<QRgb> seen;
  for (int y = 0; y < img.height(); y += 3)
    for (int x = 0; x < img.width(); x += 3) seen.insert(img.pixel(x, y));
  return seen.size();
}

}  // namespace

class AppTest : public QObject {
  Q_OBJECT
 private slots:
  void initTestCase();
  void every_view_renders_and_exports();
  void linear_factor_divides_frequencies();
  void methods_and_length_change_relpos();
  void attention_detail_at_full_resolution();
  void cancel_is_prompt();
  void bad_model_keeps_app_usable();
  void bad_documents_are_reported();
  void session_round_trip();
  void window_fits_small_screens();
  void story_shows_rope_breaking_beyond_l();
  void toggling_a_method_reuses_cached_results();
  void colours_follow_methods_and_removed_methods_vanish();
  void heatmap_reading_aids();
  void help_view_menu_and_errors_that_stay();
  void nbce_from_the_gui();
  void nothing_stale_after_a_model_switch();
  void bad_model_at_launch_keeps_its_error();
  void slider_follows_typed_length_and_docks_keep_their_size();
  void retrieval_grid_and_a_clicked_prompt();
  void s2attn_view_shows_the_shifted_mask();
  void document_pane_lays_a_long_paragraph_out_once();
  void files_that_are_not_files();

 private:
  void load(MainWindow& w, int length = 1024);
  QString shots_;
};

void AppTest::initTestCase() {
  shots_ = QDir(LONGSCOPE_BUILD_DIR).filePath("screenshots");
  QDir().mkpath(shots_);
}

void AppTest::load(MainWindow& w, int length) {
  w.resize(1400, 900);
  w.show();
  w.open_model(kModel);
  w.open_document(kDoc);
  QVERIFY(wait_idle(w));
  QCOMPARE(w.state()->config.train_len, 512);
  w.set_methods({"rope", "yarn:factor=4", "rerope:window=256"});
  w.set_length(length);
  w.run_now();
  QVERIFY(wait_idle(w));
}

void AppTest::every_view_renders_and_exports() {
  MainWindow w;
  load(w);
  w.run_sweep();
  QVERIFY(wait_idle(w, 120000));
  for (const QString name : {"story", "frequencies", "relpos", "attention", "perplexity", "sweep"}) {
    w.show_view(name);
    ls::app::View* v = w.view(name);
    QVERIFY2(v && v->has_content(), qPrintable(name));
    const QString png = QDir(shots_).filePath(name + ".png");
    QVERIFY(w.export_view(name, png));
    QImage img(png);
    QVERIFY2(!img.isNull() && distinct_colours(img) > 20, qPrintable(name + " looks empty"));
    for (const QString ext : {"svg", "csv", "json"}) {
      const QString f = QDir(shots_).filePath(name + "." + ext);
      QVERIFY(w.export_view(name, f));
      QVERIFY2(QFileInfo(f).size() > 100, qPrintable(f));
    }
    QJsonParseError err;
    QFile jf(QDir(shots_).filePath(name + ".json"));
    QVERIFY(jf.open(QIODevice::ReadOnly));
    QVERIFY(!QJsonDocument::fromJson(jf.readAll(), &err).isNull());
  }
  // The perplexity data are the engine's: three methods, ReRoPE below RoPE beyond L.
  const QJsonObject ppl = w.view("perplexity")->data_json();
  QCOMPARE(ppl["runs"].toArray().size(), 3);
}

void AppTest::linear_factor_divides_frequencies() {
  MainWindow w;
  load(w, 2048);
  w.set_methods({"rope", "linear:factor=4"});
  w.show_view("frequencies");
  const QJsonArray series = w.view("frequencies")->data_json()["series"].toArray();
  QJsonArray rope, lin;
  for (const auto& v : series) {
    const QJsonObject s = v.toObject();
    if (s["name"].toString() == "rope θ") rope = s["y"].toArray();
    if (s["name"].toString() == "linear:factor=4 θ'") lin = s["y"].toArray();
  }
  QCOMPARE(rope.size(), 4);
  QCOMPARE(lin.size(), 4);
  for (int i = 0; i < 4; ++i) QCOMPARE(lin[i].toDouble(), rope[i].toDouble() / 4);
  // NTK slows the low frequencies only.
  w.set_methods({"ntk:alpha=8"});
  w.show_view("frequencies");
  bool found = false;
  for (const auto& v : w.view("frequencies")->data_json()["series"].toArray()) {
    const QJsonObject s = v.toObject();
    if (s["name"].toString() != "ntk:alpha=8 θ'") continue;
    found = true;
    QCOMPARE(s["y"].toArray()[0].toDouble(), 1.0);
    // d = 8: b' = 10000·8^(8/6) = 160000, θ'_3 = 160000^(-3/4) = θ_3 / 8
    QVERIFY(std::fabs(s["y"].toArray()[3].toDouble() - rope[3].toDouble() / 8) < 1e-12);
  }
  QVERIFY(found);
}

void AppTest::attention_detail_at_full_resolution() {
  MainWindow w;
  load(w, 2048);  // pooled to 1024×1024
  w.show_view("attention");
  QCOMPARE(w.view("attention")->data_json()["pooled"].toInt(), 1024);
  w.start_attention_detail(1000, 600, 512);
  QVERIFY(wait_idle(w));
  const QJsonObject d = w.view("attention")->data_json();
  QCOMPARE(d["region"].toObject()["size"].toInt(), 512);
  QCOMPARE(d["region"].toObject()["q0"].toInt(), 1000);
  QCOMPARE(d["attention"].toArray().size(), 512);
  double row = 0;  // query 1511 sees keys 600 … 1111 of its 1512: a part of its mass
  for (const auto& v : d["attention"].toArray()[511].toArray()) row += v.toDouble();
  QVERIFY(row > 0 && row < 1.0001);
}

void AppTest::methods_and_length_change_relpos() {
  MainWindow w;
  load(w, 512);
  w.set_methods({"rerope:window=64"});
  w.show_view("relpos");
  QJsonObject r = w.view("relpos")->data_json();
  QCOMPARE(r["length"].toInt(), 512);
  const QJsonArray m = r["relpos"].toArray();
  QCOMPARE(m[511].toArray()[0].toDouble(), 64.0);  // capped at the window
  QVERIFY(m[0].toArray()[1].isNull());             // future keys are masked
  w.set_length(300);
  w.show_view("relpos");
  QCOMPARE(w.view("relpos")->data_json()["length"].toInt(), 300);
}

void AppTest::cancel_is_prompt() {
  MainWindow w;
  load(w, 256);
  const QString big = LONGSCOPE_RESOURCES_DIR "/documents/tinystories_3.txt";
  w.open_document(big);
  QVERIFY(wait_idle(w));
  w.set_methods({"rope", "rerope:window=256", "yarn:factor=8"});
  w.set_length(8192);  // several seconds of work on this machine
  w.run_now();
  QTest::qWait(300);
  QVERIFY(w.busy());
  QElapsedTimer t;
  t.start();
  w.cancel_runs();
  // Promptness in units of work is BackendSeam.CancelStopsBeforeTheNextLayer (no
  // later layer runs); here the app goes idle and says how long that took.
  QVERIFY(wait_idle(w, 5000));
  qInfo("cancel took %lld ms", (long long)t.elapsed());
  // A cancelled run never shows stale results, and the app runs again.
  w.set_length(256);
  w.run_now();
  QVERIFY(wait_idle(w));
  QVERIFY(w.state()->ppl && w.state()->ppl->ctx == 256);
}

void AppTest::bad_model_keeps_app_usable() {
  MainWindow w;
  load(w, 256);
  QTemporaryDir dir;
  QFile f(dir.filePath("broken.gguf"));
  QVERIFY(f.open(QIODevice::WriteOnly));
  QFile good(kModel);
  QVERIFY(good.open(QIODevice::ReadOnly));
  f.write(good.read(5000));  // truncated
  f.close();
  QSignalSpy errors(&w, &MainWindow::error_shown);
  w.open_model(dir.filePath("broken.gguf"));
  QVERIFY(wait_idle(w));
  QCOMPARE(errors.count(), 1);
  QVERIFY(w.last_error().contains("broken.gguf"));
  QVERIFY(w.status_text().contains("Error"));
  QCOMPARE(w.state()->model_path, kModel);  // the previous model is kept
  // Inputs that once aborted the app (heap overflow, uncaught exceptions): one error each.
  for (const char* bad : {"bloom_key_length.gguf", "wrong_type_key.gguf", "huge_array.gguf", "config_wrong_type",
                          "bloom_indivisible", "fuzz_control_char_key.gguf"}) {
    w.open_model(QString(LONGSCOPE_TEST_DIR "/data/bad/") + bad);
    QVERIFY(wait_idle(w));
    QVERIFY2(w.last_error().contains(bad), qPrintable(w.last_error()));
    QVERIFY(!w.last_error().contains('\n'));
    QCOMPARE(w.state()->model_path, kModel);
  }
  QCOMPARE(errors.count(), 7);
  w.set_length(128);
  w.run_now();
  QVERIFY(wait_idle(w));
  QVERIFY(w.state()->ppl && w.state()->ppl->ctx == 128);
  // An impossible length is clamped to what memory allows, never a crash.
  w.set_length(1 << 30);
  QVERIFY(w.state()->length <= w.state()->max_length);
}

void AppTest::bad_documents_are_reported() {
  MainWindow w;
  load(w, 256);
  QTemporaryDir dir;
  auto write = [&](const QString& name, const QByteArray& bytes) {
    QFile f(dir.filePath(name));
    f.open(QIODevice::WriteOnly);
    f.write(bytes);
    return dir.filePath(name);
  };
  const auto before = w.state()->document;
  for (const auto& [name, bytes, expect] :
       {std::tuple{"empty.txt", QByteArray("  \n\n"), "empty"}, {"latin1.txt", QByteArray("caf\xe9"), "UTF-8"},
        {"missing.txt", QByteArray(), "does not exist"}, {"huge.txt", QByteArray(), "limit"}}) {
    QString path = name == QString("missing.txt") ? dir.filePath("nope.txt") : write(name, bytes);
    if (name == QString("huge.txt")) QFile::resize(path, (qint64{16} << 20) + 1);  // past the app's 16 MiB
    w.open_document(path);
    QVERIFY(wait_idle(w));
    QVERIFY2(w.last_error().contains(expect), qPrintable(w.last_error()));
    QCOMPARE(w.state()->document, before);  // the previous document stays
  }
}

void AppTest::session_round_trip() {
  QTemporaryDir dir;
  const QString path = dir.filePath("s.json");
  {
    MainWindow w;
    load(w, 700);
    w.set_methods({"ntk:alpha=4", "leaky-rerope:window=128,k=16"});
    w.set_layer_head(2, 5);
    w.show_view("attention");
    QVERIFY(w.save_session(path));
  }
  MainWindow w2;
  w2.show();
  QVERIFY(w2.load_session(path));
  QVERIFY(wait_idle(w2));
  QTest::qWait(50);
  QVERIFY(wait_idle(w2));
  QCOMPARE(w2.state()->length, 700);
  QCOMPARE(w2.state()->method_specs(), QStringList({"ntk:alpha=4", "leaky-rerope:window=128,k=16"}));
  QCOMPARE(w2.state()->layer, 2);
  QCOMPARE(w2.state()->head, 5);
}

// The window's minimum size fits 1280×720 with any number of methods (and so
// 1920×1080 at QT_SCALE_FACTOR=1.5, which is the same condition in device-independent pixels).
void AppTest::window_fits_small_screens() {
  MainWindow w;
  load(w, 256);
  for (const QStringList& methods :
       {QStringList{"rope"}, QStringList{"rope", "ntk:alpha=4", "yarn:factor=4", "rerope:window=256,logn=1",
                                         "leaky-rerope:window=128,k=16", "self-extend:window=64,group=4",
                                         "ntk-by-parts:factor=4", "llama3:factor=4"}}) {
    w.set_methods(methods);
    w.run_now();
    QVERIFY(wait_idle(w));
    for (const QString v : {"story", "frequencies", "relpos", "attention", "perplexity", "sweep"}) {
      w.show_view(v);
      QCoreApplication::processEvents();
      const QSize min = w.minimumSizeHint().expandedTo(w.minimumSize());
      QVERIFY2(min.width() <= 1280 && min.height() <= 720,
               qPrintable(QString("%1 methods, view %2: minimum %3×%4").arg(methods.size()).arg(v).arg(min.width()).arg(min.height())));
    }
  }
  w.resize(1280, 720);
  QCoreApplication::processEvents();
  QVERIFY(w.width() <= 1280 && w.height() <= 720);
}

// The first view tells the story by itself at the default settings: RoPE's loss
// rises beyond L and the repairs hold it down (defaults: n = 8L on stories260K).
void AppTest::story_shows_rope_breaking_beyond_l() {
  MainWindow w;
  w.resize(1280, 720);
  w.show();
  w.open_model(kModel);
  w.open_document(kDoc);
  QVERIFY(wait_idle(w));
  QCOMPARE(w.state()->length, 4096);
  w.run_now();
  QVERIFY(wait_idle(w, 240000));
  w.show_view("story");
  const QJsonObject story = w.view("story")->data_json();
  std::map<QString, std::pair<double, double>> inside_beyond;
  for (const auto& c : story["curves"].toArray())
    inside_beyond[c.toObject()["method"].toString()] = {c.toObject()["inside_l"].toDouble(), c.toObject()["beyond_l"].toDouble()};
  QVERIFY(inside_beyond.count("rope") && inside_beyond.count("rerope:window=256,logn=1"));
  const auto rope = inside_beyond["rope"], rerope = inside_beyond["rerope:window=256,logn=1"];
  QVERIFY2(rope.second > rope.first + 1.0, "RoPE should break beyond L");
  QVERIFY2(rerope.second < rope.second - 1.0 && rerope.second < rerope.first + 0.3, "ReRoPE should hold");
  QVERIFY(w.state()->sweep);  // the right-hand chart computed itself
  QVERIFY(w.view("sweep")->has_content());
  QVERIFY(static_cast<ls::app::StoryView*>(w.view("story"))->sentence().contains("beyond"));
}

void AppTest::toggling_a_method_reuses_cached_results() {
  MainWindow w;
  load(w, 1024);
  const auto first = w.state()->ppl;
  QVERIFY(first && first->results.size() == 3);
  w.set_methods({"rope", "yarn:factor=4", "rerope:window=256", "ntk:alpha=4"});
  w.run_now();
  QVERIFY(wait_idle(w));
  const auto second = w.state()->ppl;
  QCOMPARE(second->results.size(), size_t{4});
  for (int k = 0; k < 3; ++k) QCOMPARE(second->results[k].nll, first->results[k].nll);
  // A cached result costs no compute: its timing is the original run's, copied.
  QCOMPARE(second->results[0].seconds, first->results[0].seconds);
}

void AppTest::colours_follow_methods_and_removed_methods_vanish() {
  MainWindow w;
  load(w, 512);
  w.run_sweep();
  QVERIFY(wait_idle(w, 120000));
  const QColor yarn = w.state()->colour_of("yarn:factor=4"), rerope = w.state()->colour_of("rerope:window=256");
  QVERIFY(yarn != rerope);
  w.set_methods({"yarn:factor=4", "rerope:window=256"});  // rope removed: the others keep their colours
  QCOMPARE(w.state()->colour_of("yarn:factor=4"), yarn);
  QCOMPARE(w.state()->colour_of("rerope:window=256"), rerope);
  w.set_methods({"yarn:factor=8", "rerope:window=256"});  // a parameter edit keeps the method's colour
  QCOMPARE(w.state()->colour_of("yarn:factor=8"), yarn);
  w.show_view("sweep");
  const QString csv = w.view("sweep")->data_csv();
  QVERIFY(csv.contains("yarn:factor=4") || csv.contains("rerope"));
  QVERIFY2(!csv.contains("\"rope\""), qPrintable(csv));  // exports never show a removed method either
  const QJsonArray curves = w.view("story")->data_json()["curves"].toArray();
  for (const auto& c : curves) QVERIFY(c.toObject()["method"].toString() != "rope");  // never drawn once removed
}

// Colour-bar numbers are whole (2050, not "2.05e+0"), a difference map is
// centred on zero (equal matrices are all neutral white), and a new matrix
// shape resets the zoom.
void AppTest::heatmap_reading_aids() {
  ls::app::HeatmapWidget h;
  h.resize(600, 400);
  h.set_data(2, 2, {0.0f, 2050.0f, 10.0f, 100.0f}, "t");
  QCOMPARE(h.bar_labels(), QStringList({"2050", "0"}));
  h.set_diverging(true);
  h.set_data(2, 2, {0.0f, 0.0f, 0.0f, 0.0f}, "A − A");
  const QColor zero = h.colour_of_value(0.0f);
  QVERIFY2(zero.red() > 245 && zero.green() > 245 && zero.blue() > 245, qPrintable(zero.name()));
  h.set_diverging(false);
  h.set_data(100, 100, std::vector<float>(10000, 1.0f), "a");
  h.zoom_by(4);
  h.set_data(50, 50, std::vector<float>(2500, 1.0f), "b");  // a different matrix: the whole of it is shown
  QCOMPARE(h.view_centre(), QPointF(25, 25));
}

void AppTest::help_view_menu_and_errors_that_stay() {
  MainWindow w;
  load(w, 256);
  QStringList menus;
  for (QAction* a : w.menuBar()->actions()) menus << a->text().remove('&');
  QVERIFY2(menus.contains("Help") && menus.contains("View"), qPrintable(menus.join(",")));
  QVERIFY(ls::app::guide_html().contains("beyond"));
  for (const auto& m : ls::method_registry()) QVERIFY2(m.explain.size() > 40, m.name.c_str());  // every method explained
  // A closed pane comes back from the View menu.
  auto* dock = w.findChildren<QDockWidget*>().first();
  dock->close();
  QVERIFY(dock->isHidden());
  dock->toggleViewAction()->trigger();
  QVERIFY(!dock->isHidden());
  // An error stays visible after the next ordinary message.
  w.set_methods({"alibi"});  // an ALiBi method on a RoPE model is refused, not silently dropped
  QVERIFY(w.error_visible());
  QVERIFY(w.last_error().contains("ALiBi"));
  w.set_length(300);
  w.run_now();
  QVERIFY(wait_idle(w));
  QVERIFY(w.error_visible());
  // A hidden method leaves every view and export.
  w.state()->set_hidden("yarn:factor=4", true);
  QVERIFY(!w.view("perplexity")->data_csv().contains("yarn"));
  QVERIFY(w.view("perplexity")->data_csv().contains("rope"));
}

void AppTest::nbce_from_the_gui() {
  MainWindow w;
  load(w, 256);
  w.set_methods({"rope", "rerope:window=256"});
  auto* dlg = w.show_nbce();
  QVERIFY(dlg);
  w.ask_nbce();
  QVERIFY(wait_idle(w, 120000));
  QVERIFY(w.state()->nbce);
  QCOMPARE(w.state()->nbce->answers.size(), size_t{2});
  QCOMPARE(dlg->table()->rowCount(), 2);
  for (const auto& a : w.state()->nbce->answers) QVERIFY2(!a.trimmed().isEmpty(), "an empty answer");
}

// Opening the ALiBi twin after the RoPE model: the dropped RoPE methods are said,
// the attention shows the twin's own heads, and no view keeps the old results.
void AppTest::nothing_stale_after_a_model_switch() {
  MainWindow w;
  load(w, 256);
  w.show_view("attention");
  QVERIFY(w.state()->attention);
  QCOMPARE((int)w.state()->attention->map.heads.size(), 8);
  QSignalSpy errors(&w, &MainWindow::error_shown);
  w.open_model(LONGSCOPE_RESOURCES_DIR "/models/twins/alibi_twin");
  QVERIFY(wait_idle(w, 120000));
  // No RoPE method can run on an ALiBi model: the list becomes the ALiBi family
  // (native first), said in the status line, not raised as an error.
  QCOMPARE(errors.count(), 0);
  QVERIFY2(w.status_text().contains("position family"), qPrintable(w.status_text()));
  const QStringList family = w.state()->method_specs();
  QCOMPARE(family.size(), 3);
  QCOMPARE(family[0], QString("alibi"));
  QVERIFY(family[2].startsWith("ntk-alibi"));
  w.run_now();
  QVERIFY(wait_idle(w, 120000));
  QVERIFY2(w.state()->attention, qPrintable(w.last_error() + " / " + w.status_text()));
  QCOMPARE((int)w.state()->attention->map.heads.size(), w.state()->config.n_heads);
  QVERIFY(w.state()->config.n_heads != 8);
  QVERIFY(w.state()->ppl && w.state()->ppl->methods.size() == 3 && w.state()->ppl->methods[0] == "alibi");
  // A mixed list keeps what fits and says what left.
  w.set_methods({"rope", "alibi"});
  QVERIFY(wait_idle(w, 120000));
  QCOMPARE(w.state()->method_specs(), QStringList({"alibi"}));
  QVERIFY(errors.count() >= 1);
  // Image exports show the plot, not the controls above it.
  QTemporaryDir dir;
  QVERIFY(w.export_view("relpos", dir.filePath("r.png")));
  QVERIFY(QImage(dir.filePath("r.png")).height() < w.view("relpos")->height());
}

// `longscope --model broken` then the document: the model's error stays on screen
// (not "load a model before a document"), no view draws a made-up geometry, and
// the document opens once a good model arrives.
void AppTest::bad_model_at_launch_keeps_its_error() {
  MainWindow w;
  w.resize(1280, 720);
  w.show();
  w.open_model("/nonexistent/model.gguf");
  w.open_document(kDoc);
  QVERIFY(wait_idle(w));
  QVERIFY2(w.last_error().contains("does not exist"), qPrintable(w.last_error()));
  QVERIFY(w.error_visible());
  w.show_view("frequencies");
  QVERIFY(!w.view("frequencies")->has_content() || w.view("frequencies")->data_json()["series"].toArray().isEmpty());
  w.open_model(kModel);
  QVERIFY(wait_idle(w));
  QVERIFY(w.state()->document);  // the waiting document was opened with the model
  QCOMPARE(w.state()->document->path, kDoc);
}

void AppTest::slider_follows_typed_length_and_docks_keep_their_size() {
  MainWindow w;
  load(w, 256);
  QSpinBox* box = nullptr;
  auto* panel = w.findChildren<ls::app::MethodPanel*>().first();
  for (auto* b : panel->findChildren<QSpinBox*>())
    if (b->suffix() == " tokens") box = b;
  QVERIFY(box);
  QSlider* slider = nullptr;
  for (auto* sl : panel->findChildren<QSlider*>())
    if (sl->maximum() >= 40) slider = sl;  // the length slider (quarter-octaves)
  QVERIFY(slider);
  box->setValue(3000);  // as typing ends
  QCOMPARE(w.state()->length, 3000);
  QCOMPARE(slider->value(), (int)std::lround(4 * std::log2(3000.0)));
  // Switching tabs never resizes the side panes.
  QMap<QDockWidget*, QSize> before;
  for (auto* d : w.findChildren<QDockWidget*>()) before[d] = d->size();
  for (const QString v : {"frequencies", "relpos", "attention", "perplexity", "sweep", "story"}) {
    w.show_view(v);
    QCoreApplication::processEvents();
    for (auto* d : w.findChildren<QDockWidget*>())
      QVERIFY2(d->size() == before[d], qPrintable(v + ": " + d->windowTitle() + " resized"));
  }
}

// The Retrieval view: a passkey grid per method (and NBCE), a click on a cell opens
// its prompt in the document pane with the retrieval head; Back restores the document.
void AppTest::retrieval_grid_and_a_clicked_prompt() {
  MainWindow w;
  load(w, 256);
  w.set_methods({"rope", "ntk:alpha=4"});
  w.show_view("retrieval");
  auto* rv = qobject_cast<ls::app::RetrievalView*>(w.view("retrieval"));
  QVERIFY(rv);
  w.set_retrieval_lengths("256,600");
  w.run_retrieval();
  QVERIFY(wait_idle(w, 120000));
  auto grid = w.state()->retrieval;
  QVERIFY(grid);
  QCOMPARE(grid->grid.methods.size(), size_t{2});
  QCOMPARE(grid->grid.cells.size(), size_t{2 * 2 * 5});
  for (const auto& c : grid->grid.cells) QCOMPARE(c.trials.size(), size_t{3});
  // The same keys for both methods.
  QCOMPARE(grid->grid.cell(1, 1, 3)->trials[2].key, grid->grid.cell(0, 1, 3)->trials[2].key);
  for (const QString ext : {"png", "csv", "json"}) {
    const QString f = QDir(shots_).filePath("retrieval." + ext);
    QVERIFY(w.export_view("retrieval", f));
    QVERIFY2(QFileInfo(f).size() > 100, qPrintable(f));
  }
  QCOMPARE(w.view("retrieval")->data_csv().count('\n'), 1 + 20);
  // Click the cell (ntk, 600 tokens, depth 0.5).
  auto* gw = rv->grid();
  const QRect r = gw->cell_rect(1, 1, 2);
  QVERIFY(r.isValid());
  QTest::mouseClick(gw, Qt::LeftButton, Qt::NoModifier, r.center());
  QVERIFY(wait_idle(w, 120000));
  auto det = w.state()->retrieval_detail;
  QVERIFY(det);
  QCOMPARE(det->method, QString("ntk:alpha=4"));
  QCOMPARE(det->length, 600);
  QCOMPARE(det->prompt.answer_begin, 600);
  QCOMPARE(det->trial.key, grid->grid.cell(1, 1, 2)->trials[0].key);
  QCOMPARE((int)det->head.row.size(), det->prompt.answer_begin);
  QCOMPARE(det->nll.size(), det->prompt.tokens.size() - 1);
  auto* doc = w.findChild<ls::app::DocumentView*>();
  QVERIFY(doc);
  QTest::qWait(50);
  QVERIFY(doc->showing_prompt());
  w.grab().save(QDir(shots_).filePath("retrieval_window.png"));
  auto* back = doc->findChild<QPushButton*>();
  QVERIFY(back);
  back->click();
  QVERIFY(!doc->showing_prompt());
  // NBCE as a row of its own.
  rv->findChild<QCheckBox*>()->setChecked(true);
  w.set_retrieval_lengths("256");
  w.run_retrieval();
  QVERIFY(wait_idle(w, 120000));
  QCOMPARE(w.state()->retrieval->grid.methods.size(), size_t{3});
  QCOMPARE(QString::fromStdString(w.state()->retrieval->grid.methods[2]), QString("nbce:k=4"));
}

void AppTest::s2attn_view_shows_the_shifted_mask() {
  MainWindow w;
  load(w, 256);
  w.show_view("s2attn");
  ls::app::View* v = w.view("s2attn");
  QVERIFY(v && v->has_content());
  const QJsonObject j = v->data_json();
  QCOMPARE(j["n"].toInt(), 64);
  QCOMPARE(j["group"].toInt(), 16);
  const QJsonArray sh = j["shifted_heads"].toArray(), un = j["unshifted_heads"].toArray();
  QCOMPARE(un[16].toArray()[15].toInt(), 0);  // unshifted groups do not cross their border
  QCOMPARE(sh[16].toArray()[15].toInt(), 1);  // shifted ones do
  QCOMPARE(sh[0].toArray()[63].toInt(), 2);   // the wrapped group sees a future token
  const QString png = QDir(shots_).filePath("s2attn.png");
  QVERIFY(w.export_view("s2attn", png));
  QVERIFY(distinct_colours(QImage(png)) > 3);
}

// A document of one long paragraph (a book as running text) is filled in one edit:
// the text layout runs once, not once per token, which was quadratic in the
// paragraph's length (minutes for the held-out books).
void AppTest::document_pane_lays_a_long_paragraph_out_once() {
  MainWindow w;
  w.resize(1280, 720);
  w.show();
  w.open_model(kModel);
  QVERIFY(wait_idle(w));
  QTemporaryDir dir;
  const QString path = dir.filePath("one_paragraph.txt");
  {
    QFile f(path);
    QVERIFY(f.open(QIODevice::WriteOnly));
    for (int i = 0; i < 600; ++i) f.write("Once upon a time there was a little dog. ");
  }
  auto* doc = w.findChild<ls::app::DocumentView*>();
  QVERIFY(doc);
  auto* text = doc->findChild<QTextBrowser*>();
  QVERIFY(text);
  QSignalSpy changes(text->document(), &QTextDocument::contentsChange);
  w.open_document(path);
  QVERIFY(wait_idle(w));
  QTest::qWait(50);
  const int tokens = (int)w.state()->document->tokens.size();
  QVERIFY2(tokens > 5000, qPrintable(QString::number(tokens)));
  QVERIFY(text->toPlainText().size() > 20000);
  QCOMPARE(text->document()->blockCount(), 1);
  QVERIFY2(changes.count() <= 8, qPrintable(QString("%1 layout updates for %2 tokens").arg(changes.count()).arg(tokens)));
}


// A FIFO, a directory, a symlink loop, a model folder whose tokenizer.json nests
// 5000 levels deep, a session nested as deep: one error each, nothing waits on a
// pipe, the model and document in use stay.
void AppTest::files_that_are_not_files() {
  MainWindow w;
  load(w, 256);
  QTemporaryDir dir;
  const QString fifo = dir.filePath("model.gguf");
  QCOMPARE(mkfifo(fifo.toLocal8Bit().constData(), 0600), 0);
  QVERIFY(QDir(dir.path()).mkdir("folder.txt"));
  QVERIFY(QFile::link(dir.filePath("loop_b"), dir.filePath("loop_a")));
  QVERIFY(QFile::link(dir.filePath("loop_a"), dir.filePath("loop_b")));
  // A model folder: config.json and safetensors of the bundled shape, and the deep tokenizer.json.
  const QString folder = dir.filePath("deep");
  auto spec = ls::random_model_shape("bundled");
  QVERIFY(spec.ok());
  QVERIFY(ls::write_hf_model(ls::make_random_model(spec.value()), folder.toStdString()).ok());
  QFile::remove(folder + "/tokenizer.model");
  QVERIFY(QFile::copy(LONGSCOPE_TEST_DIR "/data/bad/deep_model_tokenizer.json", folder + "/tokenizer.json"));
  const auto doc_before = w.state()->document;
  for (const auto& [path, expect] : {std::pair{fifo, QString("FIFO")}, {folder, QString("nests more than 64 levels")},
                                     {dir.filePath("loop_a"), QString("symbolic link loop")}}) {
    w.open_model(path);
    QVERIFY(wait_idle(w));
    QVERIFY2(w.last_error().contains(expect), qPrintable(w.last_error()));
    QCOMPARE(w.state()->model_path, kModel);
  }
  for (const auto& [path, expect] : {std::pair{fifo, QString("FIFO")}, {dir.filePath("folder.txt"), QString("directory")}}) {
    w.open_document(path);
    QVERIFY(wait_idle(w));
    QVERIFY2(w.last_error().contains(expect), qPrintable(w.last_error()));
    QCOMPARE(w.state()->document, doc_before);
  }
  QVERIFY(!w.load_session(fifo));
  QVERIFY2(w.last_error().contains("FIFO"), qPrintable(w.last_error()));
  QFile deep(dir.filePath("deep_session.json"));
  QVERIFY(deep.open(QIODevice::WriteOnly));
  deep.write("{\"longscope_session\": 1, \"views\": " + QByteArray(5000, '[') + QByteArray(5000, ']') + "}");
  deep.close();
  QVERIFY(!w.load_session(deep.fileName()));
  QVERIFY2(w.last_error().contains("not a LongScope session"), qPrintable(w.last_error()));
  w.run_now();
  QVERIFY(wait_idle(w));
  QVERIFY(w.state()->ppl);
}

QTEST_MAIN(AppTest)
#include "test_app.moc"
