// The method panel: the methods to compare (add, remove, presets), the selected
// method's parameters as proper editors generated from the method registry, and
// the context length (slider + field, up to what memory allows).
#pragma once

#include <QComboBox>
#include <QFormLayout>
#include <QListWidget>
#include <QSlider>
#include <QSpinBox>
#include <QWidget>

#include "app/app_state.h"

namespace ls::app {

struct Preset {
  QString label;
  QString spec;  // "{L}", "{L2}", "{L4}" stand for L, L/2, L/4
};
std::vector<Preset> method_presets();
// A method's plain-language explanation and formula, as rich-text tooltip.
QString explain_tooltip(const QString& spec);
QString expand_preset(const QString& spec, int train_len);

class MethodPanel : public QWidget {
  Q_OBJECT
 public:
  explicit MethodPanel(AppState* s, QWidget* parent = nullptr);
  void sync_from_state();  // after a model or session load
  void add_spec(const QString& spec);
  void add_item(const MethodParams& m);
  QListWidget* list() const { return list_; }

 private:
  void remove_current();
  void decorate();  // check box, colour swatch and explanation on every item
  void rebuild_editor();
  void commit();  // list → AppState
  AppState* state_;
  QListWidget* list_;
  QComboBox* add_;
  QComboBox* presets_;
  QWidget* editor_;
  QFormLayout* form_;
  QSlider* length_slider_;
  QSpinBox* length_box_;
};

}  // namespace ls::app
