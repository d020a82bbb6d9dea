#include "app/views/sweep_view.h"

#include <QHBoxLayout>
#include <QJsonArray>
#include <QLabel>
#include <QVBoxLayout>
#include <cmath>

#include "app/views/chart_util.h"
#include "app/views/loss_charts.h"

namespace ls::app {

SweepView::SweepView(AppState* s, QWidget* parent) : View(s, parent) {
  auto* lay = new QVBoxLayout(this);
  auto* bar = new QHBoxLayout();
  lengths_ = new QLineEdit();
  lengths_->setToolTip(tr("context lengths, comma-separated"));
  run_ = new QPushButton(tr("Run sweep"));
  bar->addWidget(new QLabel(tr("lengths")));
  bar->addWidget(lengths_, 1);
  bar->addWidget(run_);
  lay->addLayout(bar);
  chart_ = add_chart_with_legend(lay, legend_);
  connect(run_, &QPushButton::clicked, this, &SweepView::request);
  connect(lengths_, &QLineEdit::textChanged, this, [this] {
    QStringList bad;
    parse_lengths(lengths_->text(), 2, &bad);
    mark_bad_entries(lengths_, bad, tr("each a whole number of tokens ≥ 2"), tr("context lengths, comma-separated"));
  });
}

void SweepView::suggest_lengths() { lengths_->setText(suggested_lengths(state_->config.train_len, 16, state_->max_length)); }

QList<int> SweepView::lengths() const { return parse_lengths(lengths_->text(), 2); }

QString SweepView::lengths_problem() const {
  QStringList bad;
  parse_lengths(lengths_->text(), 2, &bad);
  return bad.isEmpty() ? QString() : tr("sweep lengths not accepted: %1 (each a whole number of tokens ≥ 2)").arg(bad.join(", "));
}

void SweepView::refresh() {
  if (lengths_->text().isEmpty()) suggest_lengths();
  Legend legend;
  draw_loss_vs_length(chart_->chart(), *state_, legend);
  set_legend(legend_, legend);
}

QJsonObject SweepView::data_json() const {
  auto snap = state_->sweep;
  if (!snap) return {{"view", view_name()}};
  QJsonArray cells, edges;
  for (int e : snap->result.edges) edges << e;
  for (const auto& c : snap->result.cells) {
    if (!state_->is_shown(c.method)) continue;  // as drawn
    QJsonArray b;
    for (double x : c.bucket_nll) b << (std::isfinite(x) ? QJsonValue(x) : QJsonValue());
    cells << QJsonObject{{"method", AppState::label(c.method)}, {"ctx", c.ctx}, {"mean_nll", c.mean_nll},
                         {"windows", c.windows}, {"bucket_nll", b}};
  }
  return {{"view", view_name()}, {"train_len", state_->config.train_len}, {"buckets", edges}, {"results", cells}};
}

QString SweepView::data_csv() const {
  auto snap = state_->sweep;
  if (!snap) return {};
  QString out = "method,ctx,windows,mean_nll";
  for (size_t b = 0; b + 1 < snap->result.edges.size(); ++b)
    out += QString(",nll_%1_%2").arg(snap->result.edges[b]).arg(snap->result.edges[b + 1]);
  out += "\n";
  for (const auto& c : snap->result.cells) {
    if (!state_->is_shown(c.method)) continue;  // as drawn
    out += QString("\"%1\",%2,%3,%4").arg(AppState::label(c.method)).arg(c.ctx).arg(c.windows).arg(c.mean_nll, 0, 'g', 10);
    for (double x : c.bucket_nll) out += "," + (std::isfinite(x) ? QString::number(x, 'g', 10) : QString());
    out += "\n";
  }
  return out;
}

}  // namespace ls::app
