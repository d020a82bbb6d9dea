#include "app/views/story_view.h"

#include <QHBoxLayout>
#include <QtCharts/QLineSeries>
#include <QtCharts/QValueAxis>
#include <QJsonArray>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

#include "app/views/chart_util.h"

namespace ls::app {

StoryView::StoryView(AppState* s, QWidget* parent) : View(s, parent) {
  auto* lay = new QVBoxLayout(this);
  // The walkthrough's panel: above the charts, never over them.
  tour_ = new QFrame();
  tour_->setObjectName("tour");
  tour_->setFrameShape(QFrame::StyledPanel);
  tour_->setStyleSheet("QFrame#tour { background: #eef5ff; border: 1px solid #8fb3e8; border-radius: 4px; }");
  auto* tl = new QVBoxLayout(tour_);
  tl->setContentsMargins(8, 6, 8, 6);
  tour_title_ = new QLabel();
  tour_text_ = new QLabel();
  tour_text_->setWordWrap(true);
  tour_text_->setTextFormat(Qt::RichText);
  auto* buttons = new QHBoxLayout();
  tour_back_ = new QPushButton(tr("Back"));
  tour_next_ = new QPushButton(tr("Next"));
  auto* close = new QPushButton(tr("Close walkthrough"));
  close->setToolTip(tr("Help ▸ Walkthrough opens it again"));
  buttons->addWidget(tour_title_, 1);
  buttons->addWidget(tour_back_);
  buttons->addWidget(tour_next_);
  buttons->addWidget(close);
  tl->addLayout(buttons);
  tl->addWidget(tour_text_);
  tour_->hide();
  lay->addWidget(tour_);
  connect(tour_back_, &QPushButton::clicked, this, [this] { set_tour_step(step_ - 1); });
  connect(tour_next_, &QPushButton::clicked, this, [this] { step_ >= 2 ? end_tour() : set_tour_step(step_ + 1); });
  connect(close, &QPushButton::clicked, this, &StoryView::end_tour);
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
  for (QChartView* v : {by_position_, by_length_})
    connect(v->chart(), &QChart::plotAreaChanged, this, [this] { place_callout(); });
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
  for (auto* series : by_position_->chart()->series())  // a click picks that position of the first window
    if (auto* line = qobject_cast<QLineSeries*>(series))
      connect(line, &QXYSeries::clicked, this, [this](const QPointF& p) { state_->select_token((int)std::lround(p.x())); });
  // The token selected anywhere, where it sits in its window: a solid line.
  if (const int t = state_->selected_token; t >= 0 && state_->ppl && !by_position_->chart()->series().isEmpty()) {
    QChart* c = by_position_->chart();
    const int m = t % std::max(1, state_->ppl->ctx);
    auto* sel = new QLineSeries();
    sel->setName("selected");
    const auto* ay = qobject_cast<QValueAxis*>(c->axes(Qt::Vertical).value(0));
    sel->append(m, ay ? ay->min() : 0.0);
    sel->append(m, ay ? ay->max() : 10.0);
    sel->setPen(QPen(QColor(0xd0, 0x30, 0x30), 1.5));
    c->addSeries(sel);
    for (auto* axis : c->axes()) sel->attachAxis(axis);
  }
  Legend ignored;  // same methods, same colours: one legend line serves both charts
  draw_loss_vs_length(by_length_->chart(), *state_, ignored);
  set_legend(legend_, legend);
  const int L = state_->config.train_len;
  // Results of another n than the field says are dimmed and labelled (a run in flight or cancelled).
  const bool stale = state_->ppl && state_->ppl->ctx != state_->length;
  for (QChartView* v : {by_position_, by_length_}) set_dimmed(v, stale);
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
  if (step_ >= 0) set_tour_step(step_);  // the walkthrough quotes the numbers now on screen
}

void StoryView::start_tour() { set_tour_step(0); }

void StoryView::end_tour() {
  step_ = -1;
  tour_->hide();
  place_callout();
  emit tour_dismissed();
}

void StoryView::set_tour_step(int step) {
  step_ = std::clamp(step, 0, 2);
  tour_->show();
  tour_back_->setEnabled(step_ > 0);
  tour_next_->setText(step_ == 2 ? tr("Done") : tr("Next"));
  tour_title_->setText(tr("<b>Walkthrough %1 of 3</b>").arg(step_ + 1));
  const int L = state_->config.train_len;
  const std::vector<PositionCurve> shown = curves();
  const PositionCurve* rope = nullptr;
  for (const auto& c : shown)
    if (c.method.method == Method::Rope && c.method.logn == 0) rope = &c;
  const PositionCurve* first = rope ? rope : shown.empty() ? nullptr : &shown[0];
  QString text;
  callout_chart_ = 0;
  callout_at_ = {};
  callout_label_.clear();
  if (!first) {
    text = tr("The Story is computing: the walkthrough fills in its numbers as they come.");
  } else if (step_ == 0) {
    callout_at_ = {L / 2.0, first->inside_l};
    callout_label_ = tr("inside L: %1 nats").arg(first->inside_l, 0, 'f', 2);
    text = tr("<b>Inside L.</b> The model was trained on windows of L = %1 tokens. At every position inside L (left of "
              "the grey region) each method reads the document about as well as in training: %2 has a mean loss of "
              "%3 nats there. Lower is better.")
               .arg(L)
               .arg(AppState::label(first->method).toHtmlEscaped())
               .arg(first->inside_l, 0, 'f', 2);
  } else if (step_ == 1) {
    // Where the first method's loss first rises a nat above its level inside L.
    double at = L, y = first->inside_l;
    for (size_t i = 0; i < first->centre.size(); ++i)
      if (first->centre[i] > L && first->mean[i] > first->inside_l + 1.0) {
        at = first->centre[i];
        y = first->mean[i];
        break;
      }
    callout_at_ = {at, y};
    callout_label_ = tr("beyond L: %1 nats").arg(first->beyond_l, 0, 'f', 2);
    text = std::isnan(first->beyond_l)
               ? tr("<b>Beyond L.</b> The window (n = %1) is no longer than L: raise the context length n (left) past "
                    "L = %2 to see what happens beyond it.").arg(state_->ppl ? state_->ppl->ctx : state_->length).arg(L)
               : tr("<b>%1 beyond L.</b> In the grey region the model meets relative positions — rotation angles of its "
                    "slow rotary pairs — it never saw in training. The loss of %1 climbs from %2 to %3 nats (marked "
                    "where it first rises a nat above its level inside L).")
                     .arg(AppState::label(first->method).toHtmlEscaped())
                     .arg(first->inside_l, 0, 'f', 2)
                     .arg(first->beyond_l, 0, 'f', 2);
  } else {
    QStringList parts;
    for (const auto& c : shown) {
      if (&c == first || std::isnan(c.beyond_l)) continue;
      parts << tr("<b>%1</b> %2 → %3").arg(AppState::label(c.method).toHtmlEscaped()).arg(c.inside_l, 0, 'f', 2).arg(c.beyond_l, 0, 'f', 2);
    }
    callout_chart_ = 1;
    callout_at_ = {(double)(state_->ppl ? state_->ppl->ctx : state_->length), first->beyond_l};
    callout_label_ = tr("n = %1").arg((int)callout_at_.x());
    text = tr("<b>What each repair changes.</b> NTK-aware scaling and YaRN slow the rotary pairs down so that n fits "
              "the angles seen in training; ReRoPE keeps every relative position beyond its window w at w, so the "
              "model never sees a new one; log-n keeps attention as sharp as in training. Inside L → beyond L: %1. The "
              "right chart shows the same at each context length; hover a method for its formula.")
               .arg(parts.isEmpty() ? tr("add a method from the panel to compare") : parts.join("; "));
  }
  tour_text_->setText(text);
  place_callout();
}

void StoryView::resizeEvent(QResizeEvent* e) {
  View::resizeEvent(e);
  place_callout();
}

void StoryView::place_callout() {
  // One callout (a marker and a label) on the chart the step talks about.
  for (QGraphicsItem* item : {static_cast<QGraphicsItem*>(callout_), static_cast<QGraphicsItem*>(marker_)})
    if (item) {
      item->scene()->removeItem(item);
      delete item;
    }
  callout_ = nullptr;
  marker_ = nullptr;
  QChart* c = (callout_chart_ == 0 ? by_position_ : by_length_)->chart();
  if (step_ < 0 || callout_label_.isEmpty() || c->series().isEmpty() || !c->scene()) return;
  const QPointF p = c->mapToPosition(callout_at_, c->series().first());
  marker_ = c->scene()->addEllipse(p.x() - 7, p.y() - 7, 14, 14, QPen(QColor(0xd0, 0x30, 0x30), 2.5));
  callout_ = c->scene()->addText(QString());
  callout_->setHtml(QString("<span style=\"background-color: #fff4f4; color: #a01010; font-weight: bold;\">&nbsp;%1&nbsp;</span>")
                        .arg(callout_label_.toHtmlEscaped()));
  const QRectF plot = c->plotArea();
  const QSizeF size = callout_->boundingRect().size();
  callout_->setPos(std::clamp(p.x() - size.width() / 2, plot.left(), std::max(plot.left(), plot.right() - size.width())),
                   std::clamp(p.y() - size.height() - 10, plot.top(), std::max(plot.top(), plot.bottom() - size.height())));
  marker_->setZValue(10);
  callout_->setZValue(10);
}

QJsonObject StoryView::data_json() const {
  QJsonArray out, by_length;
  for (const auto& c : curves()) {
    QJsonArray x, y;
    for (size_t i = 0; i < c.centre.size(); ++i) {
      x << c.centre[i];
      y << c.mean[i];
    }
    out << QJsonObject{{"method", AppState::label(c.method)}, {"position", x}, {"mean_nll", y}, {"inside_l", c.inside_l},
                          {"beyond_l", std::isnan(c.beyond_l) ? QJsonValue() : QJsonValue(c.beyond_l)}};
  }
  if (state_->sweep)  // the right chart, as drawn
    for (const auto& c : state_->sweep->result.cells)
      if (state_->is_shown(c.method))
        by_length << QJsonObject{{"method", AppState::label(c.method)}, {"ctx", c.ctx}, {"mean_nll", c.mean_nll}};
  return {{"view", view_name()}, {"train_len", state_->config.train_len}, {"bucket", bucket()},
          {"ctx", state_->ppl ? state_->ppl->ctx : 0}, {"curves", out}, {"loss_vs_length", by_length}};
}

QString StoryView::data_csv() const {
  // Both charts: "position" rows (left: mean NLL per position bucket) and "length" rows
  // (right: mean NLL per context length).
  QString out = "chart,method,x,mean_nll\n";
  for (const auto& c : curves())
    for (size_t i = 0; i < c.centre.size(); ++i)
      out += QString("position,\"%1\",%2,%3\n").arg(AppState::label(c.method)).arg(c.centre[i]).arg(c.mean[i], 0, 'g', 10);
  if (state_->sweep)
    for (const auto& c : state_->sweep->result.cells)
      if (state_->is_shown(c.method))
        out += QString("length,\"%1\",%2,%3\n").arg(AppState::label(c.method)).arg(c.ctx).arg(c.mean_nll, 0, 'g', 10);
  return out;
}

}  // namespace ls::app
