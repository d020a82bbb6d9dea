// What each view shows and exports: frequencies, relative positions, attention, the story, the
// retrieval grid, S2-Attn, the document pane; colours per method.
#include "tests/app/app_test.h"
#include "app/views/method_choice.h"

void AppTest::every_view_renders_and_exports() {
  MainWindow w;
  load(w);
  w.run_sweep();
  QVERIFY(wait_idle(w, 120000));
  for (const QString name : {"story", "frequencies", "relpos", "attention", "perplexity", "sweep"}) {
    w.show_view(name);
    QVERIFY(wait_idle(w, 120000));  // attention runs once its view is shown
    QTest::qWait(40);               // and is drawn on the next coalesced redraw
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
  QVERIFY(wait_idle(w));
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

void AppTest::colours_follow_methods_and_removed_methods_vanish() {
  MainWindow w;
  load(w, 512);
  w.run_sweep();
  QVERIFY(wait_idle(w, 120000));
  const QColor yarn = w.state()->colour_of(spec("yarn:factor=4")), rerope = w.state()->colour_of(spec("rerope:window=256"));
  QVERIFY(yarn != rerope);
  w.set_methods({"yarn:factor=4", "rerope:window=256"});  // rope removed: the others keep their colours
  QCOMPARE(w.state()->colour_of(spec("yarn:factor=4")), yarn);
  QCOMPARE(w.state()->colour_of(spec("rerope:window=256")), rerope);
  w.set_methods({"yarn:factor=8", "rerope:window=256"});  // a parameter edit keeps the method's colour
  QCOMPARE(w.state()->colour_of(spec("yarn:factor=8")), yarn);
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
  // Colour the document by the first method, then click the cell (ntk, 600 tokens, depth 0.5).
  auto* colour_by = w.findChild<ls::app::DocumentView*>()->findChild<QComboBox*>();
  QVERIFY(colour_by && colour_by->count() == 2);
  colour_by->setCurrentIndex(0);
  const QString colour_choice = colour_by->currentText();
  auto* gw = rv->grid();
  const QRect r = gw->cell_rect(1, 1, 2);
  QVERIFY(r.isValid());
  QTest::mouseClick(gw, Qt::LeftButton, Qt::NoModifier, r.center());
  QVERIFY(wait_idle(w, 120000));
  auto det = w.state()->retrieval_detail;
  QVERIFY(det);
  QCOMPARE(det->label, QString("ntk:alpha=4"));
  QVERIFY(det->method == spec("ntk:alpha=4"));
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
  QCOMPARE(colour_by->currentText(), colour_choice);  // Back restores the document's own choice
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

// The app holds methods typed, each with a stable id: the check box, the colour and
// the attention view's choice follow a method through a parameter edit; the worker
// runs exactly the parameters the panel holds.
void AppTest::method_ids_follow_parameter_edits() {
  MainWindow w;
  load(w, 256);
  auto* st = w.state();
  const int yarn = st->id_of(spec("yarn:factor=4"));
  QVERIFY(yarn >= 0 && yarn != st->id_of(spec("rope")));
  w.show_view("attention");
  auto* choice = w.view("attention")->findChild<ls::app::MethodChoice*>();
  QVERIFY(choice);
  choice->choose_id(yarn);
  QCOMPARE(st->attention_method, yarn);
  st->set_hidden(yarn, true);
  const QColor colour = st->colour_of(spec("yarn:factor=4"));
  w.set_methods({"rope", "yarn:factor=8", "rerope:window=256"});  // the panel's edit of yarn's factor
  QCOMPARE(st->id_of(spec("yarn:factor=8")), yarn);
  QVERIFY(st->is_hidden(yarn) && !st->is_shown(spec("yarn:factor=8")));
  QCOMPARE(st->colour_of(spec("yarn:factor=8")), colour);
  QVERIFY(st->attention_params() == spec("yarn:factor=8"));
  w.run_now();
  QVERIFY(wait_idle(w));
  QVERIFY(st->attention && st->attention->method == spec("yarn:factor=8"));
  QVERIFY(st->ppl && st->ppl->methods.size() == 3 && st->ppl->methods[1] == spec("yarn:factor=8"));
  // A removed method takes its id, its tick and the attention choice with it.
  w.set_methods({"rope", "rerope:window=256"});
  QCOMPARE(st->id_of(spec("yarn:factor=8")), -1);
  QVERIFY(!st->is_hidden(yarn));
  QVERIFY(st->attention_params() == spec("rope"));
  // Plain RoPE is offered once in the relative-position view, selected or not.
  w.show_view("relpos");
  int ropes = 0;
  for (auto* c : w.view("relpos")->findChildren<ls::app::MethodChoice*>())
    for (int i = 0; i < c->count(); ++i) ropes += c->itemText(i) == "rope";
  QCOMPARE(ropes, 2);  // one in A, one in B
}

// A model with NoPE layers (SmolLM3's every fourth): the model pane and the
// Frequencies view say which layers carry position.
void AppTest::layers_without_position_are_named() {
  MainWindow w;
  load(w, 256);
  QTemporaryDir dir;
  const QString folder = dir.filePath("smollm3");
  QVERIFY(ls::write_hf_model(ls::make_random_model(ls::random_model_shape("tiny-smollm3").value()), folder.toStdString()).ok());
  QVERIFY(QFile::copy(LONGSCOPE_RESOURCES_DIR "/models/tok512.model", folder + "/tokenizer.model"));  // 512 ids, as the model
  w.open_model(folder);
  QVERIFY(wait_idle(w));
  QVERIFY2(!w.error_visible(), qPrintable(w.last_error()));
  QCOMPARE(w.state()->config.family, std::string("smollm3"));
  QVERIFY2(w.state()->model_summary.contains("position in 3 of 4 layers (none in 3)"), qPrintable(w.state()->model_summary));
  w.show_view("frequencies");
  bool named = false;
  for (auto* l : w.view("frequencies")->findChildren<QLabel*>()) named |= l->text().contains("none in 3");
  QVERIFY(named);
}

// gpt-oss's sliding layers (window 8 in the random model) cannot take a remapping
// method's bands beyond the window: that method is left out with one clear line,
// and the others' results are shown.
void AppTest::a_method_that_cannot_run_at_n_is_left_out_and_said() {
  MainWindow w;
  load(w, 256);
  QTemporaryDir dir;
  const QString folder = dir.filePath("gptoss");
  QVERIFY(ls::write_hf_model(ls::make_random_model(ls::random_model_shape("tiny-gptoss").value()), folder.toStdString()).ok());
  QVERIFY(QFile::copy(LONGSCOPE_RESOURCES_DIR "/models/tok512.model", folder + "/tokenizer.model"));
  w.open_model(folder);
  QVERIFY(wait_idle(w));
  w.set_methods({"rope", "yarn:factor=4", "rerope:window=16"});
  w.set_length(128);
  w.run_now();
  QVERIFY(wait_idle(w));
  auto ppl = w.state()->ppl;
  QVERIFY(ppl);
  QCOMPARE(ppl->methods.size(), size_t{2});
  QVERIFY(w.error_visible());
  QVERIFY2(w.last_error().contains("rerope:window=16") && w.last_error().contains("sliding window"),
           qPrintable(w.last_error()));
}

// Every demo of the Demos menu, run as a click runs it, gives the figure the README states.
void AppTest::demos_reproduce_the_readme() {
  MainWindow w;
  w.resize(1280, 720);
  w.show();
  QStringList menu;
  for (QAction* m : w.menuBar()->actions())
    if (m->text().remove('&') == "Demos")
      for (QAction* a : m->menu()->actions()) menu << a->text();
  QCOMPARE(menu.size(), (qsizetype)ls::app::demos().size());
  // Passkey accuracy per method and length, over the grid's depths.
  auto accuracy = [&w](const QString& method, int length) {
    int found = 0, trials = 0;
    for (const auto& c : w.state()->retrieval->grid.cells)
      if (QString::fromStdString(c.method) == method && c.length == length) {
        found += c.found;
        trials += (int)c.trials.size();
      }
    return trials ? std::lround(100.0 * found / trials) : -1L;
  };
  {
    QVERIFY(w.run_demo("story"));
    QVERIFY(wait_idle(w, 240000));
    QCOMPARE(w.current_view(), QString("story"));
    QCOMPARE(w.state()->length, 4096);
    std::map<QString, std::pair<double, double>> ib;
    for (const auto& c : w.view("story")->data_json()["curves"].toArray())
      ib[c.toObject()["method"].toString()] = {c.toObject()["inside_l"].toDouble(), c.toObject()["beyond_l"].toDouble()};
    QCOMPARE(ib.size(), size_t{4});
    QVERIFY2(std::abs(ib["rope"].first - 1.27) < 0.005 && std::abs(ib["rope"].second - 3.80) < 0.005,
             qPrintable(QString("rope %1 → %2").arg(ib["rope"].first).arg(ib["rope"].second)));
    for (const auto& [m, v] : ib)
      if (m != "rope") QVERIFY2(std::abs(v.second - v.first) <= 0.15, qPrintable(QString("%1 %2 → %3").arg(m).arg(v.first).arg(v.second)));
    QVERIFY(w.status_text().contains("Demo ready"));
  }
  {
    QVERIFY(w.run_demo("rope-twin"));
    QVERIFY(wait_idle(w, 240000));
    QCOMPARE(w.current_view(), QString("retrieval"));
    QVERIFY(w.state()->retrieval);
    const QString rerope = "rerope:window=128,logn=1";
    QCOMPARE(w.state()->method_labels(), QStringList({"rope", rerope}));
    const std::vector<std::pair<QString, std::vector<long>>> readme = {{"rope", {100, 0, 0, 0}}, {rerope, {100, 100, 100, 95}}};
    for (const auto& [m, want] : readme)
      for (int k = 0; k < 4; ++k) QCOMPARE(accuracy(m, 256 << k), want[(size_t)k]);
  }
  {
    QVERIFY(w.run_demo("alibi-twin"));
    QVERIFY(wait_idle(w, 240000));
    QCOMPARE(w.state()->method_labels(), QStringList({"alibi", "ntk-alibi:a=8"}));
    const std::vector<std::pair<QString, std::vector<long>>> readme = {{"alibi", {100, 80, 40, 20}}, {"ntk-alibi:a=8", {100, 100, 100, 55}}};
    for (const auto& [m, want] : readme)
      for (int k = 0; k < 4; ++k) QCOMPARE(accuracy(m, 256 << k), want[(size_t)k]);
  }
  QVERIFY(!w.run_demo("no-such-demo"));
}

// Attention: a layer's heads come from one forward, cached, so a head switch and a return to
// a layer cost no forward; while another layer computes, the old map is dimmed and says so;
// a cancelled switch says that it was not computed.
void AppTest::attention_layers_cached_and_stale_maps_labelled() {
  MainWindow w;
  load(w, 1024);
  QVERIFY(!w.state()->attention);  // not computed while its view is hidden (the Story was shown)
  w.show_view("attention");
  QVERIFY(wait_idle(w));
  QVERIFY(w.state()->attention);
  w.set_layer_head(0, 0);
  QVERIFY(wait_idle(w));
  auto* view = static_cast<ls::app::AttentionView*>(w.view("attention"));
  QVERIFY(w.state()->attention && w.state()->attention->layer == 0);
  QVERIFY(!view->stale());
  w.set_layer_head(0, 3);  // another head of the same layer: from the cache
  QVERIFY(wait_idle(w));
  QVERIFY(w.state()->attention->cached);
  QCOMPARE(w.state()->attention->map.head, 3);
  w.set_layer_head(1, 3);
  QTest::qWait(40);
  QVERIFY(view->stale());  // the old map stays up, dimmed, and the title says what is coming
  QVERIFY2(view->findChild<ls::app::HeatmapWidget*>()->title().startsWith("computing layer 1 · head 3"),
           qPrintable(view->findChild<ls::app::HeatmapWidget*>()->title()));
  QVERIFY(wait_idle(w));
  QTest::qWait(40);  // the coalesced redraw
  QVERIFY(!view->stale());
  QVERIFY(!w.state()->attention->cached);
  QCOMPARE(w.state()->attention->layer, 1);
  w.set_layer_head(0, 1);  // back to layer 0: no forward
  QVERIFY(wait_idle(w));
  QVERIFY(w.state()->attention->cached);
  w.set_layer_head(3, 0);
  w.cancel_runs();
  QVERIFY(wait_idle(w));
  QTest::qWait(40);
  QVERIFY(view->stale());
  QVERIFY(view->findChild<ls::app::HeatmapWidget*>()->title().contains("not computed"));
}

// The Story never shows one n while the field says another without saying so; with every
// method unticked it says that instead of "computing" forever.
void AppTest::story_says_when_results_are_for_another_n() {
  MainWindow w;
  load(w, 512);
  w.show_view("story");
  auto* story = static_cast<ls::app::StoryView*>(w.view("story"));
  QTest::qWait(40);
  QVERIFY(!story->sentence().contains("not computed"));
  w.set_length(8192);
  w.run_now();
  QTest::qWait(40);
  QVERIFY2(story->sentence().contains("Computing n = 8192"), qPrintable(story->sentence()));
  w.cancel_runs();
  QVERIFY(wait_idle(w));
  QTest::qWait(40);
  QVERIFY2(story->sentence().contains("n = 8192 was not computed") && story->sentence().contains("shown: n = 512"),
           qPrintable(story->sentence()));
  w.show_view("perplexity");
  QTest::qWait(40);
  QVERIFY(w.view("perplexity")->findChildren<QLabel*>().size() > 0);
  bool said = false;
  for (auto* l : w.view("perplexity")->findChildren<QLabel*>()) said |= l->text().startsWith("n = 8192 not computed");
  QVERIFY(said);
  w.show_view("story");
  // Each method's curve appears as it is computed, before the run ends.
  std::set<size_t> seen;
  auto conn = QObject::connect(w.state(), &ls::app::AppState::changed, [&] {
    if (w.state()->ppl && w.state()->ppl->ctx == 2048) seen.insert(w.state()->ppl->results.size());
  });
  w.set_length(2048);
  w.run_now();
  QVERIFY(wait_idle(w, 120000));
  QTest::qWait(40);
  QObject::disconnect(conn);
  QVERIFY2(seen.count(3) == 1 && seen.size() >= 2, qPrintable(QString::number(seen.size())));
  w.set_length(512);
  w.run_now();  // back to n = 512: from the cache
  QVERIFY(wait_idle(w));
  QTest::qWait(40);
  QVERIFY(!story->sentence().contains("not computed"));
  for (int id : w.state()->method_ids()) w.state()->set_hidden(id, true);
  QTest::qWait(40);
  QVERIFY2(story->sentence().contains("Every method is unticked"), qPrintable(story->sentence()));
}

// The walkthrough: a first launch opens on it; its three steps quote the Story's own numbers
// with a callout where they are; dismissed, it stays closed; Help ▸ Walkthrough reopens it.
void AppTest::walkthrough_tells_the_story_in_three_steps() {
  QSettings("LongScope", "LongScope").remove("walkthrough_seen");
  auto launch = [](MainWindow& w) {
    ls::app::StartupOptions o;  // main.cpp's defaults, at n = 2048
    o.model = kModel;
    o.document = kDoc;
    o.methods = QString(ls::app::AppState::kRopeStory).split(';');
    o.length = 2048;
    auto* run = new ls::app::StartupRun(w, o);
    run->setParent(&w);
    run->start();
    QVERIFY(wait_idle(w, 120000));
    QTest::qWait(100);
    QVERIFY(wait_idle(w, 120000));
    QTest::qWait(50);
  };
  MainWindow w;
  w.resize(1280, 720);
  launch(w);
  auto* story = static_cast<ls::app::StoryView*>(w.view("story"));
  QCOMPARE(w.current_view(), QString("story"));
  QCOMPARE(story->tour_step(), 0);
  std::map<QString, std::pair<double, double>> ib;
  for (const auto& c : story->data_json()["curves"].toArray())
    ib[c.toObject()["method"].toString()] = {c.toObject()["inside_l"].toDouble(), c.toObject()["beyond_l"].toDouble()};
  const auto rope = ib["rope"];
  QVERIFY2(story->tour_text().contains(QString::number(rope.first, 'f', 2)), qPrintable(story->tour_text()));
  QCOMPARE(story->callout_point(), QPointF(256, rope.first));
  QCOMPARE(story->callout_chart(), 0);
  auto* next = [&] {
    for (auto* b : story->findChildren<QPushButton*>())
      if (b->text() == "Next") return b;
    return (QPushButton*)nullptr;
  }();
  QVERIFY(next);
  next->click();
  QCOMPARE(story->tour_step(), 1);
  QVERIFY(story->tour_text().contains(QString::number(rope.second, 'f', 2)));
  QVERIFY(story->callout_point().x() > 512 && story->callout_point().y() > rope.first + 1.0);
  next->click();
  QCOMPARE(story->tour_step(), 2);
  QCOMPARE(story->callout_chart(), 1);
  QVERIFY(story->tour_text().contains(QString::number(ib["rerope:window=256,logn=1"].second, 'f', 2)));
  next->click();  // Done
  QCOMPARE(story->tour_step(), -1);
  QVERIFY(QSettings("LongScope", "LongScope").value("walkthrough_seen").toBool());
  {
    MainWindow again;
    launch(again);
    QCOMPARE(static_cast<ls::app::StoryView*>(again.view("story"))->tour_step(), -1);  // stays closed
  }
  w.show_view("perplexity");
  for (QAction* m : w.menuBar()->actions())
    if (m->menu())
      for (QAction* a : m->menu()->actions())
        if (a->text().remove('&') == "Walkthrough") a->trigger();
  QCOMPARE(w.current_view(), QString("story"));
  QCOMPARE(story->tour_step(), 0);
}

// Linked views: a token clicked in the document (or a point of the Perplexity chart) is the
// Token view's: its NLL under every method is the Perplexity run's, its r(m, j) row is each
// method's, and its attention row comes from the same layer maps as the Attention view's.
void AppTest::a_clicked_token_is_shown_under_every_method() {
  MainWindow w;
  load(w, 512);
  auto* doc = w.findChild<ls::app::DocumentView*>();
  auto* text = doc->findChild<QTextBrowser*>();
  QVERIFY(text);
  // Click the middle of the 40th token's text.
  QTextCursor cur(text->document());
  const int token = 40;
  int chars = 0;
  for (int i = 0; i < token; ++i) chars += (int)w.state()->document->pieces[i].size();
  cur.setPosition(chars + 1);
  const QRect r = text->cursorRect(cur);
  QTest::mouseClick(text->viewport(), Qt::LeftButton, Qt::NoModifier, r.center());
  QCOMPARE(w.state()->selected_token, token);
  QTest::qWait(40);
  QVERIFY(doc->token_marked());  // outlined in the document
  w.show_view("perplexity");
  QTest::qWait(40);
  bool marked = false;  // and a line on the Perplexity chart, at the entry that scores it
  for (auto* sr : w.view("perplexity")->findChild<QChartView*>()->chart()->series())
    if (sr->name() == "selected") marked = qobject_cast<QLineSeries*>(sr)->at(0).x() == token - 1;
  QVERIFY(marked);
  w.show_view("story");
  QTest::qWait(40);
  marked = false;  // and on the Story's left chart, at its place in the window
  for (auto* sr : w.view("story")->findChildren<QChartView*>()[0]->chart()->series())
    if (sr->name() == "selected") marked = qobject_cast<QLineSeries*>(sr)->at(0).x() == token;
  QVERIFY(marked);
  w.show_view("token");
  QVERIFY(wait_idle(w));
  QTest::qWait(40);
  auto* tv = w.view("token");
  QVERIFY(tv->has_content());
  const QJsonObject j = tv->data_json();
  QCOMPARE(j["token"].toInt(), token);
  const QJsonArray nll = j["nll"].toArray();
  QCOMPARE(nll.size(), 3);
  for (int k = 0; k < 3; ++k) QCOMPARE(nll[k].toObject()["nll"].toDouble(), w.state()->ppl->results[(size_t)k].nll[token - 1]);
  // The attention rows: one per method, the Attention view's row for the same (method, layer, head).
  const QJsonArray att = j["attention"].toArray();
  QCOMPARE(att.size(), 3);
  w.show_view("attention");
  QVERIFY(wait_idle(w));
  const auto& map = w.state()->attention->map;
  QCOMPARE(ls::app::AppState::label(w.state()->attention->method), att[0].toObject()["method"].toString());
  const QJsonArray row = att[0].toObject()["row"].toArray();
  QCOMPARE(row.size(), map.n);  // n = 512: not pooled, one key per cell
  for (int k = 0; k <= token; ++k) QCOMPARE((float)row[k].toDouble(), map.probs[(size_t)token * map.n + k]);
  // The r(m, j) chart holds one curve per RoPE-family method; the line view its keys.
  w.show_view("token");
  QTest::qWait(40);
  auto charts = tv->findChildren<QChartView*>();
  QCOMPARE(charts.size(), 2);
  QCOMPARE(charts[0]->chart()->series().size(), 3);
  QCOMPARE(charts[1]->chart()->series().size(), 3);
  w.resize(1280, 720);
  QTest::qWait(40);
  w.grab().save(QDir(shots_).filePath("token_window.png"));
  // A click on a Perplexity curve selects the token that point scores.
  w.show_view("perplexity");
  QTest::qWait(40);
  auto* pchart = w.view("perplexity")->findChild<QChartView*>()->chart();
  auto* series = qobject_cast<QLineSeries*>(pchart->series().first());
  QVERIFY(series);
  emit series->clicked(QPointF(99.2, 1.0));
  QCOMPARE(w.state()->selected_token, 100);
}

// Attention compared: every method side by side (the same layer and head), and A − B on a
// diverging scale; each method's map is the one the single view shows for it.
void AppTest::attention_small_multiples_and_difference() {
  MainWindow w;
  load(w, 512);
  w.show_view("attention");
  QVERIFY(wait_idle(w));
  auto* view = static_cast<ls::app::AttentionView*>(w.view("attention"));
  w.set_layer_head(2, 1);
  QVERIFY(wait_idle(w));
  const std::vector<float> rope_map = w.state()->attention->map.probs;  // the first method: rope
  view->set_compare(ls::app::AttentionView::Compare::Every);
  QVERIFY(wait_idle(w));
  QTest::qWait(40);
  auto cmp = w.state()->attention_compare;
  QVERIFY(cmp && cmp->layer == 2 && cmp->head == 1);
  QCOMPARE(cmp->maps.size(), size_t{3});
  QCOMPARE(cmp->maps[0].probs, rope_map);
  QCOMPARE(view->multiples(), 3);
  w.resize(1280, 720);
  QTest::qWait(40);
  w.grab().save(QDir(shots_).filePath("attention_every_method.png"));
  view->set_compare(ls::app::AttentionView::Compare::Difference);
  QTest::qWait(40);
  auto* heat = view->findChild<ls::app::HeatmapWidget*>();
  QVERIFY2(heat->title().startsWith("attention rope − yarn:factor=4"), qPrintable(heat->title()));
  const QJsonObject exported = view->data_json();  // the comparison's maps, A and B named
  QCOMPARE(exported["compare"].toString(), QString("A - B"));
  QCOMPARE(exported["b"].toString(), QString("yarn:factor=4"));
  QCOMPARE(exported["maps"].toArray().size(), 3);
  // A head switch in comparison mode recomputes nothing: the layer maps are cached.
  w.set_layer_head(2, 4);
  QVERIFY(wait_idle(w));
  QTest::qWait(40);
  QVERIFY(w.state()->attention_compare->head == 4);
  QVERIFY(w.state()->attention->cached);
  view->set_compare(ls::app::AttentionView::Compare::One);
  QTest::qWait(40);
  QCOMPARE(view->multiples(), 0);
}
