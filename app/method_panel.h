// The method panel: the methods to compare (add, remove, presets), the selected
// method's parameters as proper editors generated from the method registry, and
// the context length (slider + field, up to what memory allows).
#pragma once

#include <QComboBox>
#include <QFormLayout>
#include <QListWidget>
#include <QPushButton>
#include <QSlider>
#include <QSpinBox>
#include <QWidget>

#include "app/app_state.h"
#include "core/position/spec.h"

namespace ls::app {

struct Preset {
  QString label;
  QString spec;  // a template: {L}, {L/2}, {L/4}, {n/L} (AppState::resolve_template)
};
std::vector<Preset> method_presets();
// A method's plain-language explanation and formula, as rich-text tooltip.
QString explain_tooltip(const QString& spec);
// The Add menu's template for a method: its required values filled (a window is L/2).
QString starting_template(const MethodInfo& info);
// The length slider's stops: powers of two from 16, multiples of L, and the cap.
std::vector<int> length_stops(int train_len, int cap);

class MethodPanel : public QWidget {
  Q_OBJECT
 public:
  explicit MethodPanel(AppState* s, QWidget* parent = nullptr);
  void sync_from_state();  // after a model or session load
  void add_spec(const QString& spec);  // a template or a spec
  void add_item(const MethodParams& m);
  QListWidget* list() const { return list_; }

 private:
  void remove_current();
  void decorate();  // check box, colour swatch and explanation on every item
  void rebuild_editor();
  void commit();  // list → AppState
  void fill_choices();  // presets and methods this model can run
  int nearest_stop(int n) const;
  AppState* state_;
  QListWidget* list_;
  QComboBox* add_;
  QComboBox* presets_;
  QWidget* editor_;
  QFormLayout* form_;
  QSlider* length_slider_;
  QSpinBox* length_box_;
  QPushButton* remove_;
  std::vector<int> stops_;
};

}  // namespace ls::app
