// Sweep: mean NLL vs context length per method, with L marked; and NLL by
// position bucket (inside vs beyond L).
#pragma once

#include <QLineEdit>
#include <QPushButton>
#include <QLabel>
#include <QtCharts/QChartView>

#include "app/views/view.h"

namespace ls::app {

class SweepView : public View {
  Q_OBJECT
 public:
  explicit SweepView(AppState* s, QWidget* parent = nullptr);
  QString view_name() const override { return "sweep"; }
  void refresh() override;
  bool has_content() const override { return state_->sweep != nullptr; }
  QJsonObject data_json() const override;
  QString data_csv() const override;
  QWidget* export_widget() override { return chart_->parentWidget(); }
  QJsonObject view_state() const override { return {{"lengths", lengths_->text()}}; }
  void restore_state(const QJsonObject& o) override {
    if (o.contains("lengths")) lengths_->setText(o["lengths"].toString());
  }
  QList<int> lengths() const;
  QString lengths_problem() const;  // "" or which entries are not lengths
  void suggest_lengths();

 signals:
  void request();

 private:
  QLineEdit* lengths_;
  QPushButton* run_;
  QChartView* chart_;
  QLabel* legend_;
};

}  // namespace ls::app
