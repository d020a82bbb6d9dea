#include "app/views/retrieval_view.h"

#include <QFormLayout>
#include <QHBoxLayout>
#include <QJsonArray>
#include <QMouseEvent>
#include <QPainter>
#include <QToolTip>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

#include "app/views/chart_util.h"

namespace ls::app {

QColor accuracy_colour(double a) {
  const double t = std::clamp(a, 0.0, 1.0);
  if (t < 0.5) return QColor::fromRgbF(0.86, 0.25 + 1.2 * t, 0.22);  // red → amber
  return QColor::fromRgbF(0.86 - 1.4 * (t - 0.5), 0.85 - 0.2 * (t - 0.5), 0.22 + 0.1 * (t - 0.5));  // → green
}

RetrievalGridWidget::RetrievalGridWidget(AppState* s, QWidget* parent) : QWidget(parent), state_(s) {
  setMouseTracking(true);
  setAutoFillBackground(true);
  QPalette pal = palette();
  pal.setColor(QPalette::Window, Qt::white);
  setPalette(pal);
}

RetrievalGridWidget::Geometry RetrievalGridWidget::geometry() const {
  Geometry g;
  auto snap = state_->retrieval;
  if (!snap || snap->grid.methods.empty()) return g;
  const int n = (int)snap->grid.methods.size();
  const int fh = fontMetrics().height();
  g.top = fh + 10;
  g.cols = std::clamp(width() / 200, 1, n);
  const int rows = (n + g.cols - 1) / g.cols;
  g.block_w = width() / g.cols;
  g.block_h = (height() - g.top) / rows;
  g.label_w = fontMetrics().horizontalAdvance("8192 ›L") + 10;
  g.title_h = fh + 6;
  const int header = fh + 4;
  const int nl = (int)snap->grid.lengths.size(), nd = (int)snap->grid.depths.size();
  g.cell_w = std::max(8, (g.block_w - g.label_w - 12) / std::max(1, nd));
  g.cell_h = std::clamp((g.block_h - g.title_h - header - 8) / std::max(1, nl), 8, 48);
  return g;
}

QRect RetrievalGridWidget::cell_rect(int m, int l, int d) const {
  const Geometry g = geometry();
  const int fh = fontMetrics().height();
  const int bx = (m % std::max(1, g.cols)) * g.block_w, by = g.top + (m / std::max(1, g.cols)) * g.block_h;
  return QRect(bx + g.label_w + d * g.cell_w, by + g.title_h + fh + 4 + l * g.cell_h, g.cell_w - 2, g.cell_h - 2);
}

bool RetrievalGridWidget::cell_at(QPoint p, int& method, int& length, int& depth) const {
  auto snap = state_->retrieval;
  if (!snap) return false;
  const auto& gr = snap->grid;
  for (int m = 0; m < (int)gr.methods.size(); ++m)
    for (int l = 0; l < (int)gr.lengths.size(); ++l)
      for (int d = 0; d < (int)gr.depths.size(); ++d)
        if (cell_rect(m, l, d).contains(p)) {
          method = m, length = l, depth = d;
          return true;
        }
  return false;
}

void RetrievalGridWidget::paintEvent(QPaintEvent*) {
  QPainter p(this);
  p.setRenderHint(QPainter::Antialiasing, false);
  auto snap = state_->retrieval;
  const int fh = fontMetrics().height();
  if (!snap || snap->grid.methods.empty()) {
    p.setPen(Qt::darkGray);
    p.drawText(rect().adjusted(12, 12, -12, -12), Qt::AlignLeft | Qt::AlignTop | Qt::TextWordWrap,
               tr("Choose a task, lengths and depths above and press Run: each selected method gets a depth × length "
                  "grid of retrieval accuracy (green = the key was found)."));
    return;
  }
  const RetrievalGrid& gr = snap->grid;
  const Geometry g = geometry();
  const int L = state_->config.train_len;
  p.setPen(Qt::black);
  p.drawText(QRect(6, 2, width() - 12, fh + 6), Qt::AlignLeft | Qt::AlignVCenter,
             tr("%1: found / trials · rows: prompt length (›L: beyond L = %2) · columns: needle depth · click a cell")
                 .arg(QString(task_name(gr.task)))
                 .arg(L));
  for (int m = 0; m < (int)gr.methods.size(); ++m) {
    const int bx = (m % g.cols) * g.block_w, by = g.top + (m / g.cols) * g.block_h;
    QFont bold = font();
    bold.setBold(true);
    p.setFont(bold);
    const QString name = QString::fromStdString(gr.methods[(size_t)m]);
    const MethodParams& row = snap->row_method((size_t)m);
    QColor c = !snap->nbce_row((size_t)m) && state_->is_shown(row) ? state_->colour_of(row) : QColor(Qt::black);
    p.setPen(c);
    p.drawText(QRect(bx + 6, by, g.block_w - 12, g.title_h), Qt::AlignLeft | Qt::AlignVCenter,
               fontMetrics().elidedText(name, Qt::ElideRight, g.block_w - 12));
    p.setFont(font());
    p.setPen(Qt::darkGray);
    for (int d = 0; d < (int)gr.depths.size(); ++d) {
      QRect r = cell_rect(m, 0, d);
      p.drawText(QRect(r.x(), r.y() - fh - 2, r.width(), fh), Qt::AlignCenter,
                 gr.task == RetrievalTask::LongEvalLines ? tr("cases") : QString::number(gr.depths[(size_t)d], 'g', 2));
    }
    for (int l = 0; l < (int)gr.lengths.size(); ++l) {
      const int len = gr.lengths[(size_t)l];
      QRect r0 = cell_rect(m, l, 0);
      p.setPen(len > L ? QColor(160, 0, 20) : QColor(Qt::black));
      p.drawText(QRect(bx + 2, r0.y(), g.label_w - 8, r0.height()), Qt::AlignRight | Qt::AlignVCenter,
                 QString::number(len) + (len > L ? " ›L" : ""));
      for (int d = 0; d < (int)gr.depths.size(); ++d) {
        const RetrievalCell* cell = gr.cell((size_t)m, (size_t)l, (size_t)d);
        QRect r = cell_rect(m, l, d);
        p.fillRect(r, accuracy_colour(cell->accuracy()));
        p.setPen(cell->accuracy() > 0.25 && cell->accuracy() < 0.75 ? Qt::black : Qt::white);
        if (r.width() > fontMetrics().horizontalAdvance("10/10") && r.height() > fh)
          p.drawText(r, Qt::AlignCenter, QString("%1/%2").arg(cell->found).arg(cell->trials.size()));
      }
    }
    // The training length: a line under the last row inside L.
    int inside = 0;
    while (inside < (int)gr.lengths.size() && gr.lengths[(size_t)inside] <= L) ++inside;
    if (inside > 0 && inside < (int)gr.lengths.size()) {
      QRect a = cell_rect(m, inside, 0), b = cell_rect(m, inside, (int)gr.depths.size() - 1);
      p.setPen(QPen(QColor(160, 0, 20), 2, Qt::DashLine));
      p.drawLine(a.left() - 4, a.top() - 1, b.right() + 4, a.top() - 1);
    }
  }
}

void RetrievalGridWidget::mousePressEvent(QMouseEvent* e) {
  int m, l, d;
  if (e->button() == Qt::LeftButton && cell_at(e->pos(), m, l, d)) emit cell_clicked(m, l, d);
}

void RetrievalGridWidget::mouseMoveEvent(QMouseEvent* e) {
  int m, l, d;
  auto snap = state_->retrieval;
  if (!snap || !cell_at(e->pos(), m, l, d)) {
    QToolTip::hideText();
    return;
  }
  const RetrievalCell* c = snap->grid.cell((size_t)m, (size_t)l, (size_t)d);
  QString tip = QString("%1 · %2 tokens · depth %3\n%4 of %5 found (%6%)")
                    .arg(QString::fromStdString(c->method))
                    .arg(c->length)
                    .arg(c->depth, 0, 'f', 2)
                    .arg(c->found)
                    .arg(c->trials.size())
                    .arg(100.0 * c->accuracy(), 0, 'f', 0);
  if (std::isfinite(c->mean_logprob())) tip += QString("\nmean log p(key) %1").arg(c->mean_logprob(), 0, 'f', 2);
  for (const auto& t : c->trials)
    tip += QString("\n  %1 %2").arg(QString::fromStdString(t.key), t.found ? "✓" : "✗");
  QToolTip::showText(e->globalPosition().toPoint(), tip + "\nclick: open the first trial's prompt", this);
}

namespace {
QList<double> parse_depths(const QString& text, QStringList* bad = nullptr) {
  QList<double> out;
  for (const auto& p : text.split(',', Qt::SkipEmptyParts)) {
    bool ok = false;
    const double d = p.trimmed().toDouble(&ok);
    if (ok && d >= 0 && d <= 1) out << d;
    else if (bad && !p.trimmed().isEmpty()) *bad << p.trimmed();
  }
  return out;
}
}  // namespace

RetrievalView::RetrievalView(AppState* s, QWidget* parent) : View(s, parent) {
  auto* lay = new QVBoxLayout(this);
  auto* bar = new QHBoxLayout();
  task_ = new QComboBox();
  task_->addItem(tr("Passkey"), (int)RetrievalTask::Passkey);
  task_->addItem(tr("Needle in the document"), (int)RetrievalTask::Needle);
  task_->addItem(tr("LongEval lines"), (int)RetrievalTask::LongEvalLines);
  task_->setToolTip(tr("Passkey: a 5-digit key in repeated filler. Needle: the passkey sentence hidden in the open "
                       "document. LongEval lines: LongChat's register of numbered lines, in the model's own format."));
  lengths_ = new QLineEdit();
  lengths_->setToolTip(tr("prompt lengths in tokens, comma-separated"));
  depths_ = new QLineEdit("0,0.25,0.5,0.75,1");
  depths_->setToolTip(tr("where the needle sits in the haystack, 0 (start) … 1 (end)"));
  trials_ = new QSpinBox();
  trials_->setRange(1, 50);
  trials_->setValue(3);
  trials_->setToolTip(tr("trials per cell (different keys; every method sees the same prompts)"));
  nbce_ = new QCheckBox(tr("NBCE"));
  nbce_->setToolTip(tr("add a row for NBCE (the first selected method, the context cut into chunks)"));
  chunks_ = new QSpinBox();
  chunks_->setRange(1, 16);
  chunks_->setValue(4);
  chunks_->setToolTip(tr("NBCE chunks"));
  run_ = new QPushButton(tr("Run"));
  // Two rows, so that the fields show their whole text at 1280×720.
  bar->addWidget(new QLabel(tr("lengths")));
  bar->addWidget(lengths_, 3);
  bar->addWidget(new QLabel(tr("depths")));
  bar->addWidget(depths_, 2);
  auto* bar2 = new QHBoxLayout();
  bar2->addWidget(task_);
  bar2->addWidget(new QLabel(tr("trials")));
  bar2->addWidget(trials_);
  bar2->addWidget(nbce_);
  bar2->addWidget(chunks_);
  bar2->addStretch(1);
  bar2->addWidget(run_);
  lay->addLayout(bar);
  lay->addLayout(bar2);
  grid_ = new RetrievalGridWidget(s);
  lay->addWidget(grid_, 1);
  info_ = fluid(new QLabel());
  info_->setWordWrap(true);
  lay->addWidget(info_);
  connect(run_, &QPushButton::clicked, this, &RetrievalView::request);
  connect(lengths_, &QLineEdit::textChanged, this, [this] {
    QStringList bad;
    parse_lengths(lengths_->text(), 1, &bad);
    mark_bad_entries(lengths_, bad, tr("whole numbers of tokens"), tr("prompt lengths in tokens, comma-separated"));
  });
  connect(depths_, &QLineEdit::textChanged, this, [this] {
    QStringList bad;
    parse_depths(depths_->text(), &bad);
    mark_bad_entries(depths_, bad, tr("numbers in [0, 1]"), tr("where the needle sits in the haystack, 0 (start) … 1 (end)"));
  });
  connect(grid_, &RetrievalGridWidget::cell_clicked, this, &RetrievalView::open_cell);
  connect(task_, &QComboBox::currentIndexChanged, this, [this] { depths_->setEnabled(task() != RetrievalTask::LongEvalLines); });
}

void RetrievalView::set_passkey_grid(const QString& lengths, const QString& depths, int trials) {
  task_->setCurrentIndex(task_->findData((int)RetrievalTask::Passkey));
  lengths_->setText(lengths);
  depths_->setText(depths);
  trials_->setValue(trials);
  nbce_->setChecked(false);
}

RetrievalTask RetrievalView::task() const { return (RetrievalTask)task_->currentData().toInt(); }

void RetrievalView::suggest_lengths() {
  lengths_->setText(suggested_lengths(state_->config.train_len, 160, state_->max_length));  // a prompt needs ~160 tokens
}

QList<int> RetrievalView::lengths() const { return parse_lengths(lengths_->text(), 1); }


QList<double> RetrievalView::depths() const { return parse_depths(depths_->text()); }

QString RetrievalView::fields_problem() const {
  QStringList bad_lengths, bad_depths, parts;
  parse_lengths(lengths_->text(), 1, &bad_lengths);
  parse_depths(depths_->text(), &bad_depths);
  if (!bad_lengths.isEmpty()) parts << tr("prompt lengths not accepted: %1 (whole numbers of tokens)").arg(bad_lengths.join(", "));
  if (!bad_depths.isEmpty() && task() != RetrievalTask::LongEvalLines)
    parts << tr("depths not accepted: %1 (numbers in [0, 1])").arg(bad_depths.join(", "));
  return parts.join("; ");
}

void RetrievalView::refresh() {
  if (lengths_->text().isEmpty()) suggest_lengths();
  grid_->update();
  auto snap = state_->retrieval;
  if (!snap) {
    info_->setText(tr("Retrieval asks whether the model can *use* a far token, not only predict the next one: the key "
                      "is scored teacher-forced (found = every answer token is the model's top choice, as greedy "
                      "decoding would give it)."));
    return;
  }
  QString text = tr("Accuracy per method, inside L → beyond L:");
  const auto& gr = snap->grid;
  const int L = state_->config.train_len;
  for (size_t m = 0; m < gr.methods.size(); ++m) {
    int fi = 0, ti = 0, fo = 0, to = 0;
    for (size_t l = 0; l < gr.lengths.size(); ++l)
      for (size_t d = 0; d < gr.depths.size(); ++d) {
        const RetrievalCell* c = gr.cell(m, l, d);
        (gr.lengths[l] <= L ? fi : fo) += c->found;
        (gr.lengths[l] <= L ? ti : to) += (int)c->trials.size();
      }
    text += QString(" %1 %2 → %3;").arg(QString::fromStdString(gr.methods[m]))
                .arg(ti ? QString("%1%").arg(100.0 * fi / ti, 0, 'f', 0) : QString("–"))
                .arg(to ? QString("%1%").arg(100.0 * fo / to, 0, 'f', 0) : QString("–"));
  }
  if (auto det = state_->retrieval_detail)
    text += tr(" Open in the document pane: %1 at %2 tokens, depth %3.").arg(det->label).arg(det->length).arg(det->depth, 0, 'f', 2);
  info_->setText(text);
}

QJsonObject RetrievalView::view_state() const {
  return {{"task", task_name(task())}, {"lengths", lengths_->text()}, {"depths", depths_->text()}, {"trials", trials_->value()},
          {"nbce", nbce_->isChecked()}, {"chunks", chunks_->value()}};
}

void RetrievalView::restore_state(const QJsonObject& o) {
  for (int i = 0; o.contains("task") && i < task_->count(); ++i)  // session files name the task
    if (o["task"].toString() == task_name((RetrievalTask)task_->itemData(i).toInt())) task_->setCurrentIndex(i);
  if (o.contains("lengths")) lengths_->setText(o["lengths"].toString());
  if (o.contains("depths")) depths_->setText(o["depths"].toString());
  if (o.contains("trials")) trials_->setValue(o["trials"].toInt());
  if (o.contains("nbce")) nbce_->setChecked(o["nbce"].toBool());
  if (o.contains("chunks")) chunks_->setValue(o["chunks"].toInt());
}

QJsonObject RetrievalView::data_json() const {
  auto snap = state_->retrieval;
  if (!snap) return {{"view", view_name()}};
  QJsonArray cells;
  for (const auto& c : snap->grid.cells) {
    QJsonArray trials;
    for (const auto& t : c.trials)
      trials << QJsonObject{{"key", QString::fromStdString(t.key)}, {"found", t.found},
                            {"logprob", std::isfinite(t.logprob) ? QJsonValue(t.logprob) : QJsonValue()}};
    cells << QJsonObject{{"method", QString::fromStdString(c.method)}, {"length", c.length}, {"depth", c.depth},
                         {"found", c.found}, {"trials", (int)c.trials.size()}, {"accuracy", c.accuracy()},
                         {"results", trials}};
  }
  return {{"view", view_name()}, {"task", task_name(snap->grid.task)}, {"train_len", state_->config.train_len},
          {"cells", cells}};
}

QString RetrievalView::data_csv() const {
  auto snap = state_->retrieval;
  if (!snap) return {};
  QString out = "method,length,depth,found,trials,accuracy,mean_logprob\n";
  for (const auto& c : snap->grid.cells) {
    const double lp = c.mean_logprob();
    out += QString("\"%1\",%2,%3,%4,%5,%6,%7\n")
               .arg(QString::fromStdString(c.method))
               .arg(c.length)
               .arg(c.depth)
               .arg(c.found)
               .arg(c.trials.size())
               .arg(c.accuracy())
               .arg(std::isfinite(lp) ? QString::number(lp, 'g', 8) : QString());
  }
  return out;
}

}  // namespace ls::app
