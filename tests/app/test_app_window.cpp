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
  // Scored against an expected answer: the found column follows the answers.
  QCOMPARE(dlg->table()->item(0, 2)->text(), QString("—"));
  const QString first_word = w.state()->nbce->answers[0].simplified().section(' ', 0, 0);
  dlg->set_expected(first_word.toUpper());  // case ignored
  QCOMPARE(dlg->table()->item(0, 2)->text(), QString("✓ found"));
  dlg->set_expected("zebra-that-no-story-has");
  QCOMPARE(dlg->table()->item(0, 2)->text(), QString("✗ not found"));
  QVERIFY(ls::app::nbce_answer_found(" Lily was  happy ", "lily WAS happy") && !ls::app::nbce_answer_found("x", "  "));
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
    if (sl->toolTip().contains("multiples of the training length")) slider = sl;  // the length slider
  QVERIFY(slider);
  // Its stops: powers of two and multiples of L (512), then the cap (the document's length − 1).
  const std::vector<int> stops = ls::app::length_stops(512, w.state()->length_cap());
  QCOMPARE(slider->maximum(), (int)stops.size() - 1);
  for (size_t i = 0; i < stops.size(); ++i)
    QVERIFY2(stops[i] == w.state()->length_cap() || (stops[i] & (stops[i] - 1)) == 0 || stops[i] % 512 == 0,
             qPrintable(QString::number(stops[i])));
  box->setValue(3000);  // as typing ends
  QCOMPARE(w.state()->length, 3000);
  QCOMPARE(stops[(size_t)slider->value()], 3072);  // the nearest stop: 6L
  slider->setValue(slider->value() + 1);
  QCOMPARE(w.state()->length, 3584);  // 7L, a value the slider offers, never an odd one
  QCOMPARE(box->value(), 3584);
  // More than the document holds: the field takes the cap, and the run, the field and the
  // Frequencies view all use it.
  w.set_length(99999999);
  QCOMPARE(w.state()->length, w.state()->length_cap());
  QCOMPARE(box->value(), w.state()->length_cap());
  QVERIFY(w.status_text().contains("longer than the document"));
  QCOMPARE(w.view("frequencies")->data_json()["length"].toInt(), w.state()->length_cap());
  w.cancel_runs();
  QVERIFY(wait_idle(w));
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

namespace {

// Controls of `root` that a user cannot read whole: a button, check box, combo box or
// one-line label narrower than its text, a slider squeezed below 40 px, a tab cut off.
QStringList clipped_controls(QWidget* root) {
  QStringList out;
  auto visible = [root](QWidget* w) { return w->isVisibleTo(root) && w->window() == root; };
  for (auto* b : root->findChildren<QAbstractButton*>()) {
    if (!visible(b) || b->text().isEmpty() || qobject_cast<QToolButton*>(b)) continue;
    if (b->width() < b->sizeHint().width())
      out << QString("button \"%1\" %2 px < %3").arg(b->text()).arg(b->width()).arg(b->sizeHint().width());
  }
  for (auto* c : root->findChildren<QComboBox*>()) {
    if (!visible(c) || c->currentText().isEmpty()) continue;
    const int need = c->fontMetrics().horizontalAdvance(c->currentText()) + 28;  // text + frame and arrow
    if (c->width() < need) out << QString("combo \"%1\" %2 px < %3").arg(c->currentText()).arg(c->width()).arg(need);
  }
  for (auto* e : root->findChildren<QLineEdit*>()) {
    if (!visible(e) || e->text().isEmpty() || qobject_cast<QAbstractSpinBox*>(e->parentWidget())) continue;
    const int need = e->fontMetrics().horizontalAdvance(e->text()) + 10;
    if (e->width() < need) out << QString("field \"%1\" %2 px < %3").arg(e->text()).arg(e->width()).arg(need);
  }
  for (auto* b : root->findChildren<QAbstractSpinBox*>()) {
    if (!visible(b)) continue;
    if (b->width() < b->minimumSizeHint().width()) out << QString("number field \"%1\" %2 px < %3").arg(b->text()).arg(b->width()).arg(b->minimumSizeHint().width());
  }
  for (auto* l : root->findChildren<QLabel*>()) {
    if (!visible(l) || l->wordWrap() || l->text().isEmpty() || l->textFormat() == Qt::RichText ||
        Qt::mightBeRichText(l->text()) || l->text().contains('\n'))
      continue;
    const int need = l->fontMetrics().horizontalAdvance(l->text()) + 2 * l->margin();
    if (l->contentsRect().width() + 1 < need)
      out << QString("label \"%1\" %2 px < %3").arg(l->text().left(40)).arg(l->contentsRect().width()).arg(need);
  }
  for (auto* s : root->findChildren<QAbstractSlider*>()) {
    if (!visible(s) || qobject_cast<QScrollBar*>(s)) continue;
    if (s->orientation() == Qt::Horizontal && s->width() < 40) out << QString("slider %1 px wide").arg(s->width());
  }
  for (auto* bar : root->findChildren<QTabBar*>()) {
    if (!visible(bar)) continue;
    for (int i = 0; i < bar->count(); ++i)
      if (bar->tabRect(i).right() > bar->width() || bar->tabRect(i).left() < 0 ||
          bar->tabRect(i).width() < bar->fontMetrics().horizontalAdvance(bar->tabText(i)))
        out << QString("tab \"%1\" cut off").arg(bar->tabText(i));
  }
  for (auto* area : root->findChildren<QScrollArea*>())
    if (visible(area) && area->horizontalScrollBar()->isVisible()) out << "a horizontal scroll bar in " + area->parentWidget()->objectName() + "/" + area->windowTitle();
  return out;
}

}  // namespace

// A projector: the window at 1280×720 shows every control whole, in every view, with one
// method and with eight (the real window, laid out and shown, not the headless render).
void AppTest::projector_layout_shows_every_control_whole() {
  MainWindow w;
  load(w, 256);
  w.resize(1280, 720);
  QCoreApplication::processEvents();
  QCOMPARE(w.size(), QSize(1280, 720));
  QStringList all;
  for (const QStringList& methods :
       {QStringList{"rope"}, QStringList{"rope", "ntk:alpha=4", "yarn:factor=4", "rerope:window=256,logn=1",
                                         "leaky-rerope:window=128,k=16", "self-extend:window=64,group=4",
                                         "ntk-by-parts:factor=4", "llama3:factor=4"}}) {
    w.set_methods(methods);
    auto* panel = w.findChildren<ls::app::MethodPanel*>().first();
    for (int row : {0, (int)methods.size() - 1}) {
      panel->list()->setCurrentRow(row);  // each method's editors (YaRN's are the most)
      for (const auto& v : ls::app::view_table()) {
        w.show_view(v.name);
        QTest::qWait(30);
        const QStringList bad = clipped_controls(&w);
        if (!bad.isEmpty())
          all << QString("%1 method(s), row %2, view %3: %4").arg(methods.size()).arg(row).arg(v.name).arg(bad.join("; "));
      }
    }
  }
  // The Attention view's comparisons: eight small multiples, and A − B with method B shown.
  w.show_view("attention");
  for (auto mode : {ls::app::AttentionView::Compare::Every, ls::app::AttentionView::Compare::Difference}) {
    static_cast<ls::app::AttentionView*>(w.view("attention"))->set_compare(mode);
    QVERIFY(wait_idle(w, 120000));
    QTest::qWait(60);
    w.resize(1000, 600);  // the window laid out again (a restore, then maximised again) with the view as it is
    QTest::qWait(30);
    w.resize(1280, 720);
    QTest::qWait(60);
    if (const QStringList bad = clipped_controls(&w); !bad.isEmpty()) all << "attention compared: " + bad.join("; ");
  }
  w.cancel_runs();
  all.removeDuplicates();
  QVERIFY2(all.isEmpty(), qPrintable(all.join("\n")));
}

// A launch without options (as main.cpp builds it) opens on the Story and stays there; the
// help texts open in scrolling panes that fit 1280×720 and name every method and view.
void AppTest::opens_on_the_story_and_help_fits_a_projector() {
  MainWindow w;
  ls::app::StartupOptions o;  // main.cpp's defaults
  o.model = kModel;
  o.document = kDoc;
  o.methods = QString(ls::app::AppState::kRopeStory).split(';');
  o.length = 512;
  ls::app::StartupRun run(w, o);
  run.start();
  QVERIFY(wait_idle(w));
  QTest::qWait(300);
  QVERIFY(wait_idle(w));
  QCOMPARE(w.current_view(), QString("story"));
  QCOMPARE(w.state()->methods.size(), size_t{4});
  QCOMPARE(ls::app::AppState::label(w.state()->methods[3]), QString("rerope:window=256,logn=1"));  // {L/2} on L = 512
  w.resize(1280, 720);
  for (const QString& which : {QString("Guide"), QString("Methods explained")}) {
    QAction* act = nullptr;
    for (QAction* m : w.menuBar()->actions())
      if (m->menu())
        for (QAction* a : m->menu()->actions())
          if (a->text().remove('&') == which) act = a;
    QVERIFY2(act, qPrintable(which));
    act->trigger();
    QDialog* dlg = w.findChild<QDialog*>("help_text");
    QVERIFY(dlg && dlg->isVisible());
    QVERIFY2(dlg->height() <= 720 * 9 / 10 && dlg->width() <= 1280, qPrintable(QString("%1×%2").arg(dlg->width()).arg(dlg->height())));
    auto* text = dlg->findChild<QTextBrowser*>();
    QVERIFY(text);
    const QString plain = text->toPlainText();
    if (which == "Guide")
      for (const auto& v : ls::app::view_table()) QVERIFY2(plain.contains(QObject::tr(v.title)), v.title);
    else
      for (const auto& m : ls::method_registry()) QVERIFY2(plain.contains(QString::fromStdString(m.name)), m.name.c_str());
    dlg->close();
    QCoreApplication::processEvents();
    delete w.findChild<QDialog*>("help_text");
  }
}

// Presets and defaults are relative to the model: on the RoPE twin (L = 256) the Story's
// ReRoPE takes w = L/2 = 128; a method the user wrote out keeps its value and is flagged
// when that value now means another fraction of L; only the model's family is offered.
void AppTest::presets_follow_the_model() {
  MainWindow w;
  w.show();
  w.open_model(kModel);
  w.open_document(kDoc);
  QVERIFY(wait_idle(w));
  w.set_methods({"rope", "rerope:window={L/2},logn=1", "leaky-rerope:window=256,k=16", "yarn:factor={n/L}"});
  w.set_length(2048);
  QCOMPARE(w.state()->method_labels(),
           QStringList({"rope", "rerope:window=256,logn=1", "leaky-rerope:window=256,k=16", "yarn:factor=4"}));
  const int leaky = w.state()->method_ids()[2];
  w.set_length(1024);  // factor = n/L follows n
  QCOMPARE(ls::app::AppState::label(w.state()->methods[3]), QString("yarn:factor=2"));
  w.cancel_runs();
  w.open_model(LONGSCOPE_RESOURCES_DIR "/models/twins/rope_twin.gguf");
  QVERIFY(wait_idle(w));
  QCOMPARE(w.state()->config.train_len, 256);
  QCOMPARE(w.state()->method_labels(),
           QStringList({"rope", "rerope:window=128,logn=1", "leaky-rerope:window=256,k=16", "yarn:factor=4"}));
  QVERIFY2(w.state()->flag_of(leaky).contains("L/2") && w.state()->flag_of(leaky).contains("is L of"),
           qPrintable(w.state()->flag_of(leaky)));
  QVERIFY(w.state()->flag_of(w.state()->method_ids()[1]).isEmpty());
  QVERIFY(w.status_text().contains("leaky-rerope:window=256,k=16 kept as written"));
  auto* panel = w.findChildren<ls::app::MethodPanel*>().first();
  QVERIFY(panel->list()->item(2)->text().contains(QChar(0x26a0)));
  QVERIFY(panel->list()->item(2)->toolTip().contains("kept as written"));
  // Only RoPE-family choices on a RoPE model; their tooltips show this model's values.
  QStringList offered;
  for (auto* c : panel->findChildren<QComboBox*>())
    for (int i = 1; i < c->count(); ++i) offered << c->itemText(i);
  QVERIFY(offered.contains("ReRoPE w=L/2 + log-n") && offered.contains("yarn"));
  for (const auto& o : offered) QVERIFY2(!o.contains("ALiBi", Qt::CaseInsensitive) && !o.startsWith("alibi"), qPrintable(o));
  for (auto* c : panel->findChildren<QComboBox*>())
    for (int i = 1; i < c->count(); ++i)
      QVERIFY2(!c->itemData(i, Qt::ToolTipRole).toString().contains("{L"), qPrintable(c->itemText(i)));
  // Editing the flagged method makes the value the user's own: the flag goes.
  w.set_methods({"rope", "leaky-rerope:window=128,k=16"});
  QVERIFY(w.state()->flag_of(w.state()->method_ids()[1]).isEmpty());
  // The ALiBi twin: its family's presets, and the RoPE list becomes the ALiBi story.
  w.open_model(LONGSCOPE_RESOURCES_DIR "/models/twins/alibi_twin");
  QVERIFY(wait_idle(w));
  QCOMPARE(w.state()->method_labels(), QStringList({"alibi", "alibi-linear:a=8", "ntk-alibi:a=8"}));
  QVERIFY2(!w.state()->model_summary.contains("base 10000") && w.state()->model_summary.contains("ALiBi"),
           qPrintable(w.state()->model_summary));  // no rotary base on an ALiBi model
  offered.clear();
  for (auto* c : panel->findChildren<QComboBox*>())
    for (int i = 1; i < c->count(); ++i) offered << c->itemText(i);
  QVERIFY(offered.contains("NTK-ALiBi a=8"));
  for (const auto& o : offered) QVERIFY2(!o.contains("RoPE") && !o.contains("yarn"), qPrintable(o));
  w.cancel_runs();
  QVERIFY(wait_idle(w));
}

// Small defects that stay fixed: a cancelled retrieval is not an error; sweep and retrieval
// fields say which entries they refuse; the status line says how many methods really run;
// Relative positions starts afresh on another model.
void AppTest::small_defects_stay_fixed() {
  MainWindow w;
  load(w, 512);
  // A cancelled retrieval grid: quiet, no red banner.
  w.set_retrieval_lengths("1024,2048");
  w.run_retrieval();
  QTest::qWait(150);
  QVERIFY(w.busy());
  w.cancel_runs();
  QVERIFY(wait_idle(w));
  QVERIFY2(!w.error_visible(), qPrintable(w.last_error()));
  // Fields with entries that are not lengths or depths: marked, and Run says which.
  auto* sweep_field = w.view("sweep")->findChild<QLineEdit*>();
  sweep_field->setText("256, 5x2, 1024, -3");
  QVERIFY(sweep_field->toolTip().contains("5x2, -3"));
  w.run_sweep();
  QVERIFY(w.error_visible() && w.last_error().contains("5x2, -3"));
  w.set_retrieval_lengths("256,abc");
  w.run_retrieval();
  QVERIFY(w.last_error().contains("abc"));
  QVERIFY(!w.busy());
  // One new method among cached ones: the status line says one runs.
  w.set_methods({"rope", "yarn:factor=4", "rerope:window=256", "ntk:alpha=2"});
  w.run_now();
  QStringList said;
  while (w.busy()) {
    said << w.status_text();
    QTest::qWait(1);
  }
  said.removeDuplicates();
  QVERIFY2(said.filter("1 of 4 methods").size() == 1, qPrintable(said.join(" | ")));
  // Relative positions after a model switch: the default choices and the hint, not the old hover.
  w.show_view("relpos");
  auto* readout = w.view("relpos")->findChildren<QLabel*>().last();
  readout->setText("m = 5, j = 3, r = 2");  // as a hover leaves it
  w.open_model(LONGSCOPE_RESOURCES_DIR "/models/twins/rope_twin.gguf");
  QVERIFY(wait_idle(w));
  QTest::qWait(40);
  QVERIFY2(readout->text().startsWith("hover"), qPrintable(readout->text()));
  QStringList items;
  for (auto* c : w.view("relpos")->findChildren<QComboBox*>())
    for (int i = 0; i < c->count(); ++i) items << c->itemText(i);
  QCOMPARE(items.count("rope"), 2);  // once in A and once in B
}
