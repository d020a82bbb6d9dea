#include "app/heatmap_widget.h"

#include <QMouseEvent>
#include <QPainter>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>

namespace ls::app {

HeatmapWidget::HeatmapWidget(QWidget* parent) : QWidget(parent) {
  setMouseTracking(true);
  setMinimumSize(240, 200);
}

void HeatmapWidget::set_data(int rows, int cols, std::vector<float> values, const QString& title,
                             const HeatmapAxes& axes) {
  if (rows != rows_ || cols != cols_ || !(axes == axes_)) {
    zoom_ = 1.0;
    pan_ = {};
  }
  rows_ = rows;
  cols_ = cols;
  axes_ = axes;
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
  if (diverging_) {  // centred on zero: zero is always the neutral white, even when A = B
    float a = std::max(std::fabs(lo_), std::fabs(hi_));
    if (!(a > 0)) a = 1;
    lo_ = -a;
    hi_ = a;
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

QString HeatmapWidget::label(double v) const {
  const double a = std::fabs(v);
  if (a == 0) return "0";
  if (a >= 1e-2 && a < 1e5) return QString::number(v, 'f', a >= 100 ? 0 : a >= 1 ? 2 : 3);
  return QString::number(v, 'e', 2);
}

double HeatmapWidget::margin_right() const {
  const QFontMetrics fm(font());
  return 12 + 14 + 6 + std::max({fm.horizontalAdvance(label(hi_)), fm.horizontalAdvance(label(lo_)), fm.horizontalAdvance("log")}) + 4;
}

QRectF HeatmapWidget::plot_rect() const {
  const double left = 64, top = 26, bottom = 40;
  return QRectF(left, top, width() - left - margin_right(), height() - top - bottom);
}

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
  // Axes in token positions: a few round ticks over the visible window.
  const QFontMetrics fm(font());
  auto ticks = [](double a, double b) {
    std::vector<double> t;
    const double span = std::max(1e-9, b - a), raw = span / 5, mag = std::pow(10, std::floor(std::log10(raw)));
    const double step = raw / mag < 2 ? 2 * mag : raw / mag < 5 ? 5 * mag : 10 * mag;
    for (double v = std::ceil(a / step) * step; v <= b + 1e-9; v += step) t.push_back(v);
    return t;
  };
  const double px0 = axes_.x0 + x0 * axes_.dx, px1 = axes_.x0 + (x0 + vw) * axes_.dx;
  const double py0 = axes_.y0 + y0 * axes_.dy, py1 = axes_.y0 + (y0 + vh) * axes_.dy;
  auto sx = [&](double pos) { return pr.left() + (pos - px0) / (px1 - px0) * pr.width(); };
  auto sy = [&](double pos) { return pr.top() + (pos - py0) / (py1 - py0) * pr.height(); };
  for (double t : ticks(px0, px1)) {
    p.drawLine(QPointF(sx(t), pr.bottom()), QPointF(sx(t), pr.bottom() + 4));
    p.drawText(QRectF(sx(t) - 40, pr.bottom() + 4, 80, 14), Qt::AlignHCenter | Qt::AlignTop, QString::number(t, 'g', 7));
  }
  for (double t : ticks(py0, py1)) {
    p.drawLine(QPointF(pr.left() - 4, sy(t)), QPointF(pr.left(), sy(t)));
    p.drawText(QRectF(0, sy(t) - 8, pr.left() - 6, 16), Qt::AlignRight | Qt::AlignVCenter, QString::number(t, 'g', 7));
  }
  p.drawText(QRectF(pr.left(), pr.bottom() + 20, pr.width(), 16), Qt::AlignCenter, axes_.x_label + " →");
  p.save();
  p.translate(12, pr.center().y());
  p.rotate(-90);
  p.drawText(QRectF(-pr.height() / 2, -8, pr.height(), 16), Qt::AlignCenter, axes_.y_label + " →");
  p.restore();
  if (axes_.diagonal >= 0) {  // m − j = diagonal, e.g. the training length
    p.save();
    p.setClipRect(pr);
    QPen pen(QColor(220, 30, 30));
    pen.setStyle(Qt::DashLine);
    pen.setWidthF(1.5);
    p.setPen(pen);
    p.drawLine(QPointF(sx(px0), sy(px0 + axes_.diagonal)), QPointF(sx(px1), sy(px1 + axes_.diagonal)));
    p.restore();
    const double lx = std::clamp(sx(std::max(px0, py0 - axes_.diagonal)) + 4, pr.left() + 2, pr.right() - 80);
    const double ly = std::clamp(sy(std::max(px0, py0 - axes_.diagonal) + axes_.diagonal) + 14, pr.top() + 14, pr.bottom() - 4);
    if (sy(px0 + axes_.diagonal) < pr.bottom() || sy(px1 + axes_.diagonal) < pr.bottom()) {
      const QRectF box = fm.boundingRect(axes_.diagonal_label).translated(lx, ly).adjusted(-2, -1, 2, 1);
      p.fillRect(box, QColor(255, 255, 255, 210));
      p.setPen(QColor(200, 20, 20));
      p.drawText(QPointF(lx, ly), axes_.diagonal_label);
    }
    p.setPen(palette().windowText().color());
  }
  // Colour bar.
  const QRectF bar(pr.right() + 12, pr.top(), 14, pr.height());
  for (int y = 0; y < (int)bar.height(); ++y) {
    p.setPen(colour(1.0f - (float)y / (float)bar.height()));
    p.drawLine(QPointF(bar.left(), bar.top() + y), QPointF(bar.right(), bar.top() + y));
  }
  p.setPen(palette().windowText().color());
  p.drawRect(bar);
  const double lw = width() - bar.right() - 4;
  p.drawText(QRectF(bar.right() + 4, bar.top() - 2, lw, 16), Qt::AlignLeft, label(hi_));
  p.drawText(QRectF(bar.right() + 4, bar.bottom() - 14, lw, 16), Qt::AlignLeft, label(log_ ? std::max(lo_, 1e-12f) : lo_));
  if (diverging_) p.drawText(QRectF(bar.right() + 4, bar.center().y() - 8, lw, 16), Qt::AlignLeft, "0");
  else if (log_) p.drawText(QRectF(bar.right() + 4, bar.center().y() - 8, lw, 16), Qt::AlignLeft, "log");
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
