// Story: the first view. Mean NLL by position in the window, averaged over
// windows, with the region beyond the training length shaded, beside mean NLL
// against context length; one sentence under the charts says in plain words
// what they show. It fills itself from the cached model runs.
#pragma once

#include <QLabel>
#include <QtCharts/QChartView>

#include "app/views/loss_charts.h"
#include "app/views/view.h"

namespace ls::app {

class StoryView : public View {
  Q_OBJECT
 public:
  explicit StoryView(AppState* s, QWidget* parent = nullptr);
  QString view_name() const override { return "story"; }
  void refresh() override;
  bool has_content() const override { return !curves().empty(); }
  QJsonObject data_json() const override;
  QString data_csv() const override;
  QString sentence() const { return sentence_->text(); }
  int bucket() const;  // tokens per position bucket

 private:
  QChartView* by_position_;
  QChartView* by_length_;
  QLabel* legend_;
  QLabel* sentence_;
  std::vector<PositionCurve> curves() const { return nll_by_position(*state_, bucket()); }
};

}  // namespace ls::app
