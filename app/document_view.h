// The document pane: the text painted per token by NLL (colour scale below),
// a tooltip per token with its text, position, NLL and the rank of the true token.
// A retrieval prompt opened from the Retrieval view replaces the document until
// "Back to the document": painted by NLL or by the retrieval head's attention
// from the answer position, the needle in green and the answer underlined.
#pragma once

#include <QComboBox>
#include <QLabel>
#include <QPushButton>
#include <QTextBrowser>
#include <vector>

#include "app/app_state.h"

namespace ls::app {

class DocumentView : public QWidget {
  Q_OBJECT
 public:
  explicit DocumentView(AppState* s, QWidget* parent = nullptr);
  void refresh();
  QString token_tooltip(int token_index) const;  // "" when out of range
  int token_at(int char_pos) const;
  bool showing_prompt() const { return shown_detail_ != nullptr; }

 protected:
  bool eventFilter(QObject* obj, QEvent* e) override;

 private:
  AppState* state_;
  QTextBrowser* text_;
  QLabel* legend_;
  std::vector<int> starts_;  // character offset of each shown token
  const DocumentSnapshot* shown_doc_ = nullptr;
  const PplSnapshot* shown_ppl_ = nullptr;
  QString shown_method_;
  QComboBox* colour_by_ = nullptr;
  QPushButton* back_ = nullptr;
  const RetrievalDetailSnapshot* shown_detail_ = nullptr;  // the prompt on show (null: the document)
  const RetrievalDetailSnapshot* dismissed_ = nullptr;     // the prompt the user left with Back
  void show_prompt(const RetrievalDetailSnapshot& d);
  QString prompt_tooltip(int i) const;
  QString doc_colour_by_;  // "colour by" of the document while a prompt is shown
  void mark_selected();    // outline the selected token
 public:
  bool token_marked() const { return !text_->extraSelections().isEmpty(); }
 private:
};

// Background colour for an attention probability relative to the row's largest: white → blue.
QColor attention_colour(double rel);

// Background colour for an NLL: white (0) → yellow (2) → red (≥ 6 nats).
QColor nll_colour(double nll);

}  // namespace ls::app
