// What every view offers the main window: a name, a redraw from AppState, and
// export of what it shows (image via the widget; data as CSV and JSON; its state).
#pragma once

#include <QJsonObject>
#include <QString>
#include <QWidget>
#include <vector>

#include "app/app_state.h"

namespace ls::app {

class View;

// The views the window shows, in tab order: a new view is its own file and one row
// of view_table() (app/views/view_table.cpp).
struct ViewRow {
  const char* name;   // view_name(): sessions, --view, exports
  const char* title;  // the tab's title (translated by the window)
  View* (*make)(AppState* state);
};
const std::vector<ViewRow>& view_table();

class View : public QWidget {
  Q_OBJECT
 public:
  View(AppState* state, QWidget* parent = nullptr) : QWidget(parent), state_(state) {}
  virtual QString view_name() const = 0;      // "frequencies", "relpos", …
  virtual void refresh() = 0;                 // redraw from the state
  virtual bool has_content() const = 0;       // something is plotted
  virtual QJsonObject data_json() const = 0;  // the plotted data
  virtual QString data_csv() const = 0;
  virtual QJsonObject view_state() const { return {}; }
  // What an image export shows: the plot with its legend, not the controls or hover read-outs.
  virtual QWidget* export_widget() { return this; }
  virtual void restore_state(const QJsonObject&) {}

 protected:
  AppState* state_;
};

}  // namespace ls::app
