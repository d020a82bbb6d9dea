#include "app/document_view.h"

#include "app/views/chart_util.h"

#include <QComboBox>
#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QHelpEvent>
#include <QTextBlock>
#include <QTextCursor>
#include <QToolTip>
#include <QVBoxLayout>
#include <algorithm>

namespace ls::app {

constexpr int kMaxShownTokens = 20000;  // painting beyond this is slow and unreadable

QColor nll_colour(double nll) {
  const double t = std::clamp(nll / 6.0, 0.0, 1.0);
  if (t < 1.0 / 3) return QColor::fromRgbF(1.0, 1.0, 1.0 - t * 3 * 0.75);
  const double u = (t - 1.0 / 3) * 1.5;
  return QColor::fromRgbF(1.0, 1.0 - u * 0.8, 0.25 - u * 0.25);
}

DocumentView::DocumentView(AppState* s, QWidget* parent) : QWidget(parent), state_(s) {
  auto* lay = new QVBoxLayout(this);
  auto* bar = new QHBoxLayout();
  colour_by_ = new QComboBox();
  colour_by_->setToolTip(tr("the method whose per-token loss colours the text"));
  bar->addWidget(new QLabel(tr("colour by")));
  bar->addWidget(colour_by_, 1);
  lay->addLayout(bar);
  connect(colour_by_, &QComboBox::currentIndexChanged, this, [this] {
    shown_ppl_ = nullptr;  // redraw with the chosen method
    refresh();
  });
  text_ = new QTextBrowser();
  text_->setOpenLinks(false);
  text_->viewport()->installEventFilter(this);
  text_->viewport()->setMouseTracking(true);
  lay->addWidget(text_, 1);
  legend_ = fluid(new QLabel());
  lay->addWidget(legend_);
  setAcceptDrops(false);
}

void DocumentView::refresh() {
  auto doc = state_->document;
  auto ppl = state_->ppl;
  {
    QSignalBlocker b(colour_by_);
    keep_choice(colour_by_, ppl ? QStringList(ppl->methods.begin(), ppl->methods.end()) : QStringList());
  }
  if (doc.get() == shown_doc_ && ppl.get() == shown_ppl_ && colour_by_->currentText() == shown_method_) return;
  shown_method_ = colour_by_->currentText();
  shown_doc_ = doc.get();
  shown_ppl_ = ppl.get();
  text_->clear();
  starts_.clear();
  if (!doc) {
    legend_->setText(tr("Open a document (File ▸ Open document, or drop a .txt/.md file here)."));
    return;
  }
  const int by = std::max(0, colour_by_->currentIndex());
  const PplResult* r = ppl && by < (int)ppl->results.size() ? &ppl->results[by] : nullptr;
  QTextCursor cur(text_->document());
  QTextCharFormat plain;
  const int shown = std::min<int>((int)doc->pieces.size(), kMaxShownTokens);
  for (int i = 0; i < shown; ++i) {
    QTextCharFormat f = plain;
    // NLL of token i is the prediction made at token i-1 (the first token has none).
    if (r && i >= 1 && (size_t)(i - 1) < r->nll.size()) f.setBackground(nll_colour(r->nll[i - 1]));
    starts_.push_back(cur.position());
    QString piece = doc->pieces[i];
    if (doc->tokens[i] == state_->config.bos_id) {
      if (i > 0) cur.insertBlock();
      piece = "";
      cur.insertText("⟨s⟩", f);
      continue;
    }
    cur.insertText(piece, f);
  }
  legend_->setText(QString("%1 tokens%2. Colour: NLL of each token under %3 — white 0, yellow 2, red ≥ 6 nats; hover a "
                           "token for details.")
                       .arg(doc->tokens.size())
                       .arg(shown < (int)doc->tokens.size() ? QString(" (first %1 shown)").arg(shown) : "")
                       .arg(r ? ppl->methods[by] : tr("(no run yet)")));
  text_->moveCursor(QTextCursor::Start);
}

int DocumentView::token_at(int char_pos) const {
  auto it = std::upper_bound(starts_.begin(), starts_.end(), char_pos);
  return it == starts_.begin() ? -1 : (int)(it - starts_.begin()) - 1;
}

QString DocumentView::token_tooltip(int i) const {
  auto doc = state_->document;
  if (!doc || i < 0 || i >= (int)doc->pieces.size()) return {};
  QString tip = QString("token %1: “%2” (id %3)").arg(i).arg(doc->pieces[i].toHtmlEscaped()).arg(doc->tokens[i]);
  auto ppl = state_->ppl;
  if (ppl && !ppl->results.empty() && i >= 1 && (size_t)(i - 1) < ppl->results[0].nll.size()) {
    const PplResult& r = ppl->results[0];
    tip += QString("\nposition in window %1\nNLL %2 nats\nrank of the true token %3")
               .arg(r.position[i - 1] + 1)
               .arg(r.nll[i - 1], 0, 'f', 3)
               .arg(r.rank.empty() ? -1 : r.rank[i - 1] + 1);
    for (size_t k = 1; k < ppl->results.size(); ++k)
      tip += QString("\n%1: NLL %2").arg(ppl->methods[k]).arg(ppl->results[k].nll[i - 1], 0, 'f', 3);
  }
  return tip;
}

bool DocumentView::eventFilter(QObject* obj, QEvent* e) {
  if (obj == text_->viewport() && e->type() == QEvent::ToolTip) {
    auto* he = static_cast<QHelpEvent*>(e);
    const int pos = text_->cursorForPosition(he->pos()).position();
    const QString tip = token_tooltip(token_at(pos));
    if (tip.isEmpty()) QToolTip::hideText();
    else QToolTip::showText(he->globalPos(), tip, text_);
    return true;
  }
  return QWidget::eventFilter(obj, e);
}

}  // namespace ls::app
