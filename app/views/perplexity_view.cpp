#include "app/views/perplexity_view.h"

#include <QHBoxLayout>
#include <QJsonArray>
#include <QVBoxLayout>
#include <QtCharts/QLineSeries>
#include <QtCharts/QValueAxis>
#include <cmath>

#include "app/views/chart_util.h"


namespace ls::app {

PerplexityView::PerplexityView(AppState* s, QWidget* parent) : View(s, parent) {
  auto* lay = new QVBoxLayout(this);
  auto* bar = new QHBoxLayout();
  smooth_ = new QSpinBox();
  smooth_->setRange(1, 4096);
  smooth_->setValue(64);
  smooth_->setSuffix(tr(" tokens"));
  bar->addWidget(new QLabel(tr("moving average over")));
  bar->addWidget(smooth_);
  diff_to_ = new QComboBox();
  diff_to_->setToolTip(tr("draw each method's loss minus this method's, token by token (A − B)"));
  bar->addWidget(new QLabel(tr("difference to")));
  bar->addWidget(diff_to_);
  bar->addStretch(1);
  lay->addLayout(bar);
  connect(diff_to_, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
  summary_ = fluid(new QLabel());
  lay->addWidget(summary_);
  chart_ = add_chart_with_legend(lay, legend_);
  chart_->setRubberBand(QChartView::HorizontalRubberBand);
  hover_ = fluid_line(new QLabel(tr("hover a curve to see the token; drag to zoom, right-click to zoom out")));
  lay->addWidget(hover_);
  connect(smooth_, &QSpinBox::valueChanged, this, [this] { refresh(); });
}

void PerplexityView::refresh() {
  QChart* c = chart_->chart();
  clear_chart(c);
  auto snap = state_->ppl;
  if (!snap || snap->results.empty()) {
    c->setTitle(tr("Per-token NLL: waiting for a model run…"));
    return;
  }
  {
    QSignalBlocker b(diff_to_);
    QStringList items = {tr("(none)")};
    for (const auto& m : snap->methods) items << AppState::label(m);
    keep_choice(diff_to_, items);
  }
  // Difference mode: every method's NLL minus method B's, token by token.
  const int b_index = diff_to_->currentIndex() - 1;
  const PplResult* base = b_index >= 0 && b_index < (int)snap->results.size() ? &snap->results[b_index] : nullptr;
  const int L = state_->config.train_len, ctx = snap->ctx, w = smooth_->value();
  // Results of another n than the field says: dimmed, and the summary says which n they are.
  const bool stale = ctx != state_->length;
  set_dimmed(chart_, stale);
  c->setTitle(base ? QString("NLL difference per token: method − %1 (nats; below 0: better than %1), windows of %2 tokens")
                         .arg(AppState::label(snap->methods[b_index])).arg(ctx)
                   : QString("NLL per token (nats), windows of %1 tokens; dashed lines: position L = %2 in each window").arg(ctx).arg(L));
  double ymax = 0, ymin = 0;
  QString summary;
  std::vector<std::pair<QString, QColor>> legend;
  for (size_t k = 0; k < snap->results.size(); ++k) {
    if (!state_->is_shown(snap->methods[k])) continue;  // hidden or removed
    if (base && (int)k == b_index) continue;  // B − B is zero
    const PplResult& r = snap->results[k];
    const size_t n = base ? std::min(r.nll.size(), base->nll.size()) : r.nll.size();
    auto value = [&](size_t i) { return base ? r.nll[i] - base->nll[i] : r.nll[i]; };
    QList<QPointF> raw, avg;
    double run = 0;
    for (size_t i = 0; i < n; ++i) {
      raw << QPointF((double)i, value(i));
      run += value(i);
      if (i >= (size_t)w) run -= value(i - w);
      avg << QPointF((double)i, run / (double)std::min<size_t>(i + 1, w));
      ymax = std::max(ymax, avg.back().y());  // the y range follows the averages, not the raw spikes
      ymin = std::min(ymin, avg.back().y());
    }
    auto* s_raw = new QLineSeries();
    // A click on a curve selects the token it scores (entry i scores token i + 1).
    connect(s_raw, &QXYSeries::clicked, this, [this](const QPointF& p) { state_->select_token((int)std::lround(p.x()) + 1); });
    s_raw->replace(raw);
    s_raw->setName(AppState::label(snap->methods[k]) + " (raw)");
    auto* s_avg = new QLineSeries();
    connect(s_avg, &QXYSeries::clicked, this, [this](const QPointF& p) { state_->select_token((int)std::lround(p.x()) + 1); });
    s_avg->replace(avg);
    s_avg->setName(AppState::label(snap->methods[k]));
    c->addSeries(s_raw);
    c->addSeries(s_avg);
    s_avg->setColor(state_->colour_of(snap->methods[k]));
    legend.push_back({AppState::label(snap->methods[k]), s_avg->color()});
    QColor col = s_avg->color();
    col.setAlpha(28);
    QPen pr(col);
    pr.setWidthF(0.6);
    s_raw->setPen(pr);
    QPen pa(s_avg->color());
    pa.setWidthF(2.2);
    s_avg->setPen(pa);
    auto doc = state_->document;
    auto hovered = [this, doc, &r = snap->results[k], name = AppState::label(snap->methods[k]), snap](const QPointF& p, bool on) {
      if (!on) return;
      const size_t i = (size_t)std::llround(p.x());
      if (i >= r.nll.size()) return;
      hover_->setText(QString("%1 · token %2 (window position %3): NLL %4, rank of the true token %5")
                          .arg(name)
                          .arg(i + 1)
                          .arg(r.position[i])
                          .arg(r.nll[i], 0, 'f', 3)
                          .arg(r.rank.empty() ? -1 : r.rank[i]));
      if (doc && i + 1 < (size_t)doc->pieces.size()) hover_->setText(hover_->text() + QString(" · “%1”").arg(doc->pieces[(int)i + 1]));
    };
    connect(s_avg, &QLineSeries::hovered, this, hovered);
    connect(s_raw, &QLineSeries::hovered, this, hovered);
    summary += QString("%1: mean %2 nats (ppl %3)   ").arg(AppState::label(snap->methods[k])).arg(r.mean_nll, 0, 'f', 3).arg(r.ppl, 0, 'f', 2);
  }
  // Markers at L inside each window.
  const size_t total = snap->results[0].nll.size();
  for (size_t w0 = 0; w0 < total; w0 += ctx) {
    if (L >= ctx) break;
    auto* m = new QLineSeries();
    m->append((double)(w0 + L), ymin * 1.6 - 1);
    m->append((double)(w0 + L), ymax * 1.6 + 1);
    QPen pen(Qt::gray);
    pen.setStyle(Qt::DashLine);
    m->setPen(pen);
    c->addSeries(m);
  }
  // The token selected anywhere (entry i scores token i + 1): a solid line.
  if (const int t = state_->selected_token; t >= 1 && (size_t)(t - 1) < total) {
    auto* sel = new QLineSeries();
    sel->setName("selected");
    sel->append((double)(t - 1), ymin * 1.6 - 1);
    sel->append((double)(t - 1), ymax * 1.6 + 1);
    sel->setPen(QPen(QColor(0xd0, 0x30, 0x30), 1.5));
    c->addSeries(sel);
  }
  legend.push_back({QString("lines: %1-token moving average, faint: each token; dashed: position L = %2").arg(w).arg(L), Qt::gray});
  set_legend(legend_, legend);
  auto* ax = new QValueAxis();
  ax->setTitleText(tr("predicted token (document position)"));
  ax->setLabelFormat("%d");
  ax->setRange(0, (double)total);
  auto* ay = new QValueAxis();
  ay->setTitleText(base ? tr("NLL − NLL of %1 (nats)").arg(AppState::label(snap->methods[b_index])) : tr("NLL (nats)"));
  if (base) {
    const double a = std::max({0.2, std::fabs(ymin), std::fabs(ymax)}) * 1.3;
    ay->setRange(-a, a);  // centred on zero
  } else {
    ay->setRange(0, std::max(1.0, ymax * 1.6));
  }
  attach_axes(c, ax, ay);
  summary_->setText((stale ? ((state_->running & AppState::kRunPpl) ? tr("Computing n = %1… shown until then: n = %2. ")
                                                                  : tr("n = %1 not computed (cancelled; F5 recomputes); shown: n = %2. "))
                                 .arg(state_->length)
                                 .arg(ctx)
                           : QString()) +
                    summary);
}

QJsonObject PerplexityView::data_json() const {
  auto snap = state_->ppl;
  if (!snap) return {{"view", view_name()}};
  QJsonArray runs;
  for (size_t k = 0; k < snap->results.size(); ++k) {
    if (!state_->is_shown(snap->methods[k])) continue;  // as drawn
    const PplResult& r = snap->results[k];
    QJsonArray nll, pos, rank;
    for (size_t i = 0; i < r.nll.size(); ++i) {
      nll << r.nll[i];
      pos << r.position[i];
      rank << (r.rank.empty() ? 0 : r.rank[i]);
    }
    runs << QJsonObject{{"method", AppState::label(snap->methods[k])}, {"mean_nll", r.mean_nll}, {"ppl", r.ppl}, {"nll", nll},
                        {"window_position", pos}, {"rank", rank}};
  }
  return {{"view", view_name()}, {"ctx", snap->ctx}, {"train_len", state_->config.train_len}, {"runs", runs}};
}

QString PerplexityView::data_csv() const {
  auto snap = state_->ppl;
  if (!snap) return {};
  QString out = "method,token,window_position,target,nll,rank\n";
  for (size_t k = 0; k < snap->results.size(); ++k) {
    if (!state_->is_shown(snap->methods[k])) continue;  // as drawn
    const PplResult& r = snap->results[k];
    for (size_t i = 0; i < r.nll.size(); ++i)
      out += QString("\"%1\",%2,%3,%4,%5,%6\n").arg(AppState::label(snap->methods[k])).arg(i + 1).arg(r.position[i]).arg(r.target[i])
                 .arg(r.nll[i], 0, 'g', 10).arg(r.rank.empty() ? 0 : r.rank[i]);
  }
  return out;
}

}  // namespace ls::app
