// A chooser of the selected methods (the attention view's method, the relative-
// position view's A and B). Items carry the method's stable id, so the choice
// follows a method through parameter edits; the text is only its label.
#pragma once

#include <QComboBox>

#include "app/app_state.h"

namespace ls::app {

class MethodChoice : public QComboBox {
  Q_OBJECT
 public:
  // with_rope: a last item "rope" (plain RoPE, id -1) to compare against.
  explicit MethodChoice(bool with_rope, QWidget* parent = nullptr);
  // Refills from the selection, keeping the chosen id (else the same place, else the first).
  void fill(const AppState& s);
  int chosen_id() const;  // -1: plain rope (or nothing chosen)
  // The chosen method's parameters: the selected method with that id, else plain RoPE.
  MethodParams chosen(const AppState& s) const;
  void choose_id(int id);
  void choose_last() { setCurrentIndex(count() - 1); }

 private:
  bool with_rope_;
};

}  // namespace ls::app
