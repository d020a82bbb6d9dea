#include "app/views/loss_charts.h"

#include <QtCharts/QAreaSeries>
#include <QtCharts/QLineSeries>
#include <QtCharts/QLogValueAxis>
#include <QtCharts/QValueAxis>
#include <cmath>
#include <limits>
#include <map>

#include "app/views/chart_util.h"

namespace ls::app {

std::vector<PositionCurve> nll_by_position(const AppState& s, int bucket) {
  std::vector<PositionCurve> out;
  auto snap = s.ppl;
  if (!snap) return out;
  const int L = s.config.train_len;
  bucket = std::max(1, bucket);
  for (size_t k = 0; k < snap->results.size(); ++k) {
    if (!s.is_shown(snap->methods[k])) continue;  // a removed or hidden method is never drawn
    const PplResult& r = snap->results[k];
    const int nb = (snap->ctx + bucket - 1) / bucket;
    std::vector<double> sum(nb, 0.0);
    std::vector<int> count(nb, 0);
    double in_sum = 0, out_sum = 0;
    long in_n = 0, out_n = 0;
    for (size_t i = 0; i < r.nll.size(); ++i) {
      const int p = r.position[i];
      if (p < 0 || p / bucket >= nb) continue;
      sum[p / bucket] += r.nll[i];
      ++count[p / bucket];
      (p < L ? in_sum : out_sum) += r.nll[i];
      ++(p < L ? in_n : out_n);
    }
    PositionCurve c;
    c.method = snap->methods[k];
    for (int b = 0; b < nb; ++b)
      if (count[b]) {
        c.centre.push_back(b * bucket + 0.5 * std::min(bucket, snap->ctx - b * bucket));
        c.mean.push_back(sum[b] / count[b]);
      }
    const double nan = std::numeric_limits<double>::quiet_NaN();
    c.inside_l = in_n ? in_sum / in_n : nan;
    c.beyond_l = out_n ? out_sum / out_n : nan;
    out.push_back(std::move(c));
  }
  return out;
}

void draw_nll_by_position(QChart* c, const AppState& s, const std::vector<PositionCurve>& curves, Legend& legend) {
  clear_chart(c);
  auto snap = s.ppl;
  const int L = s.config.train_len;
  if (curves.empty() || !snap) {
    c->setTitle(QObject::tr("NLL by position: computing…"));
    return;
  }
  const int ctx = snap->ctx;
  const int windows = snap->results.empty() ? 0 : snap->results[0].windows;
  // Short enough for a narrow chart on a projector; the window count is in the tooltip.
  c->setTitle(QObject::tr("NLL by position · n = %1").arg(ctx));
  c->setToolTip(QObject::tr("mean over %1 window%2 of %3 tokens").arg(windows).arg(windows == 1 ? "" : "s").arg(ctx));
  double ymax = 0;
  for (const auto& cv : curves)
    for (double y : cv.mean) ymax = std::max(ymax, y);
  ymax = std::max(1.0, ymax * 1.12);
  if (L < ctx) {  // the region no training window ever reached
    auto* top = new QLineSeries();
    auto* bottom = new QLineSeries();
    top->append(L, ymax);
    top->append(ctx, ymax);
    bottom->append(L, 0);
    bottom->append(ctx, 0);
    auto* area = new QAreaSeries(top, bottom);
    area->setName(QObject::tr("beyond L"));
    area->setColor(QColor(0, 0, 0, 22));
    area->setBorderColor(QColor(0, 0, 0, 0));
    c->addSeries(area);
    legend.push_back({QObject::tr("beyond the training length L = %1 (shaded)").arg(L), QColor(200, 200, 200)});
  }
  for (const auto& cv : curves) {
    auto* line = new QLineSeries();
    line->setName(AppState::label(cv.method));
    QList<QPointF> pts;
    for (size_t i = 0; i < cv.centre.size(); ++i) pts << QPointF(cv.centre[i], cv.mean[i]);
    line->replace(pts);
    QPen pen(s.colour_of(cv.method));
    pen.setWidthF(2.2);
    line->setPen(pen);
    c->addSeries(line);
    legend.push_back({AppState::label(cv.method), s.colour_of(cv.method)});
  }
  auto* ax = new QValueAxis();
  ax->setTitleText(QObject::tr("position m"));
  ax->setLabelFormat("%d");
  ax->setRange(0, ctx);
  auto* ay = new QValueAxis();
  ay->setTitleText(QObject::tr("mean NLL (nats)"));
  ay->setRange(0, ymax);
  attach_axes(c, ax, ay);
}

bool draw_loss_vs_length(QChart* c, const AppState& s, Legend& legend) {
  clear_chart(c);
  auto snap = s.sweep;
  const int L = s.config.train_len;
  std::map<int, QLineSeries*> by_method;  // by selected method's id
  double ymin = 1e9, ymax = 0, xmin = 1e9, xmax = 0;
  if (snap)
    for (const auto& cell : snap->result.cells) {
      if (!s.is_shown(cell.method)) continue;  // a removed or hidden method is never drawn
      auto*& line = by_method[s.id_of(cell.method)];
      if (!line) {
        line = new QLineSeries();
        line->setName(AppState::label(cell.method));
        line->setPointsVisible(true);
      }
      line->append(cell.ctx, cell.mean_nll);
      ymin = std::min(ymin, cell.mean_nll);
      ymax = std::max(ymax, cell.mean_nll);
      xmin = std::min(xmin, (double)cell.ctx);
      xmax = std::max(xmax, (double)cell.ctx);
    }
  if (by_method.empty()) {
    c->setTitle(QObject::tr("NLL vs context length: computing…"));
    return false;
  }
  c->setTitle(QObject::tr("NLL vs context length"));
  for (size_t i = 0; i < s.methods.size(); ++i)  // the user's order and colours
    if (auto it = by_method.find(s.method_ids()[i]); it != by_method.end()) {
      const QColor colour = s.colour_of(s.methods[i]);
      QPen pen(colour);
      pen.setWidthF(2.0);
      it->second->setPen(pen);
      it->second->setColor(colour);
      c->addSeries(it->second);
      legend.push_back({it->second->name(), colour});
    }
  legend.push_back({QObject::tr("training length L = %1 (dashed)").arg(L), Qt::gray});
  auto* marker = new QLineSeries();
  marker->append(L, std::max(0.0, ymin - 0.2));
  marker->append(L, ymax + 0.2);
  QPen pen(Qt::gray);
  pen.setStyle(Qt::DashLine);
  marker->setPen(pen);
  c->addSeries(marker);
  auto* ax = new QLogValueAxis();
  ax->setBase(2);
  ax->setLabelFormat("%d");
  ax->setTitleText(QObject::tr("context length n"));
  ax->setLabelsAngle(-45);  // powers of two side by side collide on a narrow chart
  ax->setRange(std::min(xmin, (double)L) / 1.3, std::max(xmax, (double)L) * 1.3);
  auto* ay = new QValueAxis();
  ay->setTitleText(QObject::tr("mean NLL (nats)"));
  ay->setRange(std::max(0.0, ymin - 0.2), ymax + 0.2);
  attach_axes(c, ax, ay);
  return true;
}

}  // namespace ls::app
