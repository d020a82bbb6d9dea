// The window: cancel, small screens, cached results, help and errors, NBCE, the length
// slider and docks.
#include "tests/app/app_test.h"

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
  w.state()->set_hidden(w.state()->id_of(spec("yarn:factor=4")), true);
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

// The job board: a newer job of a kind cancels the one in flight and only its result
// counts; forgetting a kind (a model switch) leaves no job of it current.
void AppTest::job_board_latest_wins() {
  using ls::app::JobBoard;
  using ls::app::JobKind;
  JobBoard b;
  QVERIFY(!b.busy());
  const quint64 p1 = b.start(JobKind::Ppl), a1 = b.start(JobKind::Attention);
  const auto f1 = b.cancel_flag(p1);
  const quint64 p2 = b.start(JobKind::Ppl);
  QVERIFY(*f1);                          // the older ppl job is cancelled
  QVERIFY(!*b.cancel_flag(a1));          // another kind's is not
  QVERIFY(b.is_latest(JobKind::Ppl, p2) && !b.is_latest(JobKind::Ppl, p1));
  QVERIFY(b.running(p1, JobKind::Ppl) && !b.running(p1, JobKind::Sweep));
  QVERIFY(b.finish(p1) && !b.finish(p1));
  b.cancel_and_forget(JobKind::Ppl);
  QVERIFY(*b.cancel_flag(p2) && !b.is_latest(JobKind::Ppl, p2));
  QVERIFY(*b.cancel_flag(12345));        // a job not on the board reads as cancelled
  b.cancel_all();
  QVERIFY(*b.cancel_flag(a1));
  QVERIFY(b.finish(p2) && b.finish(a1) && !b.busy());
}
