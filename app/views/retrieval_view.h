// Retrieval: passkey / needle / LongEval-lines accuracy over a depth × length
// grid, one heatmap per method side by side (green = found). Clicking a cell
// opens its first prompt in the document pane, painted by per-token NLL or by the
// attention of the best retrieval head at the answer position.
#pragma once

#include <QCheckBox>
#include <QComboBox>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>

#include "app/views/view.h"

namespace ls::app {

// The grids, painted in one widget (what an image export shows).
class RetrievalGridWidget : public QWidget {
  Q_OBJECT
 public:
  explicit RetrievalGridWidget(AppState* s, QWidget* parent = nullptr);
  QSize minimumSizeHint() const override { return {360, 220}; }
  // The cell under a point: (method, length, depth), or false.
  bool cell_at(QPoint p, int& method, int& length, int& depth) const;
  QRect cell_rect(int method, int length, int depth) const;

 signals:
  void cell_clicked(int method, int length, int depth);

 protected:
  void paintEvent(QPaintEvent*) override;
  void mousePressEvent(QMouseEvent* e) override;
  void mouseMoveEvent(QMouseEvent* e) override;

 private:
  struct Geometry {
    int cols = 1, block_w = 0, block_h = 0, label_w = 0, cell_w = 0, cell_h = 0, title_h = 0, top = 0;
  };
  Geometry geometry() const;
  AppState* state_;
};

// Red (0) → yellow → green (1).
QColor accuracy_colour(double a);

class RetrievalView : public View {
  Q_OBJECT
 public:
  explicit RetrievalView(AppState* s, QWidget* parent = nullptr);
  QString view_name() const override { return "retrieval"; }
  void refresh() override;
  bool has_content() const override { return state_->retrieval != nullptr; }
  QJsonObject data_json() const override;
  QString data_csv() const override;
  QWidget* export_widget() override { return grid_; }
  QJsonObject view_state() const override;
  void restore_state(const QJsonObject& o) override;
  void suggest_lengths();
  void set_lengths(const QString& text) { lengths_->setText(text); }
  // A passkey grid as a demo sets it: lengths, depths and trials (no NBCE row).
  void set_passkey_grid(const QString& lengths, const QString& depths, int trials);

  RetrievalTask task() const;
  QList<int> lengths() const;
  QList<double> depths() const;
  QString fields_problem() const;  // "" or which entries of lengths / depths are not accepted
  int trials() const { return trials_->value(); }
  int nbce_chunks() const { return nbce_->isChecked() ? chunks_->value() : 0; }
  RetrievalGridWidget* grid() { return grid_; }

 signals:
  void request();
  void open_cell(int method, int length, int depth);

 private:
  QComboBox* task_;
  QLineEdit* lengths_;
  QLineEdit* depths_;
  QSpinBox* trials_;
  QCheckBox* nbce_;
  QSpinBox* chunks_;
  QPushButton* run_;
  RetrievalGridWidget* grid_;
  QLabel* info_;
};

}  // namespace ls::app
