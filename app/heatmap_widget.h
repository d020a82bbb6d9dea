// A matrix as a heatmap: colour bar, masked cells (NaN) drawn as such, hover
// read-out, wheel zoom and drag pan (double-click resets), linear or log scale,
// sequential or diverging colours.
#pragma once

#include <QImage>
#include <QWidget>
#include <functional>
#include <vector>

namespace ls::app {

class HeatmapWidget : public QWidget {
  Q_OBJECT
 public:
  explicit HeatmapWidget(QWidget* parent = nullptr);
  // values: rows×cols row-major, NaN = masked. The read-out formats a cell.
  void set_data(int rows, int cols, std::vector<float> values, const QString& title);
  void set_log_scale(bool on);
  void set_diverging(bool on);  // symmetric range around 0 (difference mode)
  void set_readout(std::function<QString(int row, int col, float value)> f) { readout_ = std::move(f); }
  void reset_view();
  QPointF view_centre() const;  // centre of the visible window, in cells
  int rows() const { return rows_; }
  int cols() const { return cols_; }
  const std::vector<float>& values() const { return values_; }
  QSize sizeHint() const override { return {520, 480}; }

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
  QRectF plot_rect() const;
  QColor colour(float t) const;  // t in [0, 1]
  int rows_ = 0, cols_ = 0;
  std::vector<float> values_;
  QString title_;
  bool log_ = false, diverging_ = false;
  float lo_ = 0, hi_ = 1;
  QImage image_;
  double zoom_ = 1.0;
  QPointF pan_;  // in data cells
  QPoint drag_from_;
  std::function<QString(int, int, float)> readout_;
};

}  // namespace ls::app
