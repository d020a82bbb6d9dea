// Perplexity: NLL per token along the document (raw and moving average) for each
// selected method overlaid, with a vertical marker at L in every window; hover
// shows the token.
#pragma once

#include <QComboBox>
#include <QLabel>
#include <QSpinBox>
#include <QtCharts/QChartView>

#include "app/views/view.h"

namespace ls::app {

class PerplexityView : public View {
  Q_OBJECT
 public:
  explicit PerplexityView(AppState* s, QWidget* parent = nullptr);
  QString view_name() const override { return "perplexity"; }
  void refresh() override;
  bool has_content() const override { return state_->ppl != nullptr; }
  QJsonObject data_json() const override;
  QString data_csv() const override;
  QWidget* export_widget() override { return chart_->parentWidget(); }
  QJsonObject view_state() const override { return {{"smoothing", smooth_->value()}}; }
  void restore_state(const QJsonObject& o) override { smooth_->setValue(o["smoothing"].toInt(64)); }

 private:
  QChartView* chart_;
  QComboBox* diff_to_;
  QLabel* legend_;
  QSpinBox* smooth_;
  QLabel* summary_;
  QLabel* hover_;
};

}  // namespace ls::app
