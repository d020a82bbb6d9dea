#include "app/views/frequency_view.h"

#include <QGraphicsLayout>
#include <QJsonArray>
#include <QVBoxLayout>
#include <QtCharts/QLineSeries>
#include <QtCharts/QLogValueAxis>
#include <QtCharts/QScatterSeries>
#include <QtCharts/QValueAxis>
#include <cmath>

#include "app/views/chart_util.h"
#include "core/model/describe.h"
#include "core/position/spec.h"
#include "core/position/tables.h"

namespace ls::app {

FrequencyView::FrequencyView(AppState* s, QWidget* parent) : View(s, parent) {
  auto* lay = new QVBoxLayout(this);
  legend_ = new QLabel();
  legend_->setWordWrap(true);
  lay->addWidget(legend_);
  top_ = new QChartView(new QChart());
  middle_ = new QChartView(new QChart());
  bottom_ = new QChartView(new QChart());
  for (auto* v : {top_, middle_, bottom_}) {
    v->setRenderHint(QPainter::Antialiasing);
    // Three stacked charts share a 720-pixel window: thin frames keep room for the axes' labels.
    v->chart()->setMargins(QMargins(2, 2, 2, 2));
    v->chart()->layout()->setContentsMargins(0, 0, 0, 0);
    v->chart()->setBackgroundRoundness(0);
    lay->addWidget(v);
  }
  lay->setSpacing(2);
}

namespace {

QLineSeries* line(const QString& name, const std::vector<double>& x, const std::vector<double>& y, Qt::PenStyle st,
                  QColor colour, double width = 2.0) {
  auto* s = new QLineSeries();
  s->setName(name);
  QList<QPointF> pts;
  for (size_t i = 0; i < x.size(); ++i)
    if (std::isfinite(y[i]) && y[i] > 0) pts << QPointF(x[i], y[i]);
  s->replace(pts);
  QPen pen(colour);
  pen.setStyle(st);
  pen.setWidthF(width);
  s->setPen(pen);
  return s;
}

void axes(QChart* c, const QString& xt, const QString& yt, double xmax, bool logy) {
  auto* ax = new QValueAxis();
  ax->setTitleText(xt);
  ax->setRange(0, std::max(1.0, xmax));
  ax->setTickCount((int)std::min(17.0, std::max(1.0, xmax) + 1));
  ax->setLabelFormat("%d");
  QAbstractAxis* ay;
  if (logy) {
    auto* l = new QLogValueAxis();
    l->setBase(10);
    l->setLabelFormat("%.0e");
    ay = l;
  } else {
    ay = new QValueAxis();
  }
  ay->setTitleText(yt);
  // Range over the data (a log axis does not follow series attached later).
  double lo = INFINITY, hi = -INFINITY;
  for (auto* s : c->series())
    for (const QPointF& p : static_cast<QXYSeries*>(s)->points())
      if (p.y() > 0) lo = std::min(lo, p.y()), hi = std::max(hi, p.y());
  if (std::isfinite(lo)) ay->setRange(logy ? lo / 1.5 : 0.0, hi * 1.5);
  attach_axes(c, ax, ay);
}

}  // namespace

void FrequencyView::refresh() {
  series_.clear();
  for (auto* v : {top_, middle_, bottom_}) clear_chart(v->chart());
  middle_->setVisible(!state_->alibi_model());
  if (state_->model_path.isEmpty() || state_->config.train_len < 1) {  // never a made-up geometry
    top_->chart()->setTitle(tr("No model loaded: open one from File ▸ Open model"));
    set_legend(legend_, {});
    return;
  }
  if (state_->alibi_model()) fill_alibi();
  else fill_rope();
}

void FrequencyView::fill_rope() {
  const PositionContext g = state_->context_at(state_->length);
  const int half = g.rot_dim / 2;
  std::vector<double> pairs(half);
  for (int i = 0; i < half; ++i) pairs[i] = i;
  // Unscaled RoPE is always the reference.
  const RopeTable ref = rope_table(MethodParams{}, g);
  QChart* c1 = top_->chart();
  QChart* cw = middle_->chart();
  QChart* c2 = bottom_->chart();
  // A partial-rotary head (GPT-NeoX, Phi-2) rotates only its first d dims: only those pairs are plotted.
  const int hd = state_->config.head_dim;
  const QString dims = hd > g.rot_dim ? QString("d = %1 of the head's %2 dims (the rest do not rotate)").arg(g.rot_dim).arg(hd)
                                      : QString("d = %1").arg(g.rot_dim);
  c1->setTitle(QString("θ'_i per rotary pair (radians/token), %1, base %2").arg(dims).arg(g.base));
  cw->setTitle(QString("Wavelength λ'_i = 2π/θ'_i (tokens) against L = %1 (dotted) and n = %2 (dash-dot)")
                   .arg((int)g.train_len).arg((int)g.cur_len));
  const std::vector<double> span = {0.0, (double)std::max(1, half - 1)};
  cw->addSeries(line("L", span, {g.train_len, g.train_len}, Qt::DotLine, Qt::black, 1.2));
  cw->addSeries(line("n", span, {g.cur_len, g.cur_len}, Qt::DashDotLine, Qt::black, 1.2));
  cw->addSeries(line("rope λ", pairs, ref.wavelength, Qt::DashLine, Qt::gray, 1.5));
  series_.push_back({"rope λ", pairs, ref.wavelength});
  c2->setTitle(QString("Turns per pair: across L = %1 in training (dashed) vs across n = %2; ● = beyond anything seen in "
                       "training").arg((int)g.train_len).arg((int)g.cur_len));
  std::vector<double> train_turns(half);
  for (int i = 0; i < half; ++i) train_turns[i] = g.train_len * ref.inv_freq[i] / (2 * kPi);
  c1->addSeries(line("rope (reference)", pairs, ref.inv_freq, Qt::DashLine, Qt::gray, 1.5));
  c2->addSeries(line("rope over L (training)", pairs, train_turns, Qt::DashLine, Qt::gray, 1.5));
  series_.push_back({"rope θ", pairs, ref.inv_freq});
  series_.push_back({"turns over L (training)", pairs, train_turns});
  auto* unseen = new QScatterSeries();
  unseen->setName("beyond training");
  unseen->setMarkerSize(10);
  unseen->setColor(Qt::black);  // not a method's colour
  std::vector<double> ux, uy;
  std::vector<std::pair<QString, QColor>> legend = {{"rope (reference, dashed)", Qt::gray}};
  for (const auto& m : state_->methods) {
    if (method_is_alibi(m.method)) continue;
    if (!state_->is_shown(m)) continue;  // hidden by its check box
    const QString name = AppState::label(m);
    const QColor colour = state_->colour_of(m);
    const RopeTable t = rope_table(m, g);
    std::vector<double> turns(half);
    for (int i = 0; i < half; ++i) {
      // Largest relative angle the method applies at length n vs the largest seen in training.
      // (θ' already carries any interpolation; remaps cap the relative position instead.)
      const double reach = method_is_remap(m.method) ? relpos(m, g, (long long)g.cur_len - 1, 0) : g.cur_len;
      turns[i] = reach * t.inv_freq[i] / (2 * kPi);
      const double trained = g.train_len * ref.inv_freq[i];
      if (reach * t.inv_freq[i] > trained * 1.0001 && trained < 2 * kPi) {
        unseen->append(i, turns[i]);
        ux.push_back(i);
        uy.push_back(turns[i]);
      }
    }
    legend.push_back({name, colour});
    c1->addSeries(line(name, pairs, t.inv_freq, Qt::SolidLine, colour));
    cw->addSeries(line(name + " λ'", pairs, t.wavelength, Qt::SolidLine, colour));
    c2->addSeries(line(name + " over n", pairs, turns, Qt::SolidLine, colour));
    series_.push_back({name + " λ'", pairs, t.wavelength});
    series_.push_back({name + " θ'", pairs, t.inv_freq});
    series_.push_back({name + " turns over n", pairs, turns});
  }
  // A model whose local layers rotate with their own base (Gemma-3): that layer
  // kind's table too, plain RoPE as the model runs it whatever the method (the
  // methods above are the global layers').
  const ModelConfig& mc = state_->config;
  if (mc.block.local_rope_base > 0) {
    const PositionContext lg{g.rot_dim, mc.block.local_rope_base, g.train_len, g.cur_len};
    const RopeTable lt = rope_table(MethodParams{}, lg);
    const QString name = QString("local layers (base %1, window %2)").arg(mc.block.local_rope_base).arg(mc.block.local_window);
    std::vector<double> turns(half);
    for (int i = 0; i < half; ++i) turns[i] = std::min<double>(g.cur_len, mc.block.local_window) * lt.inv_freq[i] / (2 * kPi);
    legend.push_back({name + ", dotted", Qt::darkGray});
    c1->addSeries(line(name, pairs, lt.inv_freq, Qt::DotLine, Qt::darkGray));
    cw->addSeries(line(name + " λ", pairs, lt.wavelength, Qt::DotLine, Qt::darkGray));
    c2->addSeries(line(name + " over min(n, window)", pairs, turns, Qt::DotLine, Qt::darkGray));
    series_.push_back({name + " θ", pairs, lt.inv_freq});
    series_.push_back({name + " λ", pairs, lt.wavelength});
    series_.push_back({name + " turns over min(n, window)", pairs, turns});
    c1->setTitle(c1->title() + " (global layers; local layers dotted)");
  }
  // NoPE layers (SmolLM3): no rotation whatever the method; say which.
  if (const std::string nope = position_layers_text(state_->config); !nope.empty()) {
    c1->setTitle(c1->title() + " · " + QString::fromStdString(nope));
    legend.push_back({QString::fromStdString(nope) + ": the curves apply to the layers with position only", Qt::gray});
  }
  c2->addSeries(unseen);
  series_.push_back({"beyond training", ux, uy});
  legend.push_back({"● pair rotates beyond anything seen in training", Qt::black});
  set_legend(legend_, legend);
  axes(c1, "pair i", "θ'_i (rad/token)", half - 1, true);
  axes(cw, "pair i", "λ'_i (tokens)", half - 1, true);
  axes(c2, "pair i", "turns", half - 1, true);
}

void FrequencyView::fill_alibi() {
  const PositionContext g = state_->context_at(state_->length);
  const int H = state_->config.n_heads;
  std::vector<double> heads(H);
  for (int h = 0; h < H; ++h) heads[h] = h + 1;
  QChart* c1 = top_->chart();
  QChart* c2 = bottom_->chart();
  c1->setTitle(QString("ALiBi slope m_h per head (H = %1, n = %2, L = %3)").arg(H).arg((int)g.cur_len).arg((int)g.train_len));
  c2->setTitle("Distance (tokens) at which the bias reaches -1 (dotted), -5 (dashed), -10 (solid)");
  std::vector<std::pair<QString, QColor>> legend;
  for (const auto& m : state_->methods) {
    if (!method_is_alibi(m.method)) continue;
    if (!state_->is_shown(m)) continue;  // hidden by its check box
    const QString name = AppState::label(m);
    const QColor colour = state_->colour_of(m);
    auto s = alibi_slopes(m, g, H);
    legend.push_back({name, colour});
    c1->addSeries(line(name, heads, s, Qt::SolidLine, colour));
    series_.push_back({name + " slope", heads, s});
    const std::pair<double, Qt::PenStyle> levels[] = {{1, Qt::DotLine}, {5, Qt::DashLine}, {10, Qt::SolidLine}};
    for (auto [lvl, st] : levels) {
      std::vector<double> d(H);
      for (int h = 0; h < H; ++h) d[h] = lvl / s[h];
      c2->addSeries(line(name + QString(" bias -%1").arg(lvl), heads, d, st, colour, 1.5));
      series_.push_back({name + QString(" distance to bias -%1").arg(lvl), heads, d});
    }
  }
  set_legend(legend_, legend);
  axes(c1, "head h (1 … H, as in the ALiBi paper; the Attention view counts from 0)", "slope", H, true);
  axes(c2, "head h (1 … H)", "tokens", H, true);
}

QJsonObject FrequencyView::data_json() const {
  QJsonArray arr;
  for (const auto& c : series_) {
    QJsonArray x, y;
    for (double v : c.x) x << v;
    for (double v : c.y) y << v;
    arr << QJsonObject{{"name", c.name}, {"x", x}, {"y", y}};
  }
  return {{"view", view_name()}, {"length", state_->length}, {"train_len", state_->config.train_len}, {"series", arr}};
}

QString FrequencyView::data_csv() const {
  QString out = "series,x,y\n";
  for (const auto& c : series_)
    for (size_t i = 0; i < c.x.size(); ++i) out += QString("\"%1\",%2,%3\n").arg(c.name).arg(c.x[i]).arg(c.y[i], 0, 'g', 17);
  return out;
}

}  // namespace ls::app
