// A saved session (File ▸ Save session): the model, the document, the methods, the
// length, the layer and head, each view's state and the view shown. Read and written
// here only; the window applies it.
#pragma once

#include <QJsonObject>
#include <QString>
#include <QStringList>

#include "core/util/status.h"

namespace ls::app {

struct Session {
  QString model;
  int train_len_override = 0;
  QString document;
  QStringList methods;  // method specs
  QStringList templates;  // per method: the template it follows ("" : its own values)
  QStringList hidden;   // specs of the methods whose check box is off
  int length = 4096;
  int layer = 0, head = 0;
  QString current_view = "story";
  QJsonObject views;  // view name → its state

  QByteArray to_json() const;
  // A session from a file's bytes: not JSON, or JSON without "longscope_session", is an error.
  static Result<Session> from_json(const QByteArray& bytes, const QString& path);
};

}  // namespace ls::app
