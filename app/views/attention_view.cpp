#include "app/views/attention_view.h"

#include "app/views/chart_util.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QMouseEvent>
#include <QPainter>
#include <QVBoxLayout>
#include <cmath>

namespace ls::app {

namespace {
// A mini-map that reports clicks.
class ClickLabel : public QLabel {
 public:
  std::function<void()> on_click;
  void mousePressEvent(QMouseEvent*) override {
    if (on_click) on_click();
  }
};
}  // namespace

AttentionView::AttentionView(AppState* s, QWidget* parent) : View(s, parent) {
  auto* lay = new QHBoxLayout(this);
  auto* left = new QVBoxLayout();
  auto* bar = new QHBoxLayout();
  method_ = new MethodChoice(false);
  layer_ = new QSpinBox();
  head_ = new QSpinBox();
  log_ = new QCheckBox(tr("log colour scale"));
  log_->setChecked(true);
  bar->addWidget(new QLabel(tr("method")));
  bar->addWidget(method_, 1);
  bar->addWidget(new QLabel(tr("layer")));
  bar->addWidget(layer_);
  bar->addWidget(new QLabel(tr("head")));
  bar->addWidget(head_);
  left->addLayout(bar);
  bar = new QHBoxLayout();  // second row: the window must fit 1280 px with every pane open
  bar->addWidget(log_);
  detail_ = new QPushButton(tr("Full resolution here"));
  detail_->setToolTip(tr("zoom into the pooled map, then show the 512×512 block at the view's centre at full resolution"));
  overview_ = new QPushButton(tr("Overview"));
  bar->addWidget(detail_);
  bar->addWidget(overview_);
  bar->addStretch(1);
  left->addLayout(bar);
  bar = new QHBoxLayout();  // third row: comparisons
  compare_ = new QComboBox();
  compare_->addItems({tr("one method"), tr("every method, side by side"), tr("difference A − B")});
  compare_->setToolTip(tr("the same layer and head under every selected method, or one method minus another"));
  method_b_ = new MethodChoice(false);
  method_b_->setToolTip(tr("method B of the difference A − B"));
  bar->addWidget(new QLabel(tr("compare")));
  bar->addWidget(compare_);
  bar->addWidget(method_b_, 1);
  left->addLayout(bar);
  heat_ = new HeatmapWidget();
  left->addWidget(heat_, 1);
  multiples_box_ = new QWidget();
  multiples_box_->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Ignored);
  multiples_grid_ = new QGridLayout(multiples_box_);
  multiples_grid_->setContentsMargins(0, 0, 0, 0);
  multiples_box_->hide();
  left->addWidget(multiples_box_, 1);
  readout_ = fluid_line(new QLabel(tr("hover: query m, key j, probability")));
  left->addWidget(readout_);
  lay->addLayout(left, 3);
  auto* right = new QVBoxLayout();
  right->addWidget(new QLabel(tr("Heads of this layer (click to pick)")));
  grid_ = new QGridLayout();
  right->addLayout(grid_);
  table_ = new QTableWidget(0, 3);
  table_->setHorizontalHeaderLabels({tr("head"), tr("entropy"), tr("distance")});  // short: the pane is narrow
  table_->horizontalHeaderItem(1)->setToolTip(tr("mean entropy of the head's attention, nats (low: focused)"));
  table_->horizontalHeaderItem(2)->setToolTip(tr("mean attention distance Σ p·(m − j), tokens"));
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  table_->verticalHeader()->hide();
  right->addWidget(table_, 1);
  lay->addLayout(right, 1);
  connect(heat_, &HeatmapWidget::hovered, readout_, &QLabel::setText);
  connect(log_, &QCheckBox::toggled, heat_, &HeatmapWidget::set_log_scale);
  heat_->set_log_scale(true);
  auto changed = [this] {
    state_->set_selection(layer_->value(), head_->value());
    emit request();
  };
  connect(layer_, &QSpinBox::valueChanged, this, changed);
  connect(head_, &QSpinBox::valueChanged, this, changed);
  connect(method_, &QComboBox::currentIndexChanged, this, [this] {
    state_->attention_method = method_->chosen_id();
    emit request();
  });
  connect(overview_, &QPushButton::clicked, this, [this] { emit request(); });
  connect(compare_, &QComboBox::currentIndexChanged, this, [this] {
    refresh();
    if (compare() != Compare::One) emit request_compare();
  });
  connect(method_b_, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
  connect(detail_, &QPushButton::clicked, this, [this] {
    auto snap = state_->attention;
    if (!snap || !snap->map.pooled) return;
    const QPointF c = heat_->view_centre();  // in pooled cells
    const int n = snap->map.n, side = snap->map.pooled, size = std::min(512, n);
    const int q = (int)(c.y() * n / side), k = (int)(c.x() * n / side);
    emit request_detail(std::clamp(q - size / 2, 0, n - size), std::clamp(k - size / 2, 0, n - size), size);
  });
}

bool AttentionView::refresh_compare() {
  auto cmp = state_->attention_compare;
  const bool fresh = cmp && cmp->layer == state_->layer && cmp->head == state_->head && cmp->ctx == state_->length &&
                     !cmp->maps.empty();
  for (auto* h : multiples_) h->deleteLater();
  multiples_.clear();
  set_dimmed(heat_, false);
  stale_ = false;
  const bool every = compare() == Compare::Every;
  heat_->setVisible(!every);
  multiples_box_->setVisible(every);
  if (!fresh) {
    heat_->set_diverging(false);
    heat_->set_data(0, 0, {}, tr("computing layer %1 · head %2 under every method…").arg(state_->layer).arg(state_->head));
    emit request_compare();
    return false;
  }
  auto side_of = [](const AttentionMap& m) { return m.pooled ? m.pooled : m.n; };
  HeatmapAxes axes;
  axes.diagonal = state_->config.train_len;
  axes.diagonal_label = QString("m − j = L = %1").arg(state_->config.train_len);
  if (every) {
    int shown = 0;
    for (size_t k = 0; k < cmp->methods.size(); ++k) {
      if (!state_->is_shown(cmp->methods[k])) continue;
      const AttentionMap& m = cmp->maps[k];
      auto* h = new HeatmapWidget();
      h->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Ignored);  // share the view's room: never widen the window
      h->setMinimumSize(120, 110);
      h->set_log_scale(log_->isChecked());
      HeatmapAxes a = axes;
      a.dx = a.dy = (double)m.n / side_of(m);
      h->set_data(side_of(m), side_of(m), m.probs, AppState::label(cmp->methods[k]), a);
      h->setToolTip(tr("%1 · layer %2 · head %3 · n = %4").arg(AppState::label(cmp->methods[k])).arg(m.layer).arg(m.head).arg(m.n));
      const int cols = shown < 4 ? 2 : 3;
      multiples_grid_->addWidget(h, shown / cols, shown % cols);
      multiples_.push_back(h);
      ++shown;
    }
    return true;
  }
  // A − B on a diverging scale centred on zero.
  const MethodParams a = state_->attention_params(), b = method_b_->chosen(*state_);
  int ia = -1, ib = -1;
  for (size_t k = 0; k < cmp->methods.size(); ++k) {
    if (cmp->methods[k] == a) ia = (int)k;
    if (cmp->methods[k] == b) ib = (int)k;
  }
  if (ia < 0 || ib < 0) {
    heat_->set_data(0, 0, {}, tr("choose two methods that run at this n"));
    return true;
  }
  const AttentionMap& ma = cmp->maps[(size_t)ia];
  const AttentionMap& mb = cmp->maps[(size_t)ib];
  std::vector<float> d(ma.probs.size());
  for (size_t i = 0; i < d.size() && i < mb.probs.size(); ++i) d[i] = ma.probs[i] - mb.probs[i];
  axes.dx = axes.dy = (double)ma.n / side_of(ma);
  heat_->set_log_scale(false);  // a difference has no log scale
  heat_->set_diverging(true);
  heat_->set_data(side_of(ma), side_of(ma), std::move(d),
                  tr("attention %1 − %2 · layer %3 · head %4 · n = %5 (red: A attends more)")
                      .arg(AppState::label(a), AppState::label(b)).arg(ma.layer).arg(ma.head).arg(ma.n),
                  axes);
  return true;
}

void AttentionView::refresh() {
  {
    QSignalBlocker b1(method_), b2(layer_), b3(head_), b4(method_b_);
    method_b_->fill(*state_);
    if (method_b_->currentIndex() == 0 && method_b_->count() > 1) method_b_->setCurrentIndex(1);
    method_b_->setVisible(compare() == Compare::Difference);
    method_->fill(*state_);
    state_->attention_method = method_->chosen_id();
    layer_->setRange(0, std::max(0, state_->config.n_layers - 1));
    head_->setRange(0, std::max(0, state_->config.n_heads - 1));
    layer_->setValue(state_->layer);
    head_->setValue(state_->head);
  }
  if (compare() != Compare::One) {
    refresh_compare();
    return;
  }
  heat_->show();
  multiples_box_->hide();
  for (auto* h : multiples_) h->deleteLater();
  multiples_.clear();
  heat_->set_diverging(false);
  heat_->set_log_scale(log_->isChecked());
  auto snap = state_->attention;
  if (!snap) {  // nothing for this model and document yet: never the previous one's map or heads
    heat_->set_data(0, 0, {}, tr("Attention: computing…"));
    for (auto* w : minimaps_) w->deleteLater();
    minimaps_.clear();
    table_->setRowCount(0);
    return;
  }
  const AttentionMap& m = snap->map;
  const int side = m.region.size ? m.region.size : m.pooled ? m.pooled : m.n;
  // A map of another layer, head, method or n than the controls say is dimmed and says so.
  const bool stale = snap->layer != state_->layer || snap->head != state_->head ||
                     snap->method != state_->attention_params() || snap->ctx != state_->length;
  const QString stale_note =
      !stale ? QString()
             : ((state_->running & AppState::kRunAttention)
                    ? tr("computing layer %1 · head %2 at n = %3… — shown until then: ")
                    : tr("layer %1 · head %2 at n = %3 not computed (cancelled; Run ▸ Recompute, F5) — shown: "))
                   .arg(state_->layer).arg(state_->head).arg(state_->length);
  set_dimmed(heat_, stale);
  stale_ = stale;
  detail_->setEnabled(m.pooled > 0);
  overview_->setEnabled(m.region.size > 0);
  HeatmapAxes axes;
  axes.diagonal = state_->config.train_len;
  axes.diagonal_label = QString("m − j = L = %1").arg(state_->config.train_len);
  if (m.region.size) {
    const int q0 = m.region.q0, k0 = m.region.k0;
    axes.x0 = k0;
    axes.y0 = q0;
    heat_->set_data(side, side, m.probs,
                    stale_note + QString("%1 · layer %2 · head %3 · full resolution: queries %4–%5, keys %6–%7 of %8")
                        .arg(AppState::label(snap->method)).arg(m.layer).arg(m.head).arg(q0).arg(q0 + side - 1).arg(k0).arg(k0 + side - 1).arg(m.n),
                    axes);
    heat_->set_readout([q0, k0](int r, int c, float p) {
      return QString("query m = %1, key j = %2, p = %3").arg(q0 + r).arg(k0 + c).arg(p, 0, 'g', 4);
    });
  } else {
    axes.dx = axes.dy = (double)m.n / side;
    heat_->set_data(side, side, m.probs,
                    stale_note + QString("%1 · layer %2 · head %3 · n = %4%5")
                        .arg(AppState::label(snap->method))
                        .arg(m.layer)
                        .arg(m.head)
                        .arg(m.n)
                        .arg(m.pooled ? QString(" (max-pooled to %1×%1)").arg(m.pooled) : ""),
                    axes);
    const int n = m.n;
    heat_->set_readout([n, side](int r, int c, float p) {
      return QString("query m ≈ %1, key j ≈ %2, p = %3").arg((long long)r * n / side).arg((long long)c * n / side).arg(p, 0, 'g', 4);
    });
  }
  // Mini-maps and per-head figures.
  for (auto* w : minimaps_) w->deleteLater();
  minimaps_.clear();
  table_->setRowCount((int)m.heads.size());
  const int cols = 4;
  for (int h = 0; h < (int)m.heads.size(); ++h) {
    const HeadSummary& hs = m.heads[h];
    QImage img(kMinimap, kMinimap, QImage::Format_RGB32);
    float mx = 1e-9f;
    for (float v : hs.minimap) mx = std::max(mx, v);
    for (int y = 0; y < kMinimap; ++y)
      for (int x = 0; x < kMinimap; ++x) {
        float v = std::sqrt(hs.minimap[(size_t)y * kMinimap + x] / mx);
        img.setPixel(x, y, qRgb((int)(255 * v), (int)(200 * v * v), (int)(90 + 100 * (1 - v))));
      }
    auto* lbl = new ClickLabel();
    lbl->setPixmap(QPixmap::fromImage(img.scaled(56, 56)));
    lbl->setToolTip(QString("head %1: entropy %2 nats, mean distance %3 tokens").arg(h).arg(hs.mean_entropy, 0, 'f', 2).arg(hs.mean_distance, 0, 'f', 1));
    lbl->setStyleSheet(h == m.head ? "border: 2px solid #d33;" : "border: 2px solid transparent;");
    lbl->on_click = [this, h] { head_->setValue(h); };
    grid_->addWidget(lbl, h / cols, h % cols);
    lbl->show();
    minimaps_.push_back(lbl);
    table_->setItem(h, 0, new QTableWidgetItem(QString::number(h)));
    table_->setItem(h, 1, new QTableWidgetItem(QString::number(hs.mean_entropy, 'f', 3)));
    table_->setItem(h, 2, new QTableWidgetItem(QString::number(hs.mean_distance, 'f', 1)));
  }
}

QJsonObject AttentionView::data_json() const {
  if (auto cmp = state_->attention_compare; compare() != Compare::One && cmp) {  // what the comparison shows
    QJsonArray maps;
    for (size_t k = 0; k < cmp->maps.size(); ++k) {
      const AttentionMap& m = cmp->maps[k];
      QJsonArray probs;
      for (float v : m.probs) probs << v;
      maps << QJsonObject{{"method", AppState::label(cmp->methods[k])}, {"pooled", m.pooled}, {"n", m.n}, {"attention", probs}};
    }
    return {{"view", view_name()}, {"compare", compare() == Compare::Every ? "every method" : "A - B"},
            {"a", AppState::label(state_->attention_params())}, {"b", AppState::label(method_b_->chosen(*state_))},
            {"layer", cmp->layer}, {"head", cmp->head}, {"maps", maps}};
  }
  auto snap = state_->attention;
  if (!snap) return {{"view", view_name()}};
  const AttentionMap& m = snap->map;
  const int side = m.region.size ? m.region.size : m.pooled ? m.pooled : m.n;
  QJsonArray rows, heads;
  for (int r = 0; r < side; ++r) {
    QJsonArray row;
    for (int c = 0; c < side; ++c) row << m.probs[(size_t)r * side + c];
    rows << row;
  }
  for (const auto& hs : m.heads) heads << QJsonObject{{"mean_entropy", hs.mean_entropy}, {"mean_distance", hs.mean_distance}};
  return {{"view", view_name()}, {"method", AppState::label(snap->method)}, {"layer", m.layer}, {"head", m.head}, {"n", m.n},
          {"pooled", m.pooled}, {"region", QJsonObject{{"q0", m.region.q0}, {"k0", m.region.k0}, {"size", m.region.size}}},
          {"attention", rows}, {"heads", heads}};
}

QString AttentionView::data_csv() const {
  auto snap = state_->attention;
  if (!snap) return {};
  const AttentionMap& m = snap->map;
  const int side = m.region.size ? m.region.size : m.pooled ? m.pooled : m.n;
  QString out = m.region.size ? "query,key,probability\n" : "row,col,probability\n";
  for (int r = 0; r < side; ++r)
    for (int c = 0; c < side; ++c)
      if (m.probs[(size_t)r * side + c] > 0)
        out += QString("%1,%2,%3\n").arg(r + m.region.q0).arg(c + m.region.k0).arg(m.probs[(size_t)r * side + c]);
  return out;
}

QJsonObject AttentionView::view_state() const {
  return {{"layer", layer_->value()}, {"head", head_->value()}, {"log", log_->isChecked()}, {"method", method_->currentText()}};
}

void AttentionView::restore_state(const QJsonObject& o) {
  log_->setChecked(o["log"].toBool(true));
  state_->set_selection(o["layer"].toInt(), o["head"].toInt());
  refresh();
  method_->setCurrentText(o["method"].toString());  // session files name the method by its label
  state_->attention_method = method_->chosen_id();
}

QWidget* AttentionView::export_widget() { return heat_; }

}  // namespace ls::app
