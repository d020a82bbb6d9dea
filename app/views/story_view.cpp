#include "app/views/story_view.h"

#include <QGraphicsOpacityEffect>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QVBoxLayout>
#include <cmath>

#include "app/views/chart_util.h"

namespace ls::app {

StoryView::StoryView(AppState* s, QWidget* parent) : View(s, parent) {
  auto* lay = new QVBoxLayout(this);
  legend_ = new QLabel();
  legend_->setWordWrap(true);
  lay->addWidget(legend_);
  auto* charts = new QHBoxLayout();
  for (QChartView** v : {&by_position_, &by_length_}) {
    *v = new QChartView(new QChart());
    (*v)->setRenderHint(QPainter::Antialiasing);
    (*v)->setMinimumSize(240, 200);
    charts->addWidget(*v, 1);
  }
  lay->addLayout(charts, 1);
  sentence_ = new QLabel();
  sentence_->setWordWrap(true);
  sentence_->setTextFormat(Qt::RichText);
  lay->addWidget(sentence_);
}

int StoryView::bucket() const {
  const int ctx = state_->ppl ? state_->ppl->ctx : state_->length;
  return std::max(8, ctx / 48);  // ~48 points along the window
}

void StoryView::refresh() {
  const std::vector<PositionCurve> shown = curves();
  Legend legend;
  draw_nll_by_position(by_position_->chart(), *state_, shown, legend);
  Legend ignored;  // same methods, same colours: one legend line serves both charts
  draw_loss_vs_length(by_length_->chart(), *state_, ignored);
  set_legend(legend_, legend);
  const int L = state_->config.train_len;
  // Results of another n than the field says are dimmed and labelled (a run in flight or cancelled).
  const bool stale = state_->ppl && state_->ppl->ctx != state_->length;
  for (QChartView* v : {by_position_, by_length_}) {
    if (!v->graphicsEffect()) v->setGraphicsEffect(new QGraphicsOpacityEffect(v));
    static_cast<QGraphicsOpacityEffect*>(v->graphicsEffect())->setOpacity(stale ? 0.4 : 1.0);
  }
  const QString note =
      !stale ? QString()
             : "<b>" + ((state_->running & AppState::kRunPpl) ? tr("Computing n = %1… — shown until then: n = %2.")
                                                               : tr("n = %1 was not computed (cancelled; Run ▸ Recompute, "
                                                                    "F5) — shown: n = %2."))
                           .arg(state_->length)
                           .arg(state_->ppl->ctx) +
                   "</b> ";
  if (shown.empty()) {
    bool any_shown = false;
    for (const auto& m : state_->methods) any_shown |= state_->is_shown(m);
    sentence_->setText(state_->ppl && !any_shown
                           ? tr("Every method is unticked: tick one in the method panel to show it.")
                           : tr("Computing the loss of each method at every position of the document's windows…"));
    return;
  }
  // The plain-language reading, from the numbers on screen.
  QString s = note + tr("Left: each method's mean loss at each position of a %1-token window; the model was trained on "
                 "%2-token windows, so the grey region holds positions it never saw. Right: mean loss against the "
                 "window length, L dashed. ")
                  .arg(state_->ppl->ctx)
                  .arg(L);
  QStringList parts;
  for (const auto& c : shown) {
    if (std::isnan(c.beyond_l)) continue;
    const double rise = c.beyond_l - c.inside_l;
    parts << tr("<b>%1</b> %2 nats inside L → %3 beyond (%4%5)")
                 .arg(AppState::label(c.method).toHtmlEscaped())
                 .arg(c.inside_l, 0, 'f', 2)
                 .arg(c.beyond_l, 0, 'f', 2)
                 .arg(rise >= 0 ? "+" : "")
                 .arg(rise, 0, 'f', 2);
  }
  if (parts.isEmpty()) s += tr("The window is no longer than L: raise the context length n to look beyond it.");
  else s += tr("Lower is better; a line that rises in the grey region loses track of the text there: ") +
            parts.join("; ") + ".";
  sentence_->setText(s);
}

QJsonObject StoryView::data_json() const {
  QJsonArray out;
  for (const auto& c : curves()) {
    QJsonArray x, y;
    for (size_t i = 0; i < c.centre.size(); ++i) {
      x << c.centre[i];
      y << c.mean[i];
    }
    out << QJsonObject{{"method", AppState::label(c.method)}, {"position", x}, {"mean_nll", y}, {"inside_l", c.inside_l},
                          {"beyond_l", std::isnan(c.beyond_l) ? QJsonValue() : QJsonValue(c.beyond_l)}};
  }
  return {{"view", view_name()}, {"train_len", state_->config.train_len}, {"bucket", bucket()},
          {"ctx", state_->ppl ? state_->ppl->ctx : 0}, {"curves", out}};
}

QString StoryView::data_csv() const {
  QString out = "method,position,mean_nll\n";
  for (const auto& c : curves())
    for (size_t i = 0; i < c.centre.size(); ++i)
      out += QString("\"%1\",%2,%3\n").arg(AppState::label(c.method)).arg(c.centre[i]).arg(c.mean[i], 0, 'g', 10);
  return out;
}

}  // namespace ls::app
