// Shared by the chart views: line colours (one per method, stable order), the
// legend line, and clearing a chart before it is refilled.
#pragma once

#include <QColor>
#include <QComboBox>
#include <QGraphicsOpacityEffect>
#include <QLabel>
#include <QLineEdit>
#include <QBoxLayout>
#include <QVBoxLayout>
#include <QtCharts/QChart>
#include <QtCharts/QChartView>
#include <QString>
#include <utility>
#include <vector>

namespace ls::app {

// A label that wraps and never sets a minimum width (long paths, read-outs):
// the window must fit small screens whatever the text.
inline QLabel* fluid(QLabel* l) {
  l->setWordWrap(true);
  l->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Maximum);  // never taller than its text
  l->setMinimumWidth(40);
  return l;
}

// Refills a method chooser with `items`, keeping the user's choice: the same
// text if it is still there, else the same place (a parameter edit renames the
// method but it is still the one being looked at), else the first.
inline void keep_choice(QComboBox* box, const QStringList& items) {
  const QString cur = box->currentText();
  const int at = box->currentIndex();
  box->clear();
  box->addItems(items);
  const int i = box->findText(cur);
  box->setCurrentIndex(i >= 0 ? i : at >= 0 && at < box->count() ? at : 0);
}

// A one-line read-out (hover text) that never widens the window: cut at the pane's edge.
inline QLabel* fluid_line(QLabel* l) {
  l->setWordWrap(false);
  l->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Fixed);
  l->setMinimumWidth(40);
  return l;
}

inline QColor series_colour(int i) {
  static const QColor colours[] = {QColor(31, 119, 180), QColor(214, 39, 40),  QColor(44, 160, 44),
                                   QColor(255, 127, 14), QColor(148, 103, 189), QColor(140, 86, 75),
                                   QColor(227, 119, 194), QColor(23, 190, 207), QColor(188, 189, 34)};
  return colours[i % 9];
}

// A legend line of coloured squares and names (drawn by us, so it renders the
// same on screen, offscreen and in exported images).
inline void set_legend(QLabel* label, const std::vector<std::pair<QString, QColor>>& entries) {
  QString html;
  for (const auto& [name, colour] : entries)
    html += QString("<span style='color:%1'>&#9632;</span>&nbsp;%2&nbsp;&nbsp;&nbsp; ")
                .arg(colour.name(), name.toHtmlEscaped());
  label->setText(html);
}

// A legend line and a chart view below it, in one panel added to `layout` (the
// panel, the chart view's parent, is what an image export shows).
inline QChartView* add_chart_with_legend(QBoxLayout* layout, QLabel*& legend) {
  auto* panel = new QWidget();
  auto* v = new QVBoxLayout(panel);
  v->setContentsMargins(6, 2, 6, 0);
  legend = new QLabel();
  legend->setWordWrap(true);
  v->addWidget(legend);
  auto* view = new QChartView(new QChart());
  view->setRenderHint(QPainter::Antialiasing);
  v->addWidget(view, 1);
  layout->addWidget(panel, 1);
  return view;
}

// Adds the axes and attaches every series to them; the view's own legend line
// names the curves, so the chart's legend is hidden.
inline void attach_axes(QChart* c, QAbstractAxis* x, QAbstractAxis* y) {
  c->addAxis(x, Qt::AlignBottom);
  c->addAxis(y, Qt::AlignLeft);
  c->legend()->setVisible(false);
  for (auto* s : c->series()) {
    s->attachAxis(x);
    s->attachAxis(y);
  }
}

// Stale content: drawn at 40 % opacity until it is current again.
inline void set_dimmed(QWidget* w, bool dimmed) {
  auto* fx = qobject_cast<QGraphicsOpacityEffect*>(w->graphicsEffect());
  if (!fx && !dimmed) return;
  if (!fx) w->setGraphicsEffect(fx = new QGraphicsOpacityEffect(w));
  fx->setOpacity(dimmed ? 0.4 : 1.0);
}

// "256,512,1024" → the whole numbers ≥ lo in it; the other entries go to `bad` as typed.
inline QList<int> parse_lengths(const QString& text, int lo, QStringList* bad = nullptr) {
  QList<int> out;
  for (const auto& p : text.split(',', Qt::SkipEmptyParts)) {
    bool ok = false;
    const int n = p.trimmed().toInt(&ok);
    if (ok && n >= lo) out << n;
    else if (bad && !p.trimmed().isEmpty()) *bad << p.trimmed();
  }
  return out;
}

// Marks a comma-list field whose entries are not all valid: red, with a tooltip naming
// them; returns the message ("" when every entry is valid).
inline QString mark_bad_entries(QLineEdit* field, const QStringList& bad, const QString& accepted, const QString& tip) {
  const QString why = bad.isEmpty() ? QString() : QObject::tr("not accepted: %1 (%2)").arg(bad.join(", "), accepted);
  field->setStyleSheet(bad.isEmpty() ? QString() : "QLineEdit { background: #fde7e9; }");
  field->setToolTip(bad.isEmpty() ? tip : tip + "\n" + why);
  return why;
}

// L/2, L, 2L, 4L, 8L that lie in [lo, hi], as a comma list.
inline QString suggested_lengths(int L, int lo, int hi) {
  QStringList out;
  for (int n : {L / 2, L, 2 * L, 4 * L, 8 * L})
    if (n >= lo && n <= hi) out << QString::number(n);
  return out.join(",");
}

inline void clear_chart(QChart* c) {
  c->removeAllSeries();
  for (auto* a : c->axes()) {
    c->removeAxis(a);
    delete a;
  }
}

}  // namespace ls::app
