// Story: the first view. Mean NLL by position in the window, averaged over
// windows, with the region beyond the training length shaded, beside mean NLL
// against context length; one sentence under the charts says in plain words
// what they show. It fills itself from the cached model runs.
#pragma once

#include <QFrame>
#include <QGraphicsEllipseItem>
#include <QGraphicsTextItem>
#include <QLabel>
#include <QPushButton>
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

  // The walkthrough: three steps over the Story's own numbers (inside L → RoPE beyond L →
  // what each repair changes), each with a callout on a chart. step -1: not shown.
  void start_tour();
  void set_tour_step(int step);
  void end_tour();  // dismissed: emits tour_dismissed
  int tour_step() const { return step_; }
  QString tour_text() const { return tour_text_->text(); }
  // The chart point the callout marks (value coordinates) and the chart it is on (0 left, 1 right).
  QPointF callout_point() const { return callout_at_; }
  int callout_chart() const { return callout_chart_; }

 signals:
  void tour_dismissed();

 protected:
  void resizeEvent(QResizeEvent* e) override;

 private:
  void place_callout();
  QFrame* tour_;
  QLabel* tour_title_;
  QLabel* tour_text_;
  QPushButton* tour_back_;
  QPushButton* tour_next_;
  int step_ = -1;
  QPointF callout_at_;
  int callout_chart_ = 0;
  QString callout_label_;
  QGraphicsTextItem* callout_ = nullptr;      // owned by the chart's scene
  QGraphicsEllipseItem* marker_ = nullptr;
  QChartView* by_position_;
  QChartView* by_length_;
  QLabel* legend_;
  QLabel* sentence_;
  std::vector<PositionCurve> curves() const { return nll_by_position(*state_, bucket()); }
};

}  // namespace ls::app
