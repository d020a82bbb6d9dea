// Attention: the probabilities of one layer and head on the current document at
// the current length (pooled past 1024 tokens; zoom for detail), log or linear
// colour scale, a grid of per-head mini-maps to pick a head, and the entropy and
// mean attention distance of every head.
#pragma once

#include <QCheckBox>
#include <QPushButton>
#include <QComboBox>
#include <QGridLayout>
#include <QLabel>
#include <QSpinBox>
#include <QTableWidget>

#include "app/heatmap_widget.h"
#include "app/views/method_choice.h"
#include "app/views/view.h"

namespace ls::app {

class AttentionView : public View {
  Q_OBJECT
 public:
  explicit AttentionView(AppState* s, QWidget* parent = nullptr);
  QString view_name() const override { return "attention"; }
  void refresh() override;
  bool has_content() const override { return heat_->rows() > 0; }
  QJsonObject data_json() const override;
  QString data_csv() const override;
  QWidget* export_widget() override;
  QJsonObject view_state() const override;
  void restore_state(const QJsonObject& o) override;

 signals:
  void request();  // layer, head or method changed: the main window starts a run
 public:
  bool stale() const { return stale_; }  // the map shown is not the one the controls ask for
  // What the view compares: one method, every method side by side, or A − B.
  enum class Compare { One, Every, Difference };
  Compare compare() const { return (Compare)compare_->currentIndex(); }
  void set_compare(Compare c) { compare_->setCurrentIndex((int)c); }
  int multiples() const { return (int)multiples_.size(); }  // small multiples drawn
 signals:
  void request_detail(int q0, int k0, int size);  // full resolution of a block of a pooled map
  void request_compare();  // every method's map of this layer and head is needed

 private:
  MethodChoice* method_;
  QSpinBox* layer_;
  QSpinBox* head_;
  QCheckBox* log_;
  QPushButton* detail_;
  QPushButton* overview_;
  HeatmapWidget* heat_;
  QLabel* readout_;
  QGridLayout* grid_;
  QTableWidget* table_;
  std::vector<QLabel*> minimaps_;
  bool stale_ = false;
  QComboBox* compare_;
  MethodChoice* method_b_;
  QWidget* multiples_box_;
  QGridLayout* multiples_grid_;
  std::vector<HeatmapWidget*> multiples_;
  bool refresh_compare();  // small multiples or A − B from the compare snapshot; false: not ready
};

}  // namespace ls::app
