#include "app/main_window.h"

#include <QApplication>
#include <QDialog>
#include <QDockWidget>
#include <QTabBar>
#include <QDragEnterEvent>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QInputDialog>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QScreen>
#include <QScrollArea>
#include <QScrollBar>
#include <QSettings>
#include <QSignalBlocker>
#include <QSpinBox>
#include <QStatusBar>
#include <QHBoxLayout>
#include <QVBoxLayout>

#include "app/demos.h"
#include "app/document_view.h"
#include "app/method_panel.h"
#include "app/nbce_dialog.h"
#include "app/views/attention_view.h"
#include "app/views/chart_util.h"
#include "app/views/retrieval_view.h"
#include "app/views/story_view.h"
#include "app/views/sweep_view.h"
#include "app/views/token_view.h"
#include "core/position/spec.h"

namespace ls::app {


namespace {

// Dock contents scroll instead of setting the window's minimum size.
// Where an Open dialog starts: beside the file in use, else in the bundled resources.
QString start_dir(const QString& current, const QString& bundled) {
  if (!current.isEmpty() && !current.startsWith(":")) {
    const QFileInfo fi(current);
    return fi.absolutePath();  // a file's folder, or a model folder's parent
  }
  return QString(LONGSCOPE_RESOURCES_DIR "/") + bundled;
}

QScrollArea* scrolled(QWidget* w) {
  auto* area = new QScrollArea();
  area->setWidget(w);
  area->setWidgetResizable(true);
  area->setFrameShape(QFrame::NoFrame);
  // Never narrower than its content: a squeezed pane would scroll sideways.
  area->setMinimumWidth(std::max(200, w->minimumSizeHint().width() + area->verticalScrollBar()->sizeHint().width() + 4));
  return area;
}

}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
  setWindowTitle("LongScope");
  setAcceptDrops(true);
  // The first window takes most of the screen it opens on, whatever its size; on a
  // projector-sized screen (1280×720, 1366×768) all of it.
  if (const QScreen* scr = QGuiApplication::primaryScreen()) {
    const QRect avail = scr->availableGeometry();
    if (avail.width() <= 1400 || avail.height() <= 800) resize(avail.size());
    else resize(std::min(avail.width() * 9 / 10, 1800), std::min(avail.height() * 9 / 10, 1100));
  } else {
    resize(1280, 720);
  }
  qRegisterMetaType<ModelLoaded>();
  qRegisterMetaType<CancelFlag>();
  qRegisterMetaType<std::shared_ptr<const DocumentSnapshot>>();
  qRegisterMetaType<std::shared_ptr<const PplSnapshot>>();
  qRegisterMetaType<std::shared_ptr<const AttentionSnapshot>>();
  qRegisterMetaType<std::shared_ptr<const SweepSnapshot>>();
  qRegisterMetaType<std::shared_ptr<const NbceSnapshot>>();
  qRegisterMetaType<std::shared_ptr<const RetrievalSnapshot>>();
  qRegisterMetaType<std::shared_ptr<const RetrievalDetailSnapshot>>();
  qRegisterMetaType<std::shared_ptr<const TokenAttentionSnapshot>>();
  qRegisterMetaType<std::shared_ptr<const AttentionCompareSnapshot>>();

  // The worker owns the engine on its own thread for its whole life.
  worker_ = new EngineWorker();
  worker_->moveToThread(&thread_);
  connect(&thread_, &QThread::finished, worker_, &QObject::deleteLater);
  thread_.start();

  // Views.
  tabs_ = new QTabWidget();
  for (const ViewRow& row : view_table()) {
    View* v = row.make(&state_);
    if (v->view_name() != row.name) qFatal("view_table: row %s makes view %s", row.name, qPrintable(v->view_name()));
    tabs_->addTab(v, tr(row.title));
  }
  for (int i = 0; i < tabs_->count(); ++i)  // short tab titles for a projector; the full names on hover
    if (auto* v = qobject_cast<View*>(tabs_->widget(i)))
      tabs_->setTabToolTip(i, v->view_name() == "relpos" ? tr("Relative positions r(m, j)")
                              : v->view_name() == "sweep" ? tr("Loss against the context length n")
                                                          : QString());
  // The views the window talks to beyond the View interface.
  story_ = qobject_cast<StoryView*>(view("story"));
  attention_ = qobject_cast<AttentionView*>(view("attention"));
  sweep_ = qobject_cast<SweepView*>(view("sweep"));
  retrieval_ = qobject_cast<RetrievalView*>(view("retrieval"));

  // Docks: model (top), methods (left), document (right).
  auto* model_dock = new QDockWidget(tr("Model"), this);
  model_label_ = fluid(new QLabel(tr("loading the bundled model…")));
  model_label_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Maximum);
  model_label_->setMaximumHeight(model_label_->fontMetrics().height() * 3 + 6);  // two lines: summary and path
  model_dock->setWidget(model_label_);
  addDockWidget(Qt::TopDockWidgetArea, model_dock);
  auto* method_dock = new QDockWidget(tr("Methods"), this);
  methods_ = new MethodPanel(&state_);
  method_dock->setWidget(scrolled(methods_));
  addDockWidget(Qt::LeftDockWidgetArea, method_dock);
  auto* doc_dock = new QDockWidget(tr("Document"), this);
  document_ = new DocumentView(&state_);
  doc_dock->setWidget(document_);
  addDockWidget(Qt::RightDockWidgetArea, doc_dock);
  // Side panes start narrow: the views in the middle get the room.
  resizeDocks({method_dock, doc_dock}, {std::max(300, width() / 5), std::max(260, width() / 5)}, Qt::Horizontal);

  // Status bar: message, progress, Cancel.
  message_ = fluid(new QLabel());
  message_->setWordWrap(false);
  progress_ = new QProgressBar();
  progress_->setRange(0, 1000);
  progress_->setMaximumWidth(260);
  progress_->hide();
  cancel_ = new QPushButton(tr("Cancel"));
  cancel_->hide();
  // Errors stand out and stay until dismissed or until the next error: a red
  // banner above the status bar, apart from the ordinary messages.
  error_bar_ = new QWidget();
  auto* eb = new QHBoxLayout(error_bar_);
  eb->setContentsMargins(8, 4, 8, 4);
  error_label_ = fluid(new QLabel());
  error_label_->setTextInteractionFlags(Qt::TextSelectableByMouse);
  auto* dismiss = new QPushButton(tr("Dismiss"));
  latin1_ = new QPushButton(tr("Open as Latin-1"));
  latin1_->setToolTip(tr("Read the file's bytes as ISO-8859-1 (Latin-1): every byte becomes a character; accents "
                         "of Western European text are kept, text in other encodings may come out garbled."));
  latin1_->hide();
  connect(latin1_, &QPushButton::clicked, this, [this] {
    error_bar_->hide();
    open_document(last_document_, true);
  });
  eb->addWidget(error_label_, 1);
  eb->addWidget(latin1_);
  eb->addWidget(dismiss);
  error_bar_->setStyleSheet("QWidget { background: #fde7e9; } QLabel { color: #9b0018; font-weight: bold; }");
  error_bar_->hide();
  connect(dismiss, &QPushButton::clicked, error_bar_, &QWidget::hide);
  auto* central = new QWidget();
  auto* cl = new QVBoxLayout(central);
  cl->setContentsMargins(0, 0, 0, 0);
  cl->addWidget(error_bar_);
  cl->addWidget(tabs_, 1);
  setCentralWidget(central);
  statusBar()->addWidget(message_, 1);
  statusBar()->addPermanentWidget(progress_);
  statusBar()->addPermanentWidget(cancel_);
  connect(cancel_, &QPushButton::clicked, this, &MainWindow::cancel_runs);

  build_menus();

  // Worker results: only the newest job of each kind is shown.
  connect(worker_, &EngineWorker::model_loaded, this, [this](quint64 job, ModelLoaded info) {
    const int previous_l = state_.config.train_len;
    state_.config = info.config;
    state_.model_path = info.path;
    state_.model_summary = info.summary;
    state_.max_length = info.max_length;
    model_path_ = info.path;
    model_label_->setText(info.summary + "\n" + info.path);
    QString rebased;
    {
      QSignalBlocker quiet(&state_);  // the runs start below, once the results are dropped
      state_.length = std::min(state_.length, state_.max_length);
      rebased = state_.rebase_methods(previous_l);  // templates (w = L/2, factor = n/L) follow the new L
    }
    // Keep methods the model can run; when none can, the model's own position family.
    MethodList dropped;
    bool switched = false;
    QStringList templates;
    const MethodList keep = AppState::fit_methods(state_.methods, state_.config, dropped, switched, &templates);
    QStringList dropped_labels;
    for (const auto& m : dropped) dropped_labels << AppState::label(m);
    if (!switched && !dropped.empty())  // said, never silent
      show_error(tr("%1 cannot run on this model and left the method list (%2)")
                     .arg(dropped_labels.join(", "),
                          QString::fromStdString(check_method_for_model(dropped[0], state_.config).error())));
    {
      QSignalBlocker quiet(&state_);  // the runs start below, once the results are dropped
      state_.set_methods(keep);       // ids follow the methods; tables point at the new model's
      if (switched)
        for (size_t i = 0; i < state_.method_ids().size(); ++i)
          state_.set_template(state_.method_ids()[i], templates.value((qsizetype)i));
    }
    drop_results();
    state_.layer = std::min(state_.layer, info.config.n_layers - 1);
    state_.head = std::min(state_.head, info.config.n_heads - 1);
    methods_->sync_from_state();
    sweep_->suggest_lengths();
    retrieval_->suggest_lengths();
    message_->setText(tr("Model loaded: %1").arg(QFileInfo(info.path).fileName()) +
                      (switched ? tr(" · methods set to this model's position family (%1 cannot run on it)")
                                      .arg(dropped_labels.join(", "))
                                : QString()) +
                      (rebased.isEmpty() || switched ? QString() : " · " + rebased));
    state_.touch();
    schedule_runs();
    finish_job(job);
  });
  connect(worker_, &EngineWorker::document_loaded, this, [this](quint64 job, std::shared_ptr<const DocumentSnapshot> d) {
    // A document the user opened makes every result stale; the same document
    // re-tokenised for a new model does not (the model change dropped them already,
    // and runs started since then were computed on the re-tokenised text).
    const bool own_job = jobs_.running(job, JobKind::Document);
    bool message_shown = false;
    if (own_job) drop_results();
    state_.document = d;
    document_path_ = d->path;
    if (state_.length > state_.length_cap()) {  // the n in use, in every control
      const int asked = state_.length;
      state_.set_length(asked);
      methods_->sync_from_state();
      say_length_cap(asked);
      message_shown = true;
    }
    add_recent(d->path);
    if (!message_shown)
      message_->setText(tr("Document: %1 (%2 tokens)").arg(QFileInfo(d->path).fileName()).arg(d->tokens.size()));
    state_.touch();
    schedule_runs();
    if (own_job) finish_job(job);  // within a model job, model_loaded ends it
  });
  connect(worker_, &EngineWorker::ppl_ready, this, [this](std::shared_ptr<const PplSnapshot> r) {
    if (r->partial) {  // one more method done: shown now, the job goes on
      if (jobs_.is_latest(JobKind::Ppl, r->job)) {
        state_.ppl = r;
        state_.touch();
      }
      return;
    }
    if (jobs_.is_latest(JobKind::Ppl, r->job)) {
      state_.ppl = r;
      state_.touch();
      QString summary;
      for (size_t k = 0; k < r->results.size(); ++k)
        summary += QString("%1%2: %3").arg(k ? "; " : "").arg(AppState::label(r->methods[k])).arg(r->results[k].mean_nll, 0, 'f', 3);
      message_->setText(tr("Mean NLL at n = %1 (nats) — %2").arg(r->ctx).arg(summary));
      if (!r->skipped.isEmpty()) show_error(r->skipped);  // the others ran and are shown
      if (!sweep_covers_methods()) run_sweep(true);  // the Story's right chart (cells cached by the worker)
    }
    finish_job(r->job);  // after the result is in place: `idle` listeners see it
  });
  connect(worker_, &EngineWorker::attention_ready, this, [this](std::shared_ptr<const AttentionSnapshot> r) {
    if (jobs_.is_latest(JobKind::Attention, r->job)) {
      state_.attention = r;
      state_.touch();
    }
    finish_job(r->job);  // after the result is in place: `idle` listeners see it
  });
  connect(worker_, &EngineWorker::sweep_ready, this, [this](std::shared_ptr<const SweepSnapshot> r) {
    if (jobs_.is_latest(JobKind::Sweep, r->job)) {
      state_.sweep = r;
      state_.touch();
      MethodList ran;  // the methods the sweep ran (one left out is said after)
      for (const auto& c : r->result.cells)
        if (std::find(ran.begin(), ran.end(), c.method) == ran.end()) ran.push_back(c.method);
      message_->setText(tr("Loss vs length: %1 method(s) at %2 length(s).").arg(ran.size())
                            .arg(r->result.cells.size() / std::max<size_t>(1, ran.size())) +
                        (r->skipped.isEmpty() ? QString() : tr(" Left out: %1").arg(r->skipped)));
    }
    finish_job(r->job);  // after the result is in place: `idle` listeners see it
  });
  connect(worker_, &EngineWorker::nbce_ready, this, [this](std::shared_ptr<const NbceSnapshot> r) {
    if (jobs_.is_latest(JobKind::Nbce, r->job)) {
      state_.nbce = r;
      if (nbce_) nbce_->show_result(r);
      message_->setText(tr("NBCE answered with %1 method(s).").arg(r->methods.size()));
    }
    finish_job(r->job);
  });
  connect(worker_, &EngineWorker::progress, this, [this](quint64 job, double f) {
    if (!jobs_.pending(job)) return;
    progress_->setValue((int)(f * 1000));
    // A time left once the rate is known (after a second and 3 % of the work).
    const double secs = job_clock_.elapsed() / 1000.0;
    if (f > 0.03 && secs > 1.0) progress_->setFormat(tr("%p% · about %1 s left").arg(std::lround(secs * (1 - f) / f)));
  });
  connect(worker_, &EngineWorker::token_attention_ready, this, [this](std::shared_ptr<const TokenAttentionSnapshot> r) {
    if (jobs_.is_latest(JobKind::TokenAttention, r->job)) {
      state_.token_attention = r;
      state_.touch();
    }
    finish_job(r->job);
  });
  connect(worker_, &EngineWorker::attention_compare_ready, this, [this](std::shared_ptr<const AttentionCompareSnapshot> r) {
    if (jobs_.is_latest(JobKind::AttentionCompare, r->job)) {
      state_.attention_compare = r;
      state_.touch();
    }
    finish_job(r->job);
  });
  connect(worker_, &EngineWorker::note, this, [this](quint64 job, QString text) {
    if (jobs_.pending(job)) message_->setText(text);
  });
  connect(worker_, &EngineWorker::failed, this, [this](quint64 job, QString msg) {
    // A job the user cancelled (or a newer one replaced) ends quietly whatever its last words;
    // empty: deferred, nothing went wrong.
    const bool silent = msg == "cancelled" || msg.isEmpty() || (jobs_.pending(job) && *jobs_.cancel_flag(job));
    finish_job(job);
    if (!silent) show_error(msg);
  });

  connect(&state_, &AppState::changed, this, &MainWindow::refresh_views);
  connect(&state_, &AppState::methods_changed, this, &MainWindow::schedule_runs);
  connect(&state_, &AppState::length_changed, this, &MainWindow::schedule_runs);
  connect(attention_, &AttentionView::request, this, &MainWindow::start_attention);
  connect(attention_, &AttentionView::request_detail, this, &MainWindow::start_attention_detail);
  connect(attention_, &AttentionView::request_compare, this, &MainWindow::start_attention_compare);
  connect(sweep_, &SweepView::request, this, [this] { run_sweep(); });
  wire_retrieval();
  connect(tabs_, &QTabWidget::currentChanged, this, [this] {
    refresh_views();
    if (current_view() == "attention" && (attention_pending_ || !state_.attention)) start_attention();
  });
  connect(this, &MainWindow::idle, this, &MainWindow::continue_demo);
  // A token clicked anywhere: the Token view shows it (its attention rows are computed on demand).
  connect(qobject_cast<TokenView*>(view("token")), &TokenView::request_attention, this, &MainWindow::start_token_attention);
  connect(&state_, &AppState::token_selected, this, [this](int token) {
    if (token >= 0) message_->setText(tr("Token %1 selected: the Token view shows it under every method.").arg(token));
  });
  connect(story_, &StoryView::tour_dismissed, this, [] { QSettings("LongScope", "LongScope").setValue("walkthrough_seen", true); });
  run_debounce_.setSingleShot(true);
  run_debounce_.setInterval(250);  // restart a run once a slider settles
  connect(&run_debounce_, &QTimer::timeout, this, [this] {
    start_ppl();
    start_attention();
  });
}

MainWindow::~MainWindow() {
  cancel_runs();
  thread_.quit();
  thread_.wait();
}

void MainWindow::build_menus() {
  QMenu* file = menuBar()->addMenu(tr("&File"));
  file->addAction(tr("Open &document…"), QKeySequence::Open, this, [this] {
    QString p = QFileDialog::getOpenFileName(this, tr("Open document"), start_dir(document_path_, "documents"),
                                             tr("Text (*.txt *.md);;All files (*)"));
    if (!p.isEmpty()) open_document(p);
  });
  recent_menu_ = file->addMenu(tr("Recent documents"));
  file->addAction(tr("Open &model file…"), this, [this] {
    QString p = QFileDialog::getOpenFileName(this, tr("Open model"), start_dir(model_path_, "models"),
                                             tr("Models (*.gguf *.bin *.safetensors)"));
    if (!p.isEmpty()) open_model(p);
  });
  file->addAction(tr("Open model &folder (safetensors + config.json)…"), this, [this] {
    QString p = QFileDialog::getExistingDirectory(this, tr("Open model folder"), start_dir(model_path_, "models/twins"));
    if (!p.isEmpty()) open_model(p);
  });
  file->addAction(tr("Set training length L…"), this, [this] {
    bool ok = false;
    int L = QInputDialog::getInt(this, tr("Training length"), tr("L used by every method (0 = the model's own):"),
                                 train_len_override_, 0, 1 << 24, 1, &ok);
    if (ok && !model_path_.isEmpty()) open_model(model_path_, L);
  });
  file->addSeparator();
  file->addAction(tr("&Save session…"), QKeySequence::Save, this, [this] {
    QString p = QFileDialog::getSaveFileName(this, tr("Save session"), "session.longscope.json", tr("Session (*.json)"));
    if (!p.isEmpty()) save_session(p);
  });
  file->addAction(tr("&Load session…"), this, [this] {
    QString p = QFileDialog::getOpenFileName(this, tr("Load session"), {}, tr("Session (*.json)"));
    if (!p.isEmpty()) load_session(p);
  });
  file->addSeparator();
  file->addAction(tr("&Quit"), QKeySequence::Quit, qApp, &QApplication::quit);
  QMenu* exp = menuBar()->addMenu(tr("&Export"));
  for (auto [label, ext] : {std::pair{"Current view as PNG…", "png"}, {"Current view as SVG…", "svg"},
                            {"Current view data as CSV…", "csv"}, {"Current view data as JSON…", "json"}}) {
    exp->addAction(tr(label), this, [this, e = QString(ext)] {
      auto* v = qobject_cast<View*>(tabs_->currentWidget());
      QString p = QFileDialog::getSaveFileName(this, tr("Export"), v->view_name() + "." + e);
      if (!p.isEmpty()) export_view(v->view_name(), p);
    });
  }
  exp->addSeparator();
  exp->addAction(tr("&Figure pack (every view, with captions)…"), this, [this] {
    const QString d = QFileDialog::getExistingDirectory(this, tr("Folder for the figure pack"));
    if (!d.isEmpty()) export_figure_pack(d);
  });
  QMenu* view = menuBar()->addMenu(tr("&View"));
  for (int i = 0; i < tabs_->count(); ++i)
    view->addAction(tabs_->tabText(i), this, [this, i] { tabs_->setCurrentIndex(i); });
  view->addSeparator();
  for (auto* d : findChildren<QDockWidget*>()) view->addAction(d->toggleViewAction());  // reopens a closed pane
  view->addAction(tr("Show all panes"), this, [this] { set_docks_visible(true); });
  QMenu* run = menuBar()->addMenu(tr("&Run"));
  run->addAction(tr("&Recompute now"), QKeySequence(Qt::Key_F5), this, &MainWindow::run_now);
  run->addAction(tr("Run loss-vs-length &sweep"), this, [this] { run_sweep(); });
  run->addAction(tr("&NBCE question answering…"), this, &MainWindow::show_nbce);
  run->addAction(tr("&Cancel running work"), QKeySequence(Qt::Key_Escape), this, &MainWindow::cancel_runs);
  QMenu* demo = menuBar()->addMenu(tr("&Demos"));
  for (const Demo& d : demos()) {
    QAction* a = demo->addAction(tr(d.title), this, [this, id = QString(d.id)] { run_demo(id); });
    a->setToolTip(tr(d.readme));
    a->setStatusTip(tr(d.readme));
  }
  demo->setToolTipsVisible(true);
  QMenu* help = menuBar()->addMenu(tr("&Help"));
  help->addAction(tr("&Guide"), QKeySequence::HelpContents, this, [this] { show_text(tr("LongScope guide"), guide_html()); });
  help->addAction(tr("&Methods explained"), this, [this] { show_text(tr("Methods explained"), methods_html()); });
  help->addAction(tr("&Walkthrough"), this, &MainWindow::start_walkthrough);
  help->addAction(tr("&About LongScope"), this, [this] {
    QMessageBox::about(this, tr("About LongScope"),
                       tr("LongScope %1: see why language models fail beyond their training length, and how each "
                          "context-extension method changes that.").arg(LONGSCOPE_VERSION));
  });
  QSettings settings("LongScope", "LongScope");
  for (const auto& p : settings.value("recent").toStringList())
    recent_menu_->addAction(p, this, [this, p] { open_document(p); });
}

void MainWindow::add_recent(const QString& path) {
  QSettings settings("LongScope", "LongScope");
  QStringList r = settings.value("recent").toStringList();
  r.removeAll(path);
  r.prepend(path);
  while (r.size() > 8) r.removeLast();
  settings.setValue("recent", r);
  recent_menu_->clear();
  for (const auto& p : r) recent_menu_->addAction(p, this, [this, p] { open_document(p); });
}

void MainWindow::update_running() {
  unsigned r = 0;
  if (jobs_.kind_pending(JobKind::Ppl)) r |= AppState::kRunPpl;
  if (jobs_.kind_pending(JobKind::Attention)) r |= AppState::kRunAttention;
  if (jobs_.kind_pending(JobKind::Sweep)) r |= AppState::kRunSweep;
  if (jobs_.kind_pending(JobKind::TokenAttention)) r |= AppState::kRunTokenAttention;
  if (jobs_.kind_pending(JobKind::AttentionCompare)) r |= AppState::kRunAttentionCompare;
  if (jobs_.kind_pending(JobKind::Retrieval) || jobs_.kind_pending(JobKind::RetrievalDetail)) r |= AppState::kRunRetrieval;
  if (r == state_.running) return;
  state_.running = r;
  // Each tab says whether what it shows is being computed (orange title, tooltip).
  const std::map<QString, unsigned> feeds = {{"story", AppState::kRunPpl | AppState::kRunSweep},
                                             {"perplexity", AppState::kRunPpl},
                                             {"token", AppState::kRunTokenAttention},
                                             {"attention", AppState::kRunAttention | AppState::kRunAttentionCompare},
                                             {"sweep", AppState::kRunSweep},
                                             {"retrieval", AppState::kRunRetrieval}};
  for (int i = 0; i < tabs_->count(); ++i) {
    auto* v = qobject_cast<View*>(tabs_->widget(i));
    const auto it = v ? feeds.find(v->view_name()) : feeds.end();
    if (it == feeds.end()) continue;
    // A colour, not extra text: the tabs keep their width on a projector.
    tabs_->tabBar()->setTabTextColor(i, (r & it->second) ? QColor(0xb3, 0x5c, 0x00) : QColor());
    tabs_->setTabToolTip(i, (r & it->second) ? tr("computing what this view shows…")
                            : v->view_name() == "sweep" ? tr("Loss against the context length n")
                                                        : QString());
  }
  state_.touch();  // views label or unlabel stale content
}

quint64 MainWindow::start_job(JobKind kind) {
  const quint64 id = jobs_.start(kind);  // a newer job of the same kind cancels the one in flight
  update_running();
  job_clock_.start();
  progress_->setFormat("%p%");
  progress_->setValue(0);
  progress_->show();
  cancel_->show();
  return id;
}

void MainWindow::finish_job(quint64 job) {
  jobs_.finish(job);
  update_running();
  if (!jobs_.busy()) {
    progress_->hide();
    cancel_->hide();
    emit idle();
  }
}

void MainWindow::cancel_runs() {
  jobs_.cancel_all();
  if (jobs_.busy()) message_->setText(tr("Cancelled."));
}

void MainWindow::open_model(const QString& path, int train_len_override) {
  train_len_override_ = train_len_override;
  const quint64 job = start_job(JobKind::Model);
  QMetaObject::invokeMethod(worker_, [w = worker_, job, path, train_len_override] { w->load_model(job, path, train_len_override); },
                            Qt::QueuedConnection);
}

void MainWindow::open_document(const QString& path, bool latin1) {
  last_document_ = path;
  const quint64 job = start_job(JobKind::Document);
  QMetaObject::invokeMethod(worker_, [w = worker_, job, path, latin1] { w->load_document(job, path, latin1); },
                            Qt::QueuedConnection);
}

void MainWindow::set_methods(const QStringList& specs) {
  QStringList refused;
  state_.set_method_templates(specs, &refused);  // templates ({L/2}, {n/L}) resolve against the model
  for (const auto& why : refused) show_error(why);
  methods_->sync_from_state();
}

void MainWindow::set_length(int n) {
  if (state_.set_length(n)) say_length_cap(n);
  methods_->sync_from_state();
}

void MainWindow::set_layer_head(int layer, int head) {
  state_.set_selection(std::clamp(layer, 0, std::max(0, state_.config.n_layers - 1)),
                       std::clamp(head, 0, std::max(0, state_.config.n_heads - 1)));
  attention_->refresh();
  start_attention();
}

void MainWindow::schedule_runs() { run_debounce_.start(); }

void MainWindow::say_length_cap(int asked) {
  const int doc = state_.document ? (int)state_.document->tokens.size() : 0;
  const bool by_doc = state_.document && state_.length_cap() == doc - 1;
  message_->setText(by_doc ? tr("n = %1 is longer than the document (%2 tokens): n = %3 is used.")
                                 .arg(asked).arg(doc).arg(state_.length)
                           : tr("n = %1 does not fit in memory for this model: n = %2 is used.").arg(asked).arg(state_.length));
}

void MainWindow::set_docks_visible(bool on) {
  for (auto* d : findChildren<QDockWidget*>()) d->setVisible(on);
}

void MainWindow::run_now() {
  run_debounce_.stop();
  start_ppl();
  start_attention();
}

void MainWindow::start_ppl() {
  if (!state_.document || state_.model_path.isEmpty()) return;
  MethodList methods;
  for (const auto& m : state_.methods)
    if (check_method_for_model(m, state_.config)) methods.push_back(m);
  if (methods.empty()) return;
  const int ctx = std::min<int>(state_.length, (int)state_.document->tokens.size() - 1);
  if (ctx < 2) return show_error(tr("the document is too short for a window"));
  const int max_tokens = std::max(ctx, kScoredTokens);  // score at least this many tokens when the document has them
  const quint64 job = start_job(JobKind::Ppl);
  message_->setText(tr("Computing per-token NLL at n = %1…").arg(ctx));  // the worker then says how many methods run
  QMetaObject::invokeMethod(worker_, [w = worker_, job, c = jobs_.cancel_flag(job), methods, ctx, max_tokens] {
    w->run_ppl(job, c, methods, ctx, max_tokens);
  }, Qt::QueuedConnection);
}

void MainWindow::drop_results() {
  // Results of the previous model or document are never shown: clear them, and
  // forget the jobs in flight so that their answers are dropped when they come.
  state_.ppl.reset();
  state_.attention.reset();
  state_.sweep.reset();
  state_.retrieval.reset();
  state_.retrieval_detail.reset();
  state_.token_attention.reset();
  state_.attention_compare.reset();
  state_.selected_token = -1;
  for (JobKind kind : {JobKind::Ppl, JobKind::Attention, JobKind::Sweep, JobKind::Retrieval, JobKind::RetrievalDetail,
                       JobKind::TokenAttention, JobKind::AttentionCompare})
    jobs_.cancel_and_forget(kind);
}

QList<int> MainWindow::story_lengths() const {
  // The Story's right chart: the sweep lengths up to n, and n itself.
  QList<int> out;
  const int doc = state_.document ? (int)state_.document->tokens.size() - 1 : 0;
  for (int n : sweep_->lengths())
    if (n <= doc && n <= state_.max_length && n < state_.length) out << n;
  if (state_.length <= doc) out << state_.length;
  return out;
}

bool MainWindow::sweep_covers_methods() const {
  if (!state_.sweep) return false;
  for (const MethodParams& m : state_.methods)
    for (int n : story_lengths()) {
      bool found = false;
      for (const auto& c : state_.sweep->result.cells) found |= c.method == m && c.ctx == n;
      if (!found) return false;
    }
  return true;
}

void MainWindow::run_sweep(bool up_to_n) {
  if (!state_.document) return show_error(tr("open a document first"));
  QList<int> lengths;
  const int doc = (int)state_.document->tokens.size() - 1;
  if (up_to_n) lengths = story_lengths();  // the automatic sweep stops at the chosen n and includes it
  else {
    // The Run button takes every length; a field with entries that are not lengths is
    // refused here, once (the automatic sweep quietly uses the valid ones).
    if (const QString bad = sweep_->lengths_problem(); !bad.isEmpty()) return show_error(bad);
    for (int n : sweep_->lengths())
      if (n <= doc && n <= state_.max_length) lengths << n;
  }
  if (lengths.isEmpty()) return show_error(tr("no sweep length fits the document (%1 tokens)").arg(doc + 1));
  const quint64 job = start_job(JobKind::Sweep);
  message_->setText(tr("Running the loss-vs-length sweep…"));
  QMetaObject::invokeMethod(worker_, [w = worker_, job, c = jobs_.cancel_flag(job), ms = state_.methods, lengths] {
    w->run_sweep(job, c, ms, lengths, kScoredTokens);
  }, Qt::QueuedConnection);
}

NbceDialog* MainWindow::show_nbce() {
  if (!nbce_) {
    nbce_ = new NbceDialog(this);
    connect(nbce_, &NbceDialog::ask, this, [this] { ask_nbce(); });
  }
  nbce_->show();
  nbce_->raise();
  return nbce_;
}

void MainWindow::ask_nbce() {
  if (state_.model_path.isEmpty()) return show_error(tr("load a model first"));
  const quint64 job = start_job(JobKind::Nbce);
  nbce_->set_busy(true);
  message_->setText(tr("NBCE: answering with %1 method(s)…").arg(state_.methods.size()));
  QMetaObject::invokeMethod(worker_, [w = worker_, job, c = jobs_.cancel_flag(job), ms = state_.methods,
                                      q = nbce_->question(), ctx = nbce_->context(), k = nbce_->chunks(),
                                      n = nbce_->tokens()] { w->run_nbce(job, c, ms, q, ctx, k, n); },
                            Qt::QueuedConnection);
}

void MainWindow::show_error(const QString& message) {
  if (nbce_) nbce_->set_busy(false);
  last_error_ = message;
  message_->setText(tr("Error: %1").arg(message));
  error_label_->setText(tr("Error: %1").arg(message));
  latin1_->setVisible(message.contains("is not valid UTF-8 text") && !last_document_.isEmpty());
  error_bar_->show();
  emit error_shown(message);
}

QString MainWindow::status_text() const { return message_->text(); }

bool MainWindow::error_visible() const { return !error_bar_->isHidden(); }

void MainWindow::refresh_views() {
  // The visible view redraws now; the others when they are shown (cheap math).
  if (auto* v = qobject_cast<View*>(tabs_->currentWidget())) v->refresh();
  document_->refresh();
}

View* MainWindow::view(const QString& name) const {
  for (int i = 0; i < tabs_->count(); ++i)
    if (auto* v = qobject_cast<View*>(tabs_->widget(i)); v && v->view_name() == name) return v;
  return nullptr;
}

QString MainWindow::current_view() const {
  auto* v = qobject_cast<View*>(tabs_->currentWidget());
  return v ? v->view_name() : QString();
}

void MainWindow::show_view(const QString& name) {
  if (auto* v = view(name)) {
    tabs_->setCurrentWidget(v);
    refresh_views();  // the view and the document pane (a retrieval prompt shows there)
  }
}

void MainWindow::dragEnterEvent(QDragEnterEvent* e) {
  if (e->mimeData()->hasUrls()) e->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* e) {
  for (const auto& url : e->mimeData()->urls()) {
    const QString p = url.toLocalFile();
    const QString ext = QFileInfo(p).suffix().toLower();
    if (ext == "gguf" || ext == "bin" || ext == "safetensors" || QFileInfo(p).isDir()) open_model(p);
    else if (ext == "json") load_session(p);
    else open_document(p);
  }
}

}  // namespace ls::app
