// The main window: wiring only. Docks for the model, methods and document; the
// views as tabs; a status bar with progress, Cancel and messages. Model runs go
// to the EngineWorker thread; a change of method or length cancels the run in
// flight and starts a new one.
#pragma once

#include <QDialog>
#include <QElapsedTimer>
#include <QLabel>
#include <QMainWindow>
#include <QProgressBar>
#include <QPushButton>
#include <QTabWidget>
#include <QThread>
#include <map>
#include <tuple>

#include "app/app_state.h"
#include "app/job_board.h"
#include "app/provenance.h"
#include "app/engine_worker.h"

namespace ls::app {

// Tokens scored per run (PPL and each sweep length): windows = this / n, at least one.
constexpr int kScoredTokens = 4096;

class View;
class MethodPanel;
class DocumentView;
class AttentionView;
class SweepView;
class RetrievalView;
class StoryView;
class NbceDialog;

// The Help ▸ Guide text, and Help ▸ Methods explained (every method of the registry).
QString guide_html();
QString methods_html();

class MainWindow : public QMainWindow {
  Q_OBJECT
 public:
  explicit MainWindow(QWidget* parent = nullptr);
  ~MainWindow() override;

  void open_model(const QString& path, int train_len_override = 0);
  void open_document(const QString& path, bool latin1 = false);  // latin1: read its bytes as ISO-8859-1
  void set_methods(const QStringList& specs);  // false specs are reported, valid ones kept
  void set_length(int n);
  void set_layer_head(int layer, int head);
  void run_sweep(bool up_to_n = false);
  void run_retrieval();                                    // the Retrieval view's grid
  void set_retrieval_lengths(const QString& lengths);
  void open_retrieval_cell(int method, int length, int depth);  // a grid cell's prompt into the document pane  // up_to_n: only the lengths ≤ n (the Story's automatic sweep)
  void start_attention_detail(int q0, int k0, int size);  // size > 0: a block of a pooled map at full resolution
  void run_now();
  void set_docks_visible(bool on);  // headless rendering gives the view the whole window  // start the model runs for the current state without waiting for the debounce
  void cancel_runs();
  bool busy() const { return jobs_.busy(); }
  View* view(const QString& name) const;
  void show_view(const QString& name);
  QString current_view() const;
  AppState* state() { return &state_; }
  QString last_error() const { return last_error_; }
  QString status_text() const;
  bool error_visible() const;
  NbceDialog* show_nbce();  // Run ▸ NBCE question answering
  void ask_nbce();
  QDialog* show_text(const QString& title, const QString& html);  // a help text in a scrolling pane
  // Demos ▸ …: opens the demo's model and document, then sets its methods, n and view and
  // runs what the view needs; false for an unknown id.
  bool run_demo(const QString& id);
  void start_walkthrough();  // Help ▸ Walkthrough: the Story's three steps from the first
  bool save_session(const QString& path);
  bool load_session(const QString& path);
  bool export_view(const QString& name, const QString& path);  // by extension: png, svg, csv, json
  // Where an export's numbers come from (model, document, n, methods, version, CLI commands).
  Provenance provenance(const QString& view_name) const;
  // Every view with content as PNG, SVG, CSV and JSON into `dir`, with captions (README.md);
  // returns the files written ("" entries never).
  QStringList export_figure_pack(const QString& dir);

 signals:
  void idle();  // no run pending
  void error_shown(QString message);

 protected:
  void dragEnterEvent(QDragEnterEvent* e) override;
  void dropEvent(QDropEvent* e) override;

 private:
  quint64 start_job(JobKind kind);
  void finish_job(quint64 job);
  void update_running();  // AppState::running and the tabs' busy marks
  void schedule_runs();
  void say_length_cap(int asked);  // the status line names the n in use and why
  void start_ppl();
  void start_attention();
  void start_token_attention();  // the selected token's attention row under each method
  void start_attention_compare();  // this layer and head under every method (small multiples, A − B)
  void show_error(const QString& message);
  void build_menus();
  void continue_demo();  // on idle: the demo's next stage
  void wire_retrieval();  // main_window_retrieval.cpp
  void add_recent(const QString& path);
  void refresh_views();
  void drop_results();
  bool sweep_covers_methods() const;  // the Story's sweep has every method at every story length
  QList<int> story_lengths() const;

  AppState state_;
  QThread thread_;
  EngineWorker* worker_ = nullptr;
  QTabWidget* tabs_ = nullptr;
  MethodPanel* methods_ = nullptr;
  DocumentView* document_ = nullptr;
  AttentionView* attention_ = nullptr;
  SweepView* sweep_ = nullptr;
  RetrievalView* retrieval_ = nullptr;
  StoryView* story_ = nullptr;
  NbceDialog* nbce_ = nullptr;
  QLabel* model_label_ = nullptr;
  QLabel* message_ = nullptr;
  QWidget* error_bar_ = nullptr;  // red banner: the last error, until dismissed
  QLabel* error_label_ = nullptr;
  QPushButton* latin1_ = nullptr;  // on the banner of a document that is not UTF-8: open it as Latin-1
  QString last_document_;          // the document asked for last (its error offers Latin-1)
  QProgressBar* progress_ = nullptr;
  QPushButton* cancel_ = nullptr;
  QMenu* recent_menu_ = nullptr;
  QTimer run_debounce_;
  QElapsedTimer job_clock_;  // since the newest job started (the progress bar's time left)
  JobBoard jobs_;  // ids, kinds, cancel flags; the newest job of a kind wins
  QString last_error_;
  QString model_path_, document_path_;
  int train_len_override_ = 0;
  QString demo_;  // the demo being set up ("" : none)
  bool attention_pending_ = false;  // the attention asked for while its view was hidden
  int requested_token_ = -1;        // the token whose attention rows are being computed
  std::tuple<int, int, int, QStringList> requested_compare_;  // (n, layer, head, methods) on its way
  enum class DemoStage { Loading, Running } demo_stage_ = DemoStage::Loading;
};

}  // namespace ls::app
