#include "app/views/method_choice.h"

#include <QSignalBlocker>

namespace ls::app {

MethodChoice::MethodChoice(bool with_rope, QWidget* parent) : QComboBox(parent), with_rope_(with_rope) {}

void MethodChoice::fill(const AppState& s) {
  const int id = chosen_id(), at = currentIndex();
  QSignalBlocker quiet(this);
  clear();
  for (size_t i = 0; i < s.methods.size(); ++i) addItem(AppState::label(s.methods[i]), s.method_ids()[i]);
  if (with_rope_ && s.id_of(MethodParams{}) < 0) addItem("rope", -1);  // once, whether selected or not
  const int found = at >= 0 ? findData(id) : -1;
  setCurrentIndex(found >= 0 ? found : at >= 0 && at < count() ? at : 0);
}

int MethodChoice::chosen_id() const { return currentIndex() >= 0 ? currentData().toInt() : -1; }

MethodParams MethodChoice::chosen(const AppState& s) const {
  const MethodParams* m = s.method_by_id(chosen_id());
  return m ? *m : MethodParams{};
}

void MethodChoice::choose_id(int id) {
  if (int i = findData(id); i >= 0) setCurrentIndex(i);
}

}  // namespace ls::app
