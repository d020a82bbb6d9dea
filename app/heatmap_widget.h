// A matrix as a heatmap: colour bar, masked cells (NaN) drawn as such, hover
// read-out, wheel zoom and drag pan (double-click resets), linear or log scale,
// sequential or diverging colours.
#pragma once

#include <QImage>
#include <QStringList>
#include <algorithm>
#include <QWidget>
#include <functional>
#include <vector>

namespace ls::app {

// How cells map to token positions (cell c ↦ x0 + c·dx), the axis names, and an
// optional dashed diagonal where query − key = `diagonal` (e.g. the training length L).
struct HeatmapAxes {
  double x0 = 0, dx = 1, y0 = 0, dy = 1;
  QString x_label = "key position j", y_label = "query position m";
  double diagonal = -1;  // < 0: none
  QString diagonal_label;
  bool operator==(const HeatmapAxes&) const = default;
};

class HeatmapWidget : public QWidget {
  Q_OBJECT
 public:
  explicit HeatmapWidget(QWidget* parent = nullptr);
  // values: rows×cols row-major, NaN = masked. The read-out formats a cell.
  // A new shape or new axes reset zoom and pan (a different matrix); new values alone keep them.
  void set_data(int rows, int cols, std::vector<float> values, const QString& title, const HeatmapAxes& axes = {});
  const QString& title() const { return title_; }
  void set_log_scale(bool on);
  void set_diverging(bool on);  // symmetric range around 0 (difference mode)
  void set_readout(std::function<QString(int row, int col, float value)> f) { readout_ = std::move(f); }
  void reset_view();
  QPointF view_centre() const;  // centre of the visible window, in cells
  int rows() const { return rows_; }
  int cols() const { return cols_; }
  const std::vector<float>& values() const { return values_; }
  QSize sizeHint() const override { return {520, 480}; }
  QStringList bar_labels() const { return {label(hi_), label(log_ ? std::max(lo_, 1e-12f) : lo_)}; }  // top, bottom
  QColor colour_of_value(float v) const { return colour(hi_ > lo_ ? (v - lo_) / (hi_ - lo_) : 0.5f); }
  void zoom_by(double factor) { zoom_ = std::max(1.0, zoom_ * factor); update(); }

 signals:
  void hovered(const QString& text);

 protected:
  void paintEvent(QPaintEvent*) override;
  void wheelEvent(QWheelEvent*) override;
  void mousePressEvent(QMouseEvent*) override;
  void mouseMoveEvent(QMouseEvent*) override;
  void mouseDoubleClickEvent(QMouseEvent*) override;

 private:
  void rebuild();
  QString label(double v) const;  // colour-bar number, never clipped
  double margin_right() const;
  QRectF plot_rect() const;
  QColor colour(float t) const;  // t in [0, 1]
  int rows_ = 0, cols_ = 0;
  std::vector<float> values_;
  QString title_;
  HeatmapAxes axes_;
  bool log_ = false, diverging_ = false;
  float lo_ = 0, hi_ = 1;
  QImage image_;
  double zoom_ = 1.0;
  QPointF pan_;  // in data cells
  QPoint drag_from_;
  std::function<QString(int, int, float)> readout_;
};

}  // namespace ls::app
