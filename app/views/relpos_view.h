// Relative positions: the matrix r(m, j) a method really applies at the chosen
// length (sampled to at most 1024×1024 cells), masked cells shown as such, hover
// read-out (m, j, r), zoom and pan; a difference mode shows method A - method B.
#pragma once

#include <QCheckBox>
#include <QComboBox>
#include <QLabel>

#include "app/heatmap_widget.h"
#include "app/views/method_choice.h"
#include "app/views/view.h"

namespace ls::app {

class RelposView : public View {
  Q_OBJECT
 public:
  explicit RelposView(AppState* s, QWidget* parent = nullptr);
  QString view_name() const override { return "relpos"; }
  void refresh() override;
  bool has_content() const override { return heat_->rows() > 0; }
  QJsonObject data_json() const override;
  QString data_csv() const override;
  QWidget* export_widget() override;
  QJsonObject view_state() const override;
  void restore_state(const QJsonObject& o) override;
  HeatmapWidget* heatmap() const { return heat_; }

 private:
  MethodChoice* a_;
  MethodChoice* b_;
  QCheckBox* diff_;
  QLabel* readout_;
  HeatmapWidget* heat_;
  int side_ = 0, n_ = 0;
  QString model_seen_;  // the model the choices and read-out belong to
};

}  // namespace ls::app
