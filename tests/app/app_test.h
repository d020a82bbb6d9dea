// The desktop app under the offscreen platform (QtTest): one test class, its slots
// shelved by what they check (test_app_views.cpp, test_app_files.cpp,
// test_app_window.cpp), the main and shared set-up in test_app.cpp.
#pragma once

#include <QDir>
#include <QDockWidget>
#include <QMenuBar>
#include <QSlider>
#include <QSpinBox>
#include <QComboBox>
#include <QScrollArea>
#include <QScrollBar>
#include <QTabBar>
#include <QLineEdit>
#include <QAbstractSpinBox>
#include <QToolButton>
#include <QLabel>
#include <QElapsedTimer>
#include <QFile>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSignalSpy>
#include <QProcess>
#include <QSettings>
#include <QTemporaryDir>
#include <QTextBrowser>
#include <QTextDocument>
#include <QtTest>
#include <QtCharts/QChartView>
#include <QtCharts/QLineSeries>

#include <sys/stat.h>

#include <set>

#include "app/heatmap_widget.h"
#include "app/job_board.h"
#include "app/session.h"
#include "app/startup_run.h"
#include "app/method_panel.h"
#include "app/nbce_dialog.h"
#include "core/model/random_model.h"
#include "core/position/spec.h"
#include "app/main_window.h"
#include "app/demos.h"
#include "app/document_view.h"
#include "app/views/attention_view.h"
#include "app/views/retrieval_view.h"
#include "app/views/story_view.h"
#include "app/views/view.h"

using ls::app::MainWindow;

// A method as the app holds it (typed), from its spec text.
inline ls::MethodParams spec(const char* text) { return ls::parse_method_spec(text).value(); }

inline const QString kModel = LONGSCOPE_RESOURCES_DIR "/models/stories260K.gguf";
inline const QString kDoc = LONGSCOPE_RESOURCES_DIR "/documents/tinystories_1.txt";

inline bool wait_idle(MainWindow& w, int ms = 60000) {
  QElapsedTimer t;
  t.start();
  while (w.busy() && t.elapsed() < ms) QTest::qWait(10);
  return !w.busy();
}

// An image is "non-empty" when it is not a single flat colour.
inline int distinct_colours(const QImage& img) {
  QSet<QRgb> seen;
  for (int y = 0; y < img.height(); y += 3)
    for (int x = 0; x < img.width(); x += 3) seen.insert(img.pixel(x, y));
  return seen.size();
}

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
  void job_board_latest_wins();
  void session_file_round_trips_and_refuses_other_json();
  void startup_run_captures_and_ends_on_errors();
  void method_ids_follow_parameter_edits();
  void layers_without_position_are_named();
  void a_method_that_cannot_run_at_n_is_left_out_and_said();
  void projector_layout_shows_every_control_whole();
  void opens_on_the_story_and_help_fits_a_projector();
  void presets_follow_the_model();
  void demos_reproduce_the_readme();
  void attention_layers_cached_and_stale_maps_labelled();
  void story_says_when_results_are_for_another_n();
  void small_defects_stay_fixed();
  void walkthrough_tells_the_story_in_three_steps();
  void exports_carry_provenance_and_their_cli_commands_agree();
  void a_clicked_token_is_shown_under_every_method();
  void attention_small_multiples_and_difference();

 private:
  void load(MainWindow& w, int length = 1024);
  QString shots_;
};
