// Files the app opens: bad models and documents, files that are not files, sessions,
// a model switch.
#include "tests/app/app_test.h"

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
  // Latin-1 text: the banner offers to read it as Latin-1, which keeps its accents.
  const QString latin = write("latin1_story.txt", QByteArray("Once upon a time, a caf\xe9 sold cr\xe8me br\xfbl\xe9" "e."));
  w.open_document(latin);
  QVERIFY(wait_idle(w));
  QPushButton* as_latin1 = nullptr;
  for (auto* b : w.findChildren<QPushButton*>())
    if (b->text() == "Open as Latin-1") as_latin1 = b;
  QVERIFY(as_latin1 && as_latin1->isVisibleTo(&w));
  as_latin1->click();
  QVERIFY(wait_idle(w));
  QVERIFY(w.state()->document != before);
  QCOMPARE(w.state()->document->path, latin);
  // é is in the bundled vocabulary; è and û come as byte pieces of their UTF-8 (<0xC3><0xA8>).
  QVERIFY2(w.state()->document->pieces.join("").contains(QString::fromUtf8("café")) &&
               w.state()->document->pieces.join("").contains("cr<0xC3><0xA8>me"),
           qPrintable(w.state()->document->pieces.join("")));
  w.open_document(write("empty2.txt", "  "));  // another error: no Latin-1 offer
  QVERIFY(wait_idle(w));
  QVERIFY(!as_latin1->isVisibleTo(&w));
}

void AppTest::session_round_trip() {
  QTemporaryDir dir;
  const QString path = dir.filePath("s.json");
  {
    MainWindow w;
    load(w, 700);
    w.set_methods({"rope", "ntk:alpha=4", "leaky-rerope:window={L/4},k=16"});
    w.set_layer_head(2, 5);
    w.show_view("attention");
    static_cast<QComboBox*>(w.view("attention")->findChild<QComboBox*>())->setCurrentIndex(0);  // attention of rope
    w.set_methods({"ntk:alpha=4", "leaky-rerope:window={L/4},k=16"});  // rope removed while another view is shown
    w.show_view("story");
    w.state()->set_hidden(w.state()->method_ids()[0], true);  // ntk unticked
    QVERIFY(w.save_session(path));
  }
  QFile f(path);
  QVERIFY(f.open(QIODevice::ReadOnly));
  const QJsonObject saved = QJsonDocument::fromJson(f.readAll()).object();
  QVERIFY2(saved["views"].toObject()["attention"].toObject()["method"].toString() != "rope",
           "a view state names a method no longer selected");
  QCOMPARE(saved["hidden"].toArray().size(), 1);
  QCOMPARE(saved["templates"].toArray()[1].toString(), QString("leaky-rerope:window={L/4},k=16"));
  MainWindow w2;
  w2.show();
  QVERIFY(w2.load_session(path));
  QVERIFY(wait_idle(w2));
  QTest::qWait(50);
  QVERIFY(wait_idle(w2));
  QCOMPARE(w2.state()->length, 700);
  QCOMPARE(w2.state()->method_labels(), QStringList({"ntk:alpha=4", "leaky-rerope:window=128,k=16"}));
  QVERIFY(w2.state()->is_hidden(w2.state()->method_ids()[0]) && !w2.state()->is_hidden(w2.state()->method_ids()[1]));
  QCOMPARE(w2.state()->template_of(w2.state()->method_ids()[1]), QString("leaky-rerope:window={L/4},k=16"));
  QCOMPARE(w2.state()->layer, 2);
  QCOMPARE(w2.state()->head, 5);
}

// Opening the ALiBi twin after the RoPE model: the dropped RoPE methods are said,
// the attention shows the twin's own heads, and no view keeps the old results.
void AppTest::nothing_stale_after_a_model_switch() {
  MainWindow w;
  load(w, 256);
  w.show_view("attention");
  QVERIFY(wait_idle(w));
  QVERIFY(w.state()->attention);
  QCOMPARE((int)w.state()->attention->map.heads.size(), 8);
  QSignalSpy errors(&w, &MainWindow::error_shown);
  w.open_model(LONGSCOPE_RESOURCES_DIR "/models/twins/alibi_twin");
  QVERIFY(wait_idle(w, 120000));
  // No RoPE method can run on an ALiBi model: the list becomes the ALiBi family
  // (native first), said in the status line, not raised as an error.
  QCOMPARE(errors.count(), 0);
  QVERIFY2(w.status_text().contains("position family"), qPrintable(w.status_text()));
  const QStringList family = w.state()->method_labels();
  QCOMPARE(family.size(), 3);
  QCOMPARE(family[0], QString("alibi"));
  QVERIFY(family[2].startsWith("ntk-alibi"));
  w.run_now();
  QVERIFY(wait_idle(w, 120000));
  QVERIFY2(w.state()->attention, qPrintable(w.last_error() + " / " + w.status_text()));
  QCOMPARE((int)w.state()->attention->map.heads.size(), w.state()->config.n_heads);
  QVERIFY(w.state()->config.n_heads != 8);
  QVERIFY(w.state()->ppl && w.state()->ppl->methods.size() == 3 && ls::app::AppState::label(w.state()->ppl->methods[0]) == "alibi");
  // A mixed list keeps what fits and says what left.
  w.set_methods({"rope", "alibi"});
  QVERIFY(wait_idle(w, 120000));
  QCOMPARE(w.state()->method_labels(), QStringList({"alibi"}));
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

// The session file as a value: what is written reads back the same; JSON that is
// not a session, or not JSON, is one clear error.
void AppTest::session_file_round_trips_and_refuses_other_json() {
  ls::app::Session s;
  s.model = "/m/model.gguf";
  s.train_len_override = 256;
  s.document = "/d/doc.txt";
  s.methods = {"rope", "yarn:factor=4"};
  s.length = 700;
  s.layer = 2;
  s.head = 5;
  s.current_view = "attention";
  s.views["attention"] = QJsonObject{{"pool", 4}};
  auto back = ls::app::Session::from_json(s.to_json(), "s.json");
  QVERIFY(back.ok());
  QCOMPARE(back->model, s.model);
  QCOMPARE(back->train_len_override, 256);
  QCOMPARE(back->document, s.document);
  QCOMPARE(back->methods, s.methods);
  QCOMPARE(back->length, 700);
  QCOMPARE(back->layer, 2);
  QCOMPARE(back->head, 5);
  QCOMPARE(back->current_view, QString("attention"));
  QCOMPARE(back->views, s.views);
  for (const QByteArray& bad : {QByteArray("{\"model\": \"x\"}"), QByteArray("not json"), QByteArray()}) {
    auto r = ls::app::Session::from_json(bad, "bad.json");
    QVERIFY(!r.ok());
    QVERIFY2(QString::fromStdString(r.error()).contains("bad.json is not a LongScope session"), r.error().c_str());
  }
}

// The headless screenshot run (app/startup_run): it opens the model and the document,
// applies the settings, captures the view and ends with 0; a retrieval grid that
// cannot be made ends with 2 and still writes the picture, instead of waiting for a
// cell that will never open; a missing model ends with 2 before any capture.
void AppTest::startup_run_captures_and_ends_on_errors() {
  QTemporaryDir dir;
  auto run = [&](ls::app::StartupOptions o) {
    MainWindow w;
    o.model = o.model.isEmpty() ? kModel : o.model;
    o.document = kDoc;
    ls::app::StartupRun r(w, o);
    QSignalSpy done(&r, &ls::app::StartupRun::finished);
    r.start();
    if (!done.wait(120000)) return -1;
    return done.at(0).at(0).toInt();
  };
  ls::app::StartupOptions relpos;
  relpos.view = "relpos";
  relpos.methods = {"rope", "rerope:window=64"};
  relpos.length = 512;
  relpos.screenshot = dir.filePath("relpos.png");
  QCOMPARE(run(relpos), 0);
  QVERIFY(distinct_colours(QImage(relpos.screenshot)) > 8);

  ls::app::StartupOptions window = relpos;
  window.view = "window:perplexity";
  window.width = 1280;
  window.height = 720;
  window.screenshot = dir.filePath("window.png");
  QCOMPARE(run(window), 0);
  QCOMPARE(QImage(window.screenshot).size(), QSize(1280, 720));

  ls::app::StartupOptions grid = relpos;
  grid.view = "retrieval";
  grid.retrieval_lengths = "8";  // too short for the needle and the question
  grid.cell = "0,0,0";
  grid.screenshot = dir.filePath("grid.png");
  QCOMPARE(run(grid), 2);

  ls::app::StartupOptions missing = relpos;
  missing.model = dir.filePath("none.gguf");
  missing.screenshot = dir.filePath("none.png");
  QCOMPARE(run(missing), 2);
  QVERIFY(!QFile::exists(missing.screenshot));
}

// Every export says where its numbers come from, and the longscope-cli command it names
// computes the same numbers; the figure pack holds every view with content, with captions.
void AppTest::exports_carry_provenance_and_their_cli_commands_agree() {
  MainWindow w;
  load(w, 512);
  QTemporaryDir dir;
  const QString json_path = dir.filePath("ppl.json");
  QVERIFY(w.export_view("perplexity", json_path));
  QFile jf(json_path);
  QVERIFY(jf.open(QIODevice::ReadOnly));
  const QJsonObject prov = QJsonDocument::fromJson(jf.readAll()).object()["provenance"].toObject();
  QCOMPARE(prov["model"].toString(), kModel);
  QCOMPARE(prov["document"].toString(), kDoc);
  QCOMPARE(prov["n"].toInt(), 512);
  QCOMPARE(prov["train_len"].toInt(), 512);
  QCOMPARE(prov["methods"].toArray().size(), 3);
  QCOMPARE(prov["software"].toString(), QString("LongScope " LONGSCOPE_VERSION));
  const QJsonArray cli = prov["cli"].toArray();
  QCOMPARE(cli.size(), 3);  // one ppl command per method shown
  // Run the second one (YaRN): the CLI's mean NLL is the app's.
  QString cmd = cli[1].toString();
  QVERIFY2(cmd.startsWith("longscope-cli ppl ") && cmd.contains("yarn:factor=4"), qPrintable(cmd));
  cmd.replace(0, QString("longscope-cli").size(), LONGSCOPE_CLI_PATH);
  QProcess proc;
  proc.start("/bin/sh", {"-c", cmd});
  QVERIFY(proc.waitForFinished(120000));
  QCOMPARE(proc.exitCode(), 0);
  const QJsonObject out = QJsonDocument::fromJson(proc.readAllStandardOutput()).object();
  QVERIFY2(std::abs(out["mean_nll"].toDouble() - w.state()->ppl->results[1].mean_nll) < 1e-9,
           qPrintable(QString("cli %1, app %2").arg(out["mean_nll"].toDouble(), 0, 'g', 12).arg(w.state()->ppl->results[1].mean_nll, 0, 'g', 12)));
  // CSV: comment lines first; PNG: text chunks; SVG: a description.
  QVERIFY(w.export_view("perplexity", dir.filePath("ppl.csv")));
  QFile cf(dir.filePath("ppl.csv"));
  QVERIFY(cf.open(QIODevice::ReadOnly));
  const QString csv = QString::fromUtf8(cf.readAll());
  QVERIFY2(csv.startsWith("# view: perplexity\n# model: " + kModel), qPrintable(csv.left(200)));
  QVERIFY(csv.contains("# cli: longscope-cli ppl "));
  QVERIFY(w.export_view("relpos", dir.filePath("relpos.png")));
  QCOMPARE(QImage(dir.filePath("relpos.png")).text("model"), kModel);
  QVERIFY(QImage(dir.filePath("relpos.png")).text("cli").contains("longscope-cli relpos"));
  QVERIFY(w.export_view("story", dir.filePath("story.svg")));
  QFile sf(dir.filePath("story.svg"));
  QVERIFY(sf.open(QIODevice::ReadOnly));
  QVERIFY(QString::fromUtf8(sf.readAll()).contains("n: 512"));
  // The Story's exports hold both charts.
  QVERIFY(w.view("story")->data_json()["loss_vs_length"].toArray().size() >= 3);
  QVERIFY(w.view("story")->data_csv().contains("\nlength,\"rope\",512,"));
  // The figure pack.
  const QStringList files = w.export_figure_pack(dir.filePath("pack"));
  QFile readme(dir.filePath("pack/README.md"));
  QVERIFY(readme.open(QIODevice::ReadOnly));
  const QString md = QString::fromUtf8(readme.readAll());
  QVERIFY2(md.contains("![Story](01-story.png)") && md.contains("Story — Left: each method's mean loss"), qPrintable(md.left(1500)));
  QVERIFY(md.contains("longscope-cli sweep"));
  QVERIFY(files.contains(dir.filePath("pack/01-story.json")));
  QVERIFY2(files.size() >= 4 * 5 + 1, qPrintable(files.join(", ")));  // at least five views with content, and the captions
}
