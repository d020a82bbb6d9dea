// The document pane: the text painted per token by NLL (colour scale below),
// a tooltip per token with its text, position, NLL and the rank of the true token.
#pragma once

#include <QComboBox>
#include <QLabel>
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
};

// Background colour for an NLL: white (0) → yellow (2) → red (≥ 6 nats).
QColor nll_colour(double nll);

}  // namespace ls::app
