// Token: the token chosen by a click (document, Perplexity, Story), under every method —
// its NLL and rank, its row of relative positions r(m, j), its attention row at the
// Attention view's layer and head, and the keys just before it joined to it by lines as
// thick as the attention they get.
#pragma once

#include <QComboBox>
#include <QLabel>
#include <QTableWidget>
#include <QtCharts/QChartView>

#include "app/views/method_choice.h"
#include "app/views/view.h"

namespace ls::app {

// The query token and the keys of a short excerpt before it, a line from the query to
// each key, its width and opacity following the attention the key gets.
class TokenLinesWidget : public QWidget {
  Q_OBJECT
 public:
  explicit TokenLinesWidget(QWidget* parent = nullptr) : QWidget(parent) {}
  void set_data(QString query, QStringList keys, std::vector<float> weights, QString note);
  QSize minimumSizeHint() const override { return {220, 160}; }

 protected:
  void paintEvent(QPaintEvent*) override;

 private:
  QString query_, note_;
  QStringList keys_;
  std::vector<float> weights_;
};

class TokenView : public View {
  Q_OBJECT
 public:
  explicit TokenView(AppState* s, QWidget* parent = nullptr);
  QString view_name() const override { return "token"; }
  void refresh() override;
  bool has_content() const override;
  QJsonObject data_json() const override;
  QString data_csv() const override;

 signals:
  void request_attention();  // the selected token's attention rows are needed

 private:
  QLabel* header_;
  QTableWidget* table_;
  QChartView* relpos_;
  QChartView* attention_;
  MethodChoice* lines_method_;
  TokenLinesWidget* lines_;
};

}  // namespace ls::app
