#include "app/views/relpos_view.h"

#include "app/views/chart_util.h"
#include "app/views/method_choice.h"

#include <QHBoxLayout>
#include <QJsonArray>
#include <QVBoxLayout>
#include <cmath>

#include "core/position/spec.h"

namespace ls::app {

constexpr int kMaxSide = 1024;

RelposView::RelposView(AppState* s, QWidget* parent) : View(s, parent) {
  auto* lay = new QVBoxLayout(this);
  auto* bar = new QHBoxLayout();
  a_ = new MethodChoice(true);
  b_ = new MethodChoice(true);
  diff_ = new QCheckBox(tr("difference A − B"));
  bar->addWidget(new QLabel(tr("method A")));
  bar->addWidget(a_, 1);
  bar->addWidget(diff_);
  bar->addWidget(new QLabel(tr("method B")));
  bar->addWidget(b_, 1);
  lay->addLayout(bar);
  heat_ = new HeatmapWidget();
  lay->addWidget(heat_, 1);
  readout_ = fluid_line(new QLabel(tr("hover a cell: query m, key j, r(m, j); wheel zooms, drag pans, double-click resets")));
  lay->addWidget(readout_);
  connect(heat_, &HeatmapWidget::hovered, readout_, &QLabel::setText);
  for (auto* c : {a_, b_}) connect(c, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
  connect(diff_, &QCheckBox::toggled, this, [this] { refresh(); });
}

void RelposView::refresh() {
  if (state_->model_path != model_seen_) {  // another model: fresh choices and read-out
    model_seen_ = state_->model_path;
    QSignalBlocker q1(a_), q2(b_);
    a_->clear();
    b_->clear();
    readout_->setText(tr("hover a cell: query m, key j, r(m, j); wheel zooms, drag pans, double-click resets"));
  }
  for (MethodChoice* c : {a_, b_}) {
    const bool first = c->count() == 0;
    c->fill(*state_);
    if (first && c == b_) {  // first fill: A the first method, B plain rope
      QSignalBlocker block(c);
      c->choose_last();
    }
  }
  const MethodParams pa = a_->chosen(*state_), pb = b_->chosen(*state_);
  n_ = state_->length;
  side_ = std::min(n_, kMaxSide);
  const PositionContext g = state_->context_at(n_);
  const bool diff = diff_->isChecked();
  std::vector<float> v((size_t)side_ * side_, NAN);
  auto value = [&](const MethodParams& p, long long m, long long j) -> double {
    return position_visible(p, m, j) ? relpos(p, g, m, j) : NAN;
  };
  for (int r = 0; r < side_; ++r) {
    const long long m = (long long)r * n_ / side_;
    for (int c = 0; c < side_; ++c) {
      const long long j = (long long)c * n_ / side_;
      double x = value(pa, m, j);
      if (diff) x -= value(pb, m, j);
      v[(size_t)r * side_ + c] = (float)x;
    }
  }
  heat_->set_diverging(diff);
  HeatmapAxes axes;
  axes.dx = axes.dy = (double)n_ / side_;
  axes.diagonal = state_->config.train_len;
  axes.diagonal_label = QString("m − j = L = %1").arg(state_->config.train_len);
  const QString sampled = side_ < n_ ? QString(" (sampled: one cell per %1 positions)").arg((double)n_ / side_, 0, 'g', 3) : "";
  heat_->set_data(side_, side_, std::move(v),
                  diff ? QString("r(m, j): %1 − %2, n = %3%4").arg(a_->currentText(), b_->currentText()).arg(n_).arg(sampled)
                       : QString("r(m, j) of %1, n = %2%3").arg(a_->currentText()).arg(n_).arg(sampled),
                  axes);
  heat_->set_readout([this](int r, int c, float x) {
    const long long m = (long long)r * n_ / side_, j = (long long)c * n_ / side_;
    return QString("m = %1, j = %2, r = %3").arg(m).arg(j).arg(std::isfinite(x) ? QString::number(x, 'g', 6) : "masked");
  });
}

QJsonObject RelposView::data_json() const {
  QJsonArray rows;
  const auto& v = heat_->values();
  for (int r = 0; r < heat_->rows(); ++r) {
    QJsonArray row;
    for (int c = 0; c < heat_->cols(); ++c) {
      float x = v[(size_t)r * heat_->cols() + c];
      row << (std::isfinite(x) ? QJsonValue(x) : QJsonValue());
    }
    rows << row;
  }
  return {{"view", view_name()}, {"method_a", a_->currentText()}, {"method_b", diff_->isChecked() ? b_->currentText() : ""},
          {"length", n_}, {"side", side_}, {"relpos", rows}};
}

QString RelposView::data_csv() const {
  QString out = "m,j,r\n";
  const auto& v = heat_->values();
  for (int r = 0; r < heat_->rows(); ++r)
    for (int c = 0; c < heat_->cols(); ++c) {
      float x = v[(size_t)r * heat_->cols() + c];
      if (std::isfinite(x)) out += QString("%1,%2,%3\n").arg((long long)r * n_ / side_).arg((long long)c * n_ / side_).arg(x);
    }
  return out;
}

QJsonObject RelposView::view_state() const {
  return {{"method_a", a_->currentText()}, {"method_b", b_->currentText()}, {"difference", diff_->isChecked()}};
}

void RelposView::restore_state(const QJsonObject& o) {
  diff_->setChecked(o["difference"].toBool());
  a_->setCurrentText(o["method_a"].toString());
  b_->setCurrentText(o["method_b"].toString());
}

QWidget* RelposView::export_widget() { return heat_; }

}  // namespace ls::app
