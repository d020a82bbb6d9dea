// The app's own timings, in one process on the offscreen platform, as a user meets
// them on the bundled model and document (README "The app"):
//   launch → Story complete   open the model and document, then NLL of the Story's four
//                             methods at n = 4096 and the right chart's sweep;
//   n change                  4096 → 8192 until both charts are complete again;
//   layer switch              the Attention view at n = 8192: layer 0 → 1 (a forward), a
//                             head switch, and back to layer 0 (both from the cache).
// Medians over --reps fresh windows. There is no "before" in one process: the side-by-side
// ratios are bench/app_timings.sh (two builds) and bench_attention_layer (the layer's maps).
//
// usage: QT_QPA_PLATFORM=offscreen bench_app [--reps 3]
#include <QApplication>
#include <QElapsedTimer>
#include <QTest>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "app/app_state.h"
#include "app/main_window.h"
#include "bench/bench_util.h"
#include "core/cpu/blas_info.h"

namespace {

using ls::app::MainWindow;

void wait_idle(MainWindow& w) {
  QTest::qWait(300);  // the debounce and the coalesced redraw start the runs
  while (w.busy()) QTest::qWait(5);
}

double seconds(const std::function<void()>& act, MainWindow& w) {
  QElapsedTimer t;
  t.start();
  act();
  QCoreApplication::processEvents();
  while (w.busy()) QTest::qWait(2);
  return t.elapsed() / 1000.0;
}

}  // namespace

int main(int argc, char** argv) {
  QApplication app(argc, argv);
  int reps = 3;
  for (int i = 1; i + 1 < argc; ++i)
    if (!std::strcmp(argv[i], "--reps")) reps = std::max(1, std::atoi(argv[i + 1]));
  const QString res = LONGSCOPE_RESOURCES_DIR;
  std::vector<double> launch, nchange, layer, head, back;
  for (int r = 0; r < reps; ++r) {
    MainWindow w;
    w.resize(1280, 720);
    w.show();
    launch.push_back(seconds([&] {
      w.open_model(res + "/models/stories260K.gguf");
      w.open_document(res + "/documents/tinystories_1.txt");
      while (w.busy()) QTest::qWait(2);
      w.set_methods(QString(ls::app::AppState::kRopeStory).split(';'));
      w.set_length(4096);
      w.run_now();
      QTest::qWait(2);
      while (w.busy()) QTest::qWait(2);  // the PPL, then the sweep it starts
    }, w));
    if (!w.state()->sweep) return std::fprintf(stderr, "error: the Story did not complete\n"), 1;
    nchange.push_back(seconds([&] {
      w.set_length(8192);
      w.run_now();
      QTest::qWait(2);
      while (w.busy()) QTest::qWait(2);
    }, w));
    w.show_view("attention");
    w.set_layer_head(0, 0);
    wait_idle(w);
    layer.push_back(seconds([&] { w.set_layer_head(1, 0); }, w));
    head.push_back(seconds([&] { w.set_layer_head(1, 5); }, w));
    back.push_back(seconds([&] { w.set_layer_head(0, 5); }, w));
  }
  using ls::bench::median;
  std::printf("stories260K on tinystories_1, medians of %d fresh windows; BLAS: %s\n", reps, ls::blas_description().c_str());
  std::printf("launch → Story complete (n = 4096)      %7.2f s\n", median(launch));
  std::printf("n change 4096 → 8192 (both charts)      %7.2f s\n", median(nchange));
  std::printf("layer switch 0 → 1 at n = 8192           %7.2f s\n", median(layer));
  std::printf("head switch within the layer             %7.3f s\n", median(head));
  std::printf("back to layer 0 (cached)                 %7.3f s\n", median(back));
  return 0;
}
