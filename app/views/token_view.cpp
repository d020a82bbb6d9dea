#include "app/views/token_view.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonArray>
#include <QPainter>
#include <QVBoxLayout>
#include <QtCharts/QLineSeries>
#include <QtCharts/QLogValueAxis>
#include <QtCharts/QValueAxis>
#include <cmath>

#include "app/views/chart_util.h"

namespace ls::app {

constexpr int kExcerptKeys = 16;  // keys before the token in the line view

void TokenLinesWidget::set_data(QString query, QStringList keys, std::vector<float> weights, QString note) {
  query_ = std::move(query);
  keys_ = std::move(keys);
  weights_ = std::move(weights);
  note_ = std::move(note);
  update();
}

void TokenLinesWidget::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.fillRect(rect(), Qt::white);
  p.setRenderHint(QPainter::Antialiasing);
  const QFontMetrics fm = p.fontMetrics();
  if (keys_.isEmpty()) {
    p.drawText(rect().adjusted(6, 6, -6, -6), Qt::TextWordWrap, note_);
    return;
  }
  const int rows = (int)keys_.size(), top = fm.height() + 6;
  const double step = std::max(1.0, (height() - top - 4.0) / rows);
  const int key_x = width() * 3 / 5, query_x = width() / 4;
  float mx = 1e-9f;
  for (float w : weights_) mx = std::max(mx, w);
  p.setPen(Qt::darkGray);
  p.drawText(QRect(4, 2, width() - 8, fm.height()), Qt::AlignLeft, note_);
  const double qy = top + step * (rows - 0.5);
  for (int i = 0; i < rows; ++i) {
    const double y = top + step * (i + 0.5);
    const float w = i < (int)weights_.size() ? weights_[(size_t)i] / mx : 0.0f;
    QColor c(200, 40, 40);
    c.setAlphaF(std::clamp(0.08 + 0.92 * w, 0.0, 1.0));
    p.setPen(QPen(c, 0.5 + 5.0 * w));
    p.drawLine(QPointF(query_x + 4, qy), QPointF(key_x - 4, y));
    p.setPen(Qt::black);
    p.drawText(QRectF(key_x, y - step / 2, width() - key_x - 4, step), Qt::AlignVCenter | Qt::AlignLeft,
               fm.elidedText(keys_[i], Qt::ElideRight, width() - key_x - 4));
  }
  QFont bold = p.font();
  bold.setBold(true);
  p.setFont(bold);
  p.drawText(QRectF(4, qy - step / 2 - 4, query_x - 4, step + 8), Qt::AlignVCenter | Qt::AlignRight,
             QFontMetrics(bold).elidedText(query_, Qt::ElideLeft, query_x - 8));
}

TokenView::TokenView(AppState* s, QWidget* parent) : View(s, parent) {
  auto* lay = new QVBoxLayout(this);
  header_ = fluid(new QLabel());
  header_->setTextFormat(Qt::RichText);
  lay->addWidget(header_);
  auto* row = new QHBoxLayout();
  table_ = new QTableWidget(0, 3);
  table_->setHorizontalHeaderLabels({tr("method"), tr("NLL"), tr("rank")});
  table_->horizontalHeaderItem(2)->setToolTip(tr("tokens the model ranked above the true one (1 = top choice)"));
  table_->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
  table_->verticalHeader()->hide();
  table_->setMinimumWidth(180);
  row->addWidget(table_, 2);
  auto* right = new QVBoxLayout();
  lines_method_ = new MethodChoice(false);
  lines_method_->setToolTip(tr("the method whose attention the lines show"));
  right->addWidget(lines_method_);
  lines_ = new TokenLinesWidget();
  right->addWidget(lines_, 1);
  row->addLayout(right, 3);
  lay->addLayout(row, 2);
  auto* charts = new QHBoxLayout();
  for (QChartView** v : {&relpos_, &attention_}) {
    *v = new QChartView(new QChart());
    (*v)->setRenderHint(QPainter::Antialiasing);
    (*v)->setMinimumSize(200, 160);
    (*v)->chart()->legend()->setVisible(false);
    charts->addWidget(*v, 1);
  }
  lay->addLayout(charts, 3);
  connect(lines_method_, &QComboBox::currentIndexChanged, this, [this] { refresh(); });
}

bool TokenView::has_content() const { return state_->selected_token >= 0 && state_->document; }

void TokenView::refresh() {
  const int m = state_->selected_token;
  auto doc = state_->document;
  {
    QSignalBlocker b(lines_method_);
    lines_method_->fill(*state_);
  }
  QChart* rc = relpos_->chart();
  QChart* ac = attention_->chart();
  clear_chart(rc);
  clear_chart(ac);
  table_->setRowCount(0);
  if (!doc || m < 0 || m >= (int)doc->tokens.size()) {
    header_->setText(tr("Click a token in the document, a point of the Perplexity chart or of the Story's left chart: "
                        "this view shows it under every method."));
    rc->setTitle(QString());
    ac->setTitle(QString());
    lines_->set_data({}, {}, {}, tr("no token chosen"));
    return;
  }
  header_->setText(tr("<b>Token %1</b> “%2” — attention at layer %3, head %4 (the Attention view's), n = %5")
                       .arg(m)
                       .arg(doc->pieces.value(m).toHtmlEscaped())
                       .arg(state_->layer)
                       .arg(state_->head)
                       .arg(state_->length));
  // NLL and rank under each method (the token is scored from the one before it).
  if (auto ppl = state_->ppl)
    for (size_t k = 0; k < ppl->results.size(); ++k) {
      if (!state_->is_shown(ppl->methods[k])) continue;
      const PplResult& r = ppl->results[k];
      const int r0 = table_->rowCount();
      table_->insertRow(r0);
      table_->setItem(r0, 0, new QTableWidgetItem(AppState::label(ppl->methods[k])));
      table_->item(r0, 0)->setForeground(state_->colour_of(ppl->methods[k]));
      const bool scored = m >= 1 && (size_t)(m - 1) < r.nll.size();
      table_->setItem(r0, 1, new QTableWidgetItem(scored ? QString::number(r.nll[(size_t)m - 1], 'f', 3) : "—"));
      table_->setItem(r0, 2, new QTableWidgetItem(scored && !r.rank.empty() ? QString::number(r.rank[(size_t)m - 1] + 1) : "—"));
    }
  // r(m, j) for the keys j ≤ m within the window, sampled to at most 512 points.
  const int n = state_->length, mq = m % std::max(1, n);  // its position in its window
  const PositionContext g = state_->context_at(n);
  rc->setTitle(tr("r(m, j) for m = %1 (its place in the window)").arg(mq));
  double rmax = 1;
  for (const auto& method : state_->methods) {
    if (!state_->is_shown(method) || method_is_alibi(method.method)) continue;
    auto* line = new QLineSeries();
    const int stride = std::max(1, (mq + 1) / 512);
    for (long long j = 0; j <= mq; j += stride)
      if (position_visible(method, mq, j)) {
        const double r = relpos(method, g, mq, j);
        line->append((double)j, r);
        rmax = std::max(rmax, r);
      }
    line->setPen(QPen(state_->colour_of(method), 2));
    rc->addSeries(line);
  }
  auto* rx = new QValueAxis();
  rx->setTitleText(tr("key j"));
  rx->setLabelFormat("%d");
  rx->setRange(0, std::max(1, mq));
  auto* ry = new QValueAxis();
  ry->setTitleText(tr("r(m, j)"));
  ry->setRange(0, rmax * 1.05);
  attach_axes(rc, rx, ry);
  // The attention row under each method (when computed for this token, layer and head).
  auto ta = state_->token_attention;
  const bool fresh = ta && ta->token == m && ta->layer == state_->layer && ta->head == state_->head && ta->ctx == std::min(n, (int)doc->tokens.size());
  if (m >= n) {
    ac->setTitle(tr("attention: the token is beyond the first window (n = %1)").arg(n));
    lines_->set_data({}, {}, {}, tr("attention is computed over the first window"));
    return;
  }
  if (!fresh) {
    ac->setTitle(tr("attention of token %1: computing…").arg(m));
    lines_->set_data({}, {}, {}, tr("computing…"));
    emit request_attention();
    return;
  }
  const int cells = ta->rows.empty() ? 0 : (int)ta->rows[0].size();
  const double keys_per_cell = ta->pooled ? (double)ta->ctx / ta->pooled : 1.0;
  ac->setTitle(ta->pooled ? tr("attention p(m, j), max over %1 keys per point").arg(keys_per_cell, 0, 'g', 3)
                          : tr("attention p(m, j)"));
  double pmin = 1;
  for (size_t k = 0; k < ta->rows.size(); ++k) {
    if (!state_->is_shown(ta->methods[k])) continue;
    auto* line = new QLineSeries();
    for (int c = 0; c < cells && c * keys_per_cell <= m; ++c)
      if (ta->rows[k][(size_t)c] > 0) {
        line->append(c * keys_per_cell, ta->rows[k][(size_t)c]);
        pmin = std::min(pmin, (double)ta->rows[k][(size_t)c]);
      }
    line->setPen(QPen(state_->colour_of(ta->methods[k]), 2));
    ac->addSeries(line);
  }
  auto* ax = new QValueAxis();
  ax->setTitleText(tr("key j"));
  ax->setLabelFormat("%d");
  ax->setRange(0, std::max(1, m));
  auto* ay = new QLogValueAxis();
  ay->setTitleText(tr("p"));
  ay->setLabelFormat("%g");
  ay->setRange(std::max(1e-8, pmin), 1.0);
  attach_axes(ac, ax, ay);
  // Lines from the token to the keys just before it, under the chosen method.
  const MethodParams chosen = lines_method_->chosen(*state_);
  int row = -1;
  for (size_t k = 0; k < ta->methods.size(); ++k)
    if (ta->methods[k] == chosen) row = (int)k;
  if (row < 0) row = 0;
  QStringList keys;
  std::vector<float> weights;
  for (int j = std::max(0, m - kExcerptKeys + 1); j <= m; ++j) {
    keys << QString("%1 %2").arg(j).arg(doc->pieces.value(j));
    const int c = (int)(j / keys_per_cell);
    weights.push_back(ta->rows.empty() || c >= cells ? 0.0f : ta->rows[(size_t)row][(size_t)c]);
  }
  lines_->set_data(doc->pieces.value(m), keys, weights,
                   tr("%1: the %2 keys before it%3").arg(AppState::label(ta->methods.empty() ? chosen : ta->methods[(size_t)row]))
                       .arg(keys.size())
                       .arg(ta->pooled ? tr(" (pooled: neighbours share a value)") : QString()));
}

QJsonObject TokenView::data_json() const {
  const int m = state_->selected_token;
  QJsonArray nll, att;
  if (auto ppl = state_->ppl; ppl && m >= 1)
    for (size_t k = 0; k < ppl->results.size(); ++k)
      if ((size_t)(m - 1) < ppl->results[k].nll.size())
        nll << QJsonObject{{"method", AppState::label(ppl->methods[k])}, {"nll", ppl->results[k].nll[(size_t)m - 1]}};
  if (auto ta = state_->token_attention; ta && ta->token == m)
    for (size_t k = 0; k < ta->rows.size(); ++k) {
      QJsonArray row;
      for (float v : ta->rows[k]) row << v;
      att << QJsonObject{{"method", AppState::label(ta->methods[k])}, {"row", row}};
    }
  return {{"view", view_name()}, {"token", m}, {"layer", state_->layer}, {"head", state_->head},
          {"nll", nll}, {"attention", att}};
}

QString TokenView::data_csv() const {
  QString out = "method,token,nll\n";
  const QJsonObject o = data_json();
  for (const auto& v : o["nll"].toArray())
    out += QString("\"%1\",%2,%3\n").arg(v.toObject()["method"].toString()).arg(o["token"].toInt()).arg(v.toObject()["nll"].toDouble(), 0, 'g', 10);
  return out;
}

}  // namespace ls::app
