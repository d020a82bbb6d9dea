#include "app/document_view.h"

#include <QMouseEvent>

#include "app/views/chart_util.h"

#include <QComboBox>
#include <QEvent>
#include <QHBoxLayout>
#include <QLabel>
#include <QHelpEvent>
#include <QTextBlock>
#include <QTextCursor>
#include <QTimer>
#include <QToolTip>
#include <QVBoxLayout>
#include <algorithm>
#include <cmath>

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
  back_ = new QPushButton(tr("Back"));
  back_->setToolTip(tr("leave the retrieval prompt opened from the Retrieval view"));
  back_->hide();
  bar->addWidget(back_);
  lay->addLayout(bar);
  connect(back_, &QPushButton::clicked, this, [this] {
    dismissed_ = state_->retrieval_detail.get();
    shown_detail_ = nullptr;
    shown_doc_ = nullptr;  // repaint the document
    refresh();
  });
  connect(colour_by_, &QComboBox::currentIndexChanged, this, [this] {
    shown_ppl_ = nullptr;  // redraw with the chosen method
    if (shown_detail_) show_prompt(*shown_detail_);
    else refresh();
  });
  text_ = new QTextBrowser();
  text_->setOpenLinks(false);
  text_->setUndoRedoEnabled(false);  // read-only text: no undo history of every token
  text_->viewport()->installEventFilter(this);
  text_->viewport()->setMouseTracking(true);
  lay->addWidget(text_, 1);
  legend_ = fluid(new QLabel());
  lay->addWidget(legend_);
  setAcceptDrops(false);
}

QColor attention_colour(double rel) {
  const double t = std::clamp(rel, 0.0, 1.0);
  return QColor::fromRgbF(1.0 - 0.75 * t, 1.0 - 0.55 * t, 1.0);
}

void DocumentView::show_prompt(const RetrievalDetailSnapshot& d) {
  const bool new_prompt = shown_detail_ != &d;
  if (!shown_detail_) doc_colour_by_ = colour_by_->currentText();  // the document's choice, for Back
  shown_detail_ = &d;
  shown_doc_ = nullptr;
  back_->show();
  const QStringList modes = {tr("NLL under %1").arg(d.label),
                             tr("attention of layer %1 head %2 from the answer").arg(d.head.layer).arg(d.head.head)};
  {
    QSignalBlocker b(colour_by_);
    if (new_prompt || colour_by_->count() != 2 || colour_by_->itemText(0) != modes[0]) {
      colour_by_->clear();
      colour_by_->addItems(modes);
      colour_by_->setCurrentIndex(1);  // where the model looked: the point of opening a prompt
    }
  }
  const bool by_attention = colour_by_->currentIndex() == 1;
  // Scaled to the row's largest weight past BOS (an attention sink would wash out the rest), square root for contrast.
  double row_max = 0;
  for (size_t j = 1; j < d.head.row.size(); ++j) row_max = std::max(row_max, (double)d.head.row[j]);
  text_->clear();
  starts_.clear();
  QTextCursor cur(text_->document());
  cur.beginEditBlock();  // one layout pass for the whole prompt (see refresh)
  const RetrievalPrompt& p = d.prompt;
  for (int i = 0; i < (int)d.pieces.size() && i < kMaxShownTokens; ++i) {
    QTextCharFormat f;
    if (by_attention) {
      if ((size_t)i < d.head.row.size() && row_max > 0)
        f.setBackground(attention_colour(std::sqrt(d.head.row[(size_t)i] / row_max)));
    } else if (i >= 1 && (size_t)(i - 1) < d.nll.size()) {
      f.setBackground(nll_colour(d.nll[(size_t)i - 1]));
    }
    if (i >= p.needle_begin && i < p.needle_end) {
      f.setForeground(QColor(0, 110, 40));
      f.setFontWeight(QFont::Bold);
    }
    if (i >= p.answer_begin) {
      f.setFontUnderline(true);
      f.setFontWeight(QFont::Bold);
    }
    starts_.push_back(cur.position());
    cur.insertText(i == 0 && p.tokens[0] == state_->config.bos_id ? "⟨s⟩" : d.pieces[i], f);
  }
  cur.endEditBlock();
  const QString verdict = d.trial.found ? tr("found") : tr("not found");
  legend_->setText(tr("Retrieval prompt: %1 at %2 tokens, depth %3 — key %4 %5 (log p %6). Needle in green, answer "
                      "underlined. %7 Layer %8 head %9 puts %10% of its attention on the needle.")
                       .arg(d.label)
                       .arg(p.length)
                       .arg(d.depth, 0, 'f', 2)
                       .arg(QString::fromStdString(d.trial.key), verdict)
                       .arg(std::isfinite(d.trial.logprob) ? QString::number(d.trial.logprob, 'f', 2) : QString("–"))
                       .arg(by_attention ? tr("Colour: attention from the last prompt token, white 0 → blue = the largest after BOS (square-root scale).")
                                         : tr("Colour: NLL, white 0, yellow 2, red ≥ 6 nats."))
                       .arg(d.head.layer)
                       .arg(d.head.head)
                       .arg(100.0 * d.head.needle_mass, 0, 'f', 1));
  // Scroll to the needle once the text is laid out.
  if (p.needle_begin < (int)starts_.size()) {
    const int at = starts_[(size_t)p.needle_begin];
    QTimer::singleShot(0, text_, [t = text_, at] {
      QTextCursor c(t->document());
      c.setPosition(std::min(at, t->document()->characterCount() - 1));
      t->setTextCursor(c);
      t->ensureCursorVisible();
    });
  }
}

QString DocumentView::prompt_tooltip(int i) const {
  const RetrievalDetailSnapshot* d = shown_detail_;
  if (!d || i < 0 || i >= (int)d->pieces.size()) return {};
  QString tip = QString("prompt token %1: “%2” (id %3)").arg(i).arg(d->pieces[i].toHtmlEscaped()).arg(d->prompt.tokens[(size_t)i]);
  if (i >= 1 && (size_t)(i - 1) < d->nll.size()) tip += QString("\nNLL %1 nats").arg(d->nll[(size_t)i - 1], 0, 'f', 3);
  if ((size_t)i < d->head.row.size())
    tip += QString("\nattention from the answer (L%1 H%2): %3").arg(d->head.layer).arg(d->head.head).arg(d->head.row[(size_t)i], 0, 'g', 3);
  if (i >= d->prompt.needle_begin && i < d->prompt.needle_end) tip += "\n(needle)";
  if (i >= d->prompt.answer_begin) tip += "\n(answer)";
  return tip;
}

void DocumentView::mark_selected() {
  // The token selected anywhere, outlined without repainting the document.
  QList<QTextEdit::ExtraSelection> marks;
  const int t = state_->selected_token;
  if (!shown_detail_ && t >= 0 && (size_t)t < starts_.size()) {
    QTextEdit::ExtraSelection sel;
    sel.cursor = QTextCursor(text_->document());
    sel.cursor.setPosition(starts_[(size_t)t]);
    sel.cursor.setPosition((size_t)t + 1 < starts_.size() ? starts_[(size_t)t + 1] : text_->document()->characterCount() - 1,
                           QTextCursor::KeepAnchor);
    sel.format.setFontUnderline(true);
    sel.format.setUnderlineColor(QColor(0xd0, 0x30, 0x30));
    sel.format.setUnderlineStyle(QTextCharFormat::SingleUnderline);
    sel.format.setFontWeight(QFont::Bold);
    marks << sel;
  }
  text_->setExtraSelections(marks);
}

void DocumentView::refresh() {
  if (auto det = state_->retrieval_detail; det && det.get() != dismissed_) {
    if (det.get() != shown_detail_) show_prompt(*det);
    return;
  }
  if (shown_detail_) {  // the prompt went away (new model or document): back to the document
    shown_detail_ = nullptr;
    shown_doc_ = nullptr;
  }
  back_->hide();
  auto doc = state_->document;
  auto ppl = state_->ppl;
  {
    QSignalBlocker b(colour_by_);
    QStringList labels;  // the run's methods, as labels
    if (ppl)
      for (const auto& m : ppl->methods) labels << AppState::label(m);
    keep_choice(colour_by_, labels);
    if (!doc_colour_by_.isEmpty()) {  // back from a prompt: the document's own choice again
      if (const int i = colour_by_->findText(doc_colour_by_); i >= 0) colour_by_->setCurrentIndex(i);
      doc_colour_by_.clear();
    }
  }
  if (doc.get() == shown_doc_ && ppl.get() == shown_ppl_ && colour_by_->currentText() == shown_method_) {
    mark_selected();
    return;
  }
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
  // One edit block: the layout runs once at its end. Token by token, each insertion
  // lays its paragraph out again, which is quadratic in a paragraph's length: a book
  // as one line of running text (resources/documents/heldout_books.txt) took minutes.
  cur.beginEditBlock();
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
  cur.endEditBlock();
  legend_->setText(QString("%1 tokens%2. Colour: NLL of each token under %3 — white 0, yellow 2, red ≥ 6 nats; hover a "
                           "token for details.")
                       .arg(doc->tokens.size())
                       .arg(shown < (int)doc->tokens.size() ? QString(" (first %1 shown)").arg(shown) : "")
                       .arg(r ? AppState::label(ppl->methods[by]) : tr("(no run yet)")));
  text_->moveCursor(QTextCursor::Start);
  mark_selected();
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
      tip += QString("\n%1: NLL %2").arg(AppState::label(ppl->methods[k])).arg(ppl->results[k].nll[i - 1], 0, 'f', 3);
  }
  return tip;
}

bool DocumentView::eventFilter(QObject* obj, QEvent* e) {
  if (obj == text_->viewport() && e->type() == QEvent::MouseButtonRelease && !shown_detail_) {
    auto* me = static_cast<QMouseEvent*>(e);
    if (me->button() == Qt::LeftButton && !text_->textCursor().hasSelection()) {  // a click, not a text selection
      const int t = token_at(text_->cursorForPosition(me->pos()).position());
      if (t >= 0) state_->select_token(t);
    }
  }
  if (obj == text_->viewport() && e->type() == QEvent::ToolTip) {
    auto* he = static_cast<QHelpEvent*>(e);
    const int pos = text_->cursorForPosition(he->pos()).position();
    const QString tip = shown_detail_ ? prompt_tooltip(token_at(pos)) : token_tooltip(token_at(pos));
    if (tip.isEmpty()) QToolTip::hideText();
    else QToolTip::showText(he->globalPos(), tip, text_);
    return true;
  }
  return QWidget::eventFilter(obj, e);
}

}  // namespace ls::app
