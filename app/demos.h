// The Demos menu: one-click scenarios that set up, with the shipped models and
// documents, each figure the README states (a test runs every demo and checks them).
#pragma once

#include <QString>
#include <QStringList>
#include <vector>

namespace ls::app {

struct Demo {
  const char* id;        // stable name (tests, the command line)
  const char* title;     // the menu entry
  const char* model;     // under resources/
  const char* document;  // under resources/
  QStringList methods;   // templates relative to the model (AppState::resolve_template)
  int length_in_l;       // n = this × L
  const char* view;      // the view it opens on
  bool passkey_grid;     // runs the passkey grid at L, 2L, 4L, 8L (5 depths × 4 keys, as the README's tables)
  const char* readme;    // what the README says the demo shows
};

const std::vector<Demo>& demos();
const Demo* find_demo(const QString& id);

}  // namespace ls::app
