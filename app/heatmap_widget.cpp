#include "app/heatmap_widget.h"

#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>
#include <cmath>

namespace ls::app {

HeatmapWidget::HeatmapWidget(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  setMinimumSize(240, 200);
}

void HeatmapWidget::set_data(int rows, int cols, std::vector<float> values, const QString& title) {
  rows_ = rows;
  cols_ = cols;
  values_ = std::move(values);
  title_ = title;
  rebuild();
}

void HeatmapWidget::set_log_scale(bool on) {
  log_ = on;
  rebuild();
}

void HeatmapWidget::set_diverging(bool on) {
  diverging_ = on;
  rebuild();
}

QPointF HeatmapWidget::view_centre() const {
  const double vw = cols_ / zoom_, vh = rows_ / zoom_;
  return QPointF(std::clamp(pan_.x(), 0.0, cols_ - vw) + vw / 2, std::clamp(pan_.y(), 0.0, rows_ - vh) + vh / 2);
}

void HeatmapWidget::reset_view() {
  zoom_ = 1.0;
  pan_ = {};
  update();
}

// A perceptually ordered ramp (dark blue → teal → yellow), and blue-white-red for differences.
QColor HeatmapWidget::colour(float t) const {
  t = std::clamp(t, 0.0f, 1.0f);
  if (diverging_) {
    if (t < 0.5f) {
      float u = t / 0.5f;
      return QColor::fromRgbF(0.15f + 0.85f * u, 0.3f + 0.7f * u, 0.75f + 0.25f * u);
    }
    float u = (t - 0.5f) / 0.5f;
    return QColor::fromRgbF(1.0f, 1.0f - 0.75f * u, 1.0f - 0.8f * u);
  }
  const float stops[5][3] = {{0.27f, 0.00f, 0.33f}, {0.23f, 0.32f, 0.55f}, {0.13f, 0.57f, 0.55f},
                             {0.37f, 0.79f, 0.38f}, {0.99f, 0.91f, 0.14f}};
  float x = t * 4.0f;
  int i = std::min(3, (int)x);
  float f = x - i;
  return QColor::fromRgbF(stops[i][0] + f * (stops[i + 1][0] - stops[i][0]), stops[i][1] + f * (stops[i + 1][1] - stops[i][1]),
                          stops[i][2] + f * (stops[i + 1][2] - stops[i][2]));
}

void HeatmapWidget::rebuild() {
  lo_ = INFINITY;
  hi_ = -INFINITY;
  for (float v : values_)
    if (std::isfinite(v) && (!log_ || v > 0)) {
      lo_ = std::min(lo_, v);
      hi_ = std::max(hi_, v);
    }
  if (!std::isfinite(lo_)) lo_ = 0, hi_ = 1;
  if (log_) lo_ = std::max(lo_, hi_ * 1e-6f);  // six decades are readable; smaller values share the floor colour
  if (diverging_) {
    float a = std::max(std::fabs(lo_), std::fabs(hi_));
    lo_ = -a;
    hi_ = a > 0 ? a : 1;
  }
  if (hi_ <= lo_) hi_ = lo_ + 1;
  image_ = QImage(std::max(1, cols_), std::max(1, rows_), QImage::Format_RGB32);
  image_.fill(QColor(235, 235, 235));
  const double llo = std::log10(std::max(lo_, 1e-12f)), lhi = std::log10(std::max(hi_, 1e-12f));
  for (int r = 0; r < rows_; ++r) {
    auto* line = reinterpret_cast<QRgb*>(image_.scanLine(r));
    for (int c = 0; c < cols_; ++c) {
      float v = values_[(size_t)r * cols_ + c];
      if (!std::isfinite(v)) {
        line[c] = qRgb(225, 225, 225);  // masked
        continue;
      }
      float t = log_ ? (v > 0 && lhi > llo ? (float)((std::log10(v) - llo) / (lhi - llo)) : 0.0f) : (v - lo_) / (hi_ - lo_);
      line[c] = colour(t).rgb();
    }
  }
  update();
}

QRectF HeatmapWidget::plot_rect() const { return QRectF(48, 26, width() - 48 - 80, height() - 26 - 30); }

void HeatmapWidget::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), palette().window());
  p.setPen(palette().windowText().color());
  p.drawText(QRectF(0, 2, width(), 20), Qt::AlignCenter, title_);
  const QRectF pr = plot_rect();
  if (rows_ <= 0 || cols_ <= 0 || pr.width() < 10 || pr.height() < 10) return;
  // Visible window of cells: zoom and pan.
  const double vw = cols_ / zoom_, vh = rows_ / zoom_;
  const double x0 = std::clamp(pan_.x(), 0.0, cols_ - vw), y0 = std::clamp(pan_.y(), 0.0, rows_ - vh);
  p.save();
  p.setClipRect(pr);
  p.setRenderHint(QPainter::SmoothPixmapTransform, false);
  p.drawImage(pr, image_, QRectF(x0, y0, vw, vh));
  p.restore();
  p.drawRect(pr);
  // Axis labels: first and last visible indices.
  p.drawText(QRectF(0, pr.top() - 2, 44, 16), Qt::AlignRight, QString::number((int)y0));
  p.drawText(QRectF(0, pr.bottom() - 14, 44, 16), Qt::AlignRight, QString::number((int)(y0 + vh) - 1));
  p.drawText(QRectF(pr.left(), pr.bottom() + 2, 60, 16), Qt::AlignLeft, QString::number((int)x0));
  p.drawText(QRectF(pr.right() - 60, pr.bottom() + 2, 60, 16), Qt::AlignRight, QString::number((int)(x0 + vw) - 1));
  p.drawText(QRectF(pr.left(), pr.bottom() + 2, pr.width(), 16), Qt::AlignCenter, tr("key j →"));
  // Colour bar.
  const QRectF bar(pr.right() + 12, pr.top(), 14, pr.height());
  for (int y = 0; y < (int)bar.height(); ++y) {
    p.setPen(colour(1.0f - (float)y / (float)bar.height()));
    p.drawLine(QPointF(bar.left(), bar.top() + y), QPointF(bar.right(), bar.top() + y));
  }
  p.setPen(palette().windowText().color());
  p.drawRect(bar);
  auto fmt = [](float v) { return QString::number(v, 'g', 3); };
  p.drawText(QRectF(bar.right() + 3, bar.top() - 2, 60, 16), Qt::AlignLeft, fmt(hi_));
  p.drawText(QRectF(bar.right() + 3, bar.bottom() - 14, 60, 16), Qt::AlignLeft, fmt(log_ ? std::max(lo_, 1e-12f) : lo_));
  if (log_) p.drawText(QRectF(bar.right() + 3, bar.center().y() - 8, 60, 16), Qt::AlignLeft, "log");
}

void HeatmapWidget::wheelEvent(QWheelEvent* e) {
  const QRectF pr = plot_rect();
  const double fx = (e->position().x() - pr.left()) / pr.width(), fy = (e->position().y() - pr.top()) / pr.height();
  const double cx = pan_.x() + fx * cols_ / zoom_, cy = pan_.y() + fy * rows_ / zoom_;
  zoom_ = std::clamp(zoom_ * (e->angleDelta().y() > 0 ? 1.25 : 0.8), 1.0, std::max(1.0, std::max(rows_, cols_) / 4.0));
  pan_ = QPointF(cx - fx * cols_ / zoom_, cy - fy * rows_ / zoom_);
  update();
}

void HeatmapWidget::mousePressEvent(QMouseEvent* e) { drag_from_ = e->pos(); }

void HeatmapWidget::mouseMoveEvent(QMouseEvent* e) {
  const QRectF pr = plot_rect();
  const double vw = cols_ / zoom_, vh = rows_ / zoom_;
  if (e->buttons() & Qt::LeftButton) {
    QPoint d = e->pos() - drag_from_;
    drag_from_ = e->pos();
    pan_ -= QPointF(d.x() * vw / pr.width(), d.y() * vh / pr.height());
    pan_ = QPointF(std::clamp(pan_.x(), 0.0, cols_ - vw), std::clamp(pan_.y(), 0.0, rows_ - vh));
    update();
  }
  if (!pr.contains(e->position()) || rows_ == 0) return;
  const double x0 = std::clamp(pan_.x(), 0.0, cols_ - vw), y0 = std::clamp(pan_.y(), 0.0, rows_ - vh);
  int c = (int)(x0 + (e->position().x() - pr.left()) / pr.width() * vw);
  int r = (int)(y0 + (e->position().y() - pr.top()) / pr.height() * vh);
  c = std::clamp(c, 0, cols_ - 1);
  r = std::clamp(r, 0, rows_ - 1);
  float v = values_[(size_t)r * cols_ + c];
  QString text = readout_ ? readout_(r, c, v)
                          : QString("row %1, col %2: %3").arg(r).arg(c).arg(std::isfinite(v) ? QString::number(v) : "masked");
  setToolTip(text);
  emit hovered(text);
}

void HeatmapWidget::mouseDoubleClickEvent(QMouseEvent*) { reset_view(); }

}  // namespace ls::app
